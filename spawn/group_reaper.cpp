#include "group_reaper.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace spawnpool::detail {

namespace {

// The reaper runs in a fork of a process before MPI_Init: system calls only, and _exit.

/// What the member tells its reaper once it has joined its group.
struct GroupNote {
  int rank = 0;
  long leader_pid = 0;
};

/// The member's end of the note pipe; -1 without a reaper.
int g_note_write_end = -1;
/// The reaper's member, for forwarding signals.
pid_t g_member = 0;

void forward_to_member(int signal_number) {
  if (g_member > 0) kill(g_member, signal_number);
}

void sleep_ms(int ms) {
  timespec pause{ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

bool env_is(const char* name, const char* value) {
  const char* text = std::getenv(name);
  return text != nullptr && std::strcmp(text, value) == 0;
}

/// Spawned by hydra (PMI_SPAWNED, and MPI_LOCALNRANKS: hydra's own) into a world of more than one.
bool hydra_group_member() {
  const char* size = std::getenv("PMI_SIZE");
  return env_is("PMI_SPAWNED", "1") && std::getenv("MPI_LOCALNRANKS") != nullptr &&
         std::getenv("PMI_FD") != nullptr && size != nullptr && std::atoi(size) > 1;
}

/// The threads of this process (a fork keeps only the calling one in the child).
int thread_count() {
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return -1;
  int count = 0;
  while (const dirent* entry = readdir(tasks)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(tasks);
  return count;
}

[[noreturn]] void run_reaper(pid_t member, int note_fd) {
  prctl(PR_SET_NAME, "spawnpool-reaper", 0, 0, 0);
  g_member = member;
  struct sigaction forward {};
  sigemptyset(&forward.sa_mask);
  forward.sa_handler = forward_to_member;
  forward.sa_flags = SA_RESTART;
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    sigaction(signal_number, &forward, nullptr);
  }
  signal(SIGUSR1, SIG_IGN);  // hydra's notice that a process of the group ended abnormally
  signal(SIGUSR2, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  // hydra's PMI socket stays with the member (and its launcher guard): its end is theirs.
  if (const char* pmi_fd = std::getenv("PMI_FD")) close(std::atoi(pmi_fd));
  int status = 0;
  while (waitpid(member, &status, 0) < 0) {
    if (errno != EINTR) _exit(1);
  }
  if (!WIFSIGNALED(status)) _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
  GroupNote note;
  const bool joined = read(note_fd, &note, sizeof note) == static_cast<ssize_t>(sizeof note);
  if (!joined) {
    // Killed before it joined its group (or rank 0, which sends no note): nobody to tell. Die of
    // the same signal, so that the start watch and hydra report what happened.
    signal(WTERMSIG(status), SIG_DFL);
    raise(WTERMSIG(status));
    _exit(128 + WTERMSIG(status));
  }
  if (note.rank > 0 && note.leader_pid > 0) {
    union sigval value;
    value.sival_int = note.rank;
    if (sigqueue(static_cast<pid_t>(note.leader_pid), SIGUSR2, value) == 0) {
      for (int waited = 0; waited < kLeaderReportWaitMs; waited += 10) {
        if (kill(static_cast<pid_t>(note.leader_pid), 0) != 0 && errno == ESRCH) break;
        sleep_ms(10);
      }
    }
  }
  _exit(128 + WTERMSIG(status));
}

}  // namespace

void start_group_reaper() noexcept {
  if (!hydra_group_member() || thread_count() != 1) return;
  int note[2] = {-1, -1};
  if (pipe2(note, O_CLOEXEC) != 0) return;
  const pid_t reaper = getpid();
  const pid_t member = fork();
  if (member < 0) {
    close(note[0]);
    close(note[1]);
    return;
  }
  if (member > 0) {
    close(note[1]);
    fcntl(note[0], F_SETFL, O_NONBLOCK);
    run_reaper(member, note[0]);
  }
  close(note[0]);
  g_note_write_end = note[1];
  setpgid(0, 0);  // a group of its own, as hydra gave the reaper: what its tasks start is in it
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != reaper) _exit(1);  // the reaper is gone already
}

void tell_group_reaper(int rank, long leader_pid) noexcept {
  if (g_note_write_end < 0) return;
  const GroupNote note{rank, leader_pid};
  (void)!write(g_note_write_end, &note, sizeof note);
  close(g_note_write_end);
  g_note_write_end = -1;
}

}  // namespace spawnpool::detail
