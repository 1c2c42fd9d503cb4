#include "mpi_program_launcher.hpp"

#include <mpi.h>

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace spawnpool::detail {

namespace {

// ---- The launcher: runs before the program's static initializers, in a process that has no
// ---- threads. Plain system calls and C library only (and MPI_Init/MPI_Finalize in the fallback).

long now_ms() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<long>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

int open_pidfd(long pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
#else
  (void)pid;
  return -1;
#endif
}

bool write_all(int fd, const char* data, std::size_t length) {
  while (length > 0) {
    const ssize_t n = write(fd, data, length);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    length -= static_cast<std::size_t>(n);
  }
  return true;
}

/// write_all for a socket whose peer may be gone: an error, never SIGPIPE.
bool send_all(int fd, const char* data, std::size_t length) {
  while (length > 0) {
    const ssize_t n = send(fd, data, length, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    length -= static_cast<std::size_t>(n);
  }
  return true;
}

/// Writes `text` to <directory>/<name>, whole or not at all (a rename).
void write_file(const char* directory, const char* name, const char* text) {
  char partial[PATH_MAX], final_name[PATH_MAX];
  if (std::snprintf(partial, sizeof partial, "%s/.%s.partial", directory, name) >=
          static_cast<int>(sizeof partial) ||
      std::snprintf(final_name, sizeof final_name, "%s/%s", directory, name) >=
          static_cast<int>(sizeof final_name)) {
    return;
  }
  const int fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  const bool written = write_all(fd, text, std::strlen(text));
  close(fd);
  if (!written || rename(partial, final_name) != 0) unlink(partial);
}

int open_output(const char* directory, const char* rank, const char* suffix) {
  char path[PATH_MAX];
  std::snprintf(path, sizeof path, "%s/%s.%s", directory, rank, suffix);
  return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

/// This rank's number in the spawned job (MPICH's PMI_RANK, Slurm's SLURM_PROCID), as text.
const char* own_rank() {
  for (const char* name : {"PMI_RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return value;
  }
  return "0";
}

bool same_host(const char* host) {
  char name[256] = {};
  return gethostname(name, sizeof name - 1) == 0 && std::strcmp(name, host) == 0;
}

/// What the program said to the process manager through the relay.
enum class MpiState { never_spoke = 0, inside = 1, finalized = 2 };

/// The program's side of the PMI relay, line by line (PMI-1 commands end with '\n'): forwarded to
/// hydra, except `cmd=abort`, which the launcher handles (hydra would end the whole job, the
/// pool's manager and workers included).
struct ProgramLines {
  char line[8192];
  std::size_t length = 0;
  MpiState state = MpiState::never_spoke;
  bool aborted = false;
  int abort_code = 0;

  void take(const char* data, std::size_t n, int hydra_fd) {
    if (state == MpiState::never_spoke) state = MpiState::inside;
    for (std::size_t i = 0; i < n; ++i) {
      line[length++] = data[i];
      if (data[i] == '\n' || length == sizeof line) finish_line(hydra_fd);
    }
  }

 private:
  void finish_line(int hydra_fd) {
    static constexpr char kAbort[] = "cmd=abort";
    static constexpr char kFinalize[] = "cmd=finalize";
    if (length >= sizeof kAbort - 1 && std::memcmp(line, kAbort, sizeof kAbort - 1) == 0) {
      aborted = true;
      const char* code = static_cast<const char*>(memmem(line, length, "exitcode=", 9));
      if (code != nullptr) abort_code = std::atoi(code + 9);
    } else {
      if (length >= sizeof kFinalize - 1 && std::memcmp(line, kFinalize, sizeof kFinalize - 1) == 0) {
        state = MpiState::finalized;
      }
      send_all(hydra_fd, line, length);
    }
    length = 0;
  }
};

/// Says `cmd=finalize` to hydra for a program that ended without (so that hydra sees an orderly
/// end and signals no one, as the launcher guard does for workers) and waits for the answer,
/// at most 2 s.
void finalize_in_its_place(int hydra_fd) {
  static constexpr char kFinalize[] = "cmd=finalize\n";
  if (!send_all(hydra_fd, kFinalize, sizeof kFinalize - 1)) return;
  char answer[4096];
  std::size_t length = 0;
  const long deadline = now_ms() + 2000;
  while (now_ms() < deadline) {
    pollfd fd{hydra_fd, POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(deadline - now_ms())) <= 0) continue;
    const ssize_t n = read(hydra_fd, answer + length, sizeof answer - 1 - length);
    if (n <= 0) return;
    length += static_cast<std::size_t>(n);
    answer[length] = '\0';
    if (std::strstr(answer, "finalize_ack") != nullptr) return;
    if (length > sizeof answer / 2) {  // other answers first: keep the tail
      std::memmove(answer, answer + length - 64, 64);
      length = 64;
    }
  }
}

std::atomic<pid_t> g_program{0};
volatile sig_atomic_t g_ended_by_worker = 0;
static_assert(std::atomic<pid_t>::is_always_lock_free, "the signal handler needs a lock-free pid");

/// SIGUSR2 (from the spawning worker: another rank failed) kills the program's group; the
/// termination signals hydra or a user send are passed on to it.
extern "C" void pass_on_to_program(int sig) {
  const int saved_errno = errno;
  const pid_t program = g_program.load();
  if (sig == SIGUSR2) g_ended_by_worker = 1;
  if (program > 0) {
    killpg(program, sig == SIGUSR2 ? SIGKILL : sig);
    if (sig == SIGUSR2) kill(program, SIGKILL);
  }
  errno = saved_errno;
}

constexpr int kPassedOnSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

[[noreturn]] void launch(const char* directory, int argc, char** argv) {
  // argv: watched pid, watched host, timeout ms, working directory or "-", n, n x NAME=VALUE,
  // program, args.
  if (argc < 6) _exit(0);
  const long watched_pid = std::atol(argv[0]);
  const char* watched_host = argv[1];
  const long timeout_ms = std::atol(argv[2]);
  const char* working_directory = std::strcmp(argv[3], "-") == 0 ? nullptr : argv[3];
  const int env_count = std::atoi(argv[4]);
  if (env_count < 0 || 5 + env_count >= argc) _exit(0);
  char** env = argv + 5;
  char** program_argv = argv + 5 + env_count;
  const char* rank = own_rank();
  const pid_t launcher = getpid();
  prctl(PR_SET_NAME, "spawnpool-mpil", 0, 0, 0);
  {
    char name[64], pid_text[32];
    std::snprintf(name, sizeof name, "%s.pid", rank);
    std::snprintf(pid_text, sizeof pid_text, "%ld\n", static_cast<long>(launcher));
    write_file(directory, name, pid_text);
  }

  // The PMI socket hydra gave (MPICH's simple PMI): relayed through a socket pair.
  const char* pmi_fd_text = std::getenv("PMI_FD");
  const int pmi_fd = pmi_fd_text != nullptr ? std::atoi(pmi_fd_text) : -1;
  int relay[2] = {-1, -1};
  if (pmi_fd >= 0 && fcntl(pmi_fd, F_GETFD) >= 0) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, relay) != 0) relay[0] = relay[1] = -1;
  }
  const int out_fd = open_output(directory, rank, "out");
  const int err_fd = open_output(directory, rank, "err");
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int exec_failure[2] = {-1, -1};
  if (pipe2(exec_failure, O_CLOEXEC) != 0) exec_failure[0] = exec_failure[1] = -1;

  // Signals are held until the program's pid is known, and the program starts with the old mask.
  sigset_t passed_on, previous_mask;
  sigemptyset(&passed_on);
  for (int sig : kPassedOnSignals) sigaddset(&passed_on, sig);
  sigprocmask(SIG_BLOCK, &passed_on, &previous_mask);
  struct sigaction handler {};
  handler.sa_handler = pass_on_to_program;
  sigemptyset(&handler.sa_mask);
  for (int sig : kPassedOnSignals) sigaction(sig, &handler, nullptr);

  const pid_t child = fork();
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != launcher) _exit(128 + SIGKILL);
    setpgid(0, 0);
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int sig : kPassedOnSignals) sigaction(sig, &default_action, nullptr);
    sigprocmask(SIG_SETMASK, &previous_mask, nullptr);
    if (null_fd >= 0) dup2(null_fd, 0);
    if (out_fd >= 0) dup2(out_fd, 1);
    if (err_fd >= 0) dup2(err_fd, 2);
    if (relay[1] >= 0) dup2(relay[1], pmi_fd);  // the program's PMI_FD is now the relay's end
    int error = 0;
    for (int i = 0; i < env_count && error == 0; ++i) {
      if (putenv(env[i]) != 0) error = errno;
    }
    if (error == 0 && working_directory != nullptr && chdir(working_directory) != 0) error = errno;
    if (error == 0) {
      execvp(program_argv[0], program_argv);
      error = errno;
    }
    if (exec_failure[1] >= 0) (void)!write(exec_failure[1], &error, sizeof error);
    _exit(127);
  }
  if (child > 0) {
    setpgid(child, child);  // also here: no signal to its group may miss it
    g_program.store(child);
  }
  sigprocmask(SIG_SETMASK, &previous_mask, nullptr);

  int exec_error = 0;
  bool timed_out = false;
  static ProgramLines program_lines;  // static: 8 KiB off the stack
  int status = 0;
  if (child < 0) {
    exec_error = errno;
  } else {
    for (int fd : {relay[1], out_fd, err_fd, null_fd, exec_failure[1]}) {
      if (fd >= 0) close(fd);
    }
    if (exec_failure[0] >= 0) {
      // 0 bytes once the exec succeeded (the write end closes on exec).
      while (read(exec_failure[0], &exec_error, sizeof exec_error) < 0 && errno == EINTR) {
      }
      close(exec_failure[0]);
    }
    const int child_fd = open_pidfd(child);
    const int watched_fd = same_host(watched_host) ? open_pidfd(watched_pid) : -1;
    const long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : -1;
    int hydra_side = relay[0] >= 0 ? pmi_fd : -1;
    int program_side = relay[0];
    bool exited = false;
    char buffer[4096];
    while (!exited) {
      pollfd fds[4];
      int count = 0;
      const int hydra_at = hydra_side >= 0 ? count++ : -1;
      if (hydra_at >= 0) fds[hydra_at] = {hydra_side, POLLIN, 0};
      const int program_at = program_side >= 0 ? count++ : -1;
      if (program_at >= 0) fds[program_at] = {program_side, POLLIN, 0};
      const int child_at = child_fd >= 0 ? count++ : -1;
      if (child_at >= 0) fds[child_at] = {child_fd, POLLIN, 0};
      const int watched_at = watched_fd >= 0 ? count++ : -1;
      if (watched_at >= 0) fds[watched_at] = {watched_fd, POLLIN, 0};
      int wait_ms = child_fd >= 0 ? -1 : 100;  // no pidfd: look with waitpid
      if (deadline >= 0 && !timed_out) {
        const long left = deadline - now_ms();
        wait_ms = static_cast<int>(left < 0 ? 0 : (wait_ms < 0 || left < wait_ms ? left : wait_ms));
      }
      const int ready = poll(fds, static_cast<nfds_t>(count), wait_ms);
      if (ready < 0 && errno != EINTR) break;
      if (ready < 0) continue;  // a signal: passed on by its handler
      if (hydra_at >= 0 && fds[hydra_at].revents != 0) {
        const ssize_t n = read(hydra_side, buffer, sizeof buffer);
        if (n > 0 && program_side >= 0) {
          send_all(program_side, buffer, static_cast<std::size_t>(n));
        } else if (n == 0 || (n < 0 && errno != EINTR)) {
          hydra_side = -1;  // hydra closed its side: nothing more to relay that way
        }
      }
      if (program_at >= 0 && fds[program_at].revents != 0) {
        const ssize_t n = read(program_side, buffer, sizeof buffer);
        if (n > 0) {
          program_lines.take(buffer, static_cast<std::size_t>(n), pmi_fd);
          if (program_lines.aborted) {
            // MPI_Abort waits to be killed by hydra: ended here instead, as one failed rank.
            killpg(child, SIGKILL);
            kill(child, SIGKILL);
          }
        } else if (n == 0 || (n < 0 && errno != EINTR)) {
          close(program_side);
          program_side = -1;
        }
      }
      if (watched_at >= 0 && fds[watched_at].revents != 0) {
        // The worker that spawned this rank is gone: nobody waits for the report, and nobody
        // removes the directory but the last launcher.
        killpg(child, SIGKILL);
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        for (const char* suffix : {"out", "err", "pid"}) {
          char path[PATH_MAX];
          std::snprintf(path, sizeof path, "%s/%s.%s", directory, rank, suffix);
          unlink(path);
        }
        rmdir(directory);  // fails while other ranks' files are there
        if (program_lines.state == MpiState::inside) finalize_in_its_place(pmi_fd);
        _exit(0);
      }
      if (deadline >= 0 && !timed_out && now_ms() >= deadline) {
        timed_out = true;
        killpg(child, SIGKILL);  // the program leads its own group
        kill(child, SIGKILL);
      }
      if (child_fd < 0 || (child_at >= 0 && fds[child_at].revents != 0)) {
        exited = waitpid(child, &status, child_fd >= 0 ? 0 : WNOHANG) == child;
      }
    }
    g_program.store(0);
    // What the program wrote last (its PMI finalize) still goes to hydra.
    while (program_side >= 0) {
      const ssize_t n = recv(program_side, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n <= 0) break;
      program_lines.take(buffer, static_cast<std::size_t>(n), pmi_fd);
    }
    if (program_side >= 0) close(program_side);
  }
  const bool relayed = relay[0] >= 0;

  char report[PATH_MAX + 512];
  int exit_code = 0, sig = 0;
  if (exec_error != 0) {
    exit_code = 127;
  } else if (program_lines.aborted) {
    exit_code = program_lines.abort_code;
  } else if (WIFSIGNALED(status)) {
    sig = WTERMSIG(status);
    exit_code = 128 + sig;
  } else {
    exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  }
  const int mpi_state = relayed ? static_cast<int>(program_lines.state)
                                : static_cast<int>(MpiState::finalized);  // unknown: no claim
  int length = std::snprintf(report, sizeof report, "%d %d %d %d\n", exit_code, sig,
                             timed_out ? 1 : 0, mpi_state);
  const auto note = [&](const char* format, const char* a, const char* b, const char* c) {
    if (length > 0 && length < static_cast<int>(sizeof report)) {
      length += std::snprintf(report + length, sizeof report - static_cast<std::size_t>(length),
                              format, a, b, c);
    }
  };
  if (exec_error != 0) {
    note("cannot start program '%s'%s%s: ", program_argv[0],
         working_directory != nullptr ? " in " : "",
         working_directory != nullptr ? working_directory : "");
    note("%s%s%s\n", std::strerror(exec_error), "", "");
  }
  if (program_lines.aborted) note("rank %s called MPI_Abort%s%s\n", rank, "", "");
  if (g_ended_by_worker != 0 && !timed_out) {
    note("rank %s was ended because another rank of the program failed%s%s\n", rank, "", "");
  }
  char name[64];
  std::snprintf(name, sizeof name, "%s.status", rank);
  write_file(directory, name, report);

  if (relayed && program_lines.state == MpiState::never_spoke) {
    // The program never reached MPI_Init: take its place in the spawn, so that it completes.
    MPI_Init(nullptr, nullptr);
    MPI_Finalize();
  } else if (relayed && program_lines.state == MpiState::inside) {
    finalize_in_its_place(pmi_fd);
  }
  _exit(0);
}

/// Runs before the program's static initializers and main, like the start watch's constructor.
/// Costs every start of every spawnpool program one string comparison.
__attribute__((constructor(101))) void become_mpi_launcher_if_asked(int argc, char** argv, char**) {
  if (argc < 3 || argv == nullptr || argv[1] == nullptr) return;
  const std::size_t length = std::strlen(kMpiLauncherMarker);
  if (std::strncmp(argv[1], kMpiLauncherMarker, length) != 0 || argv[1][length] != '=') return;
  launch(argv[1] + length + 1, argc - 2, argv + 2);
}

}  // namespace

std::vector<std::string> mpi_launcher_args(const MpiLaunch& launch) {
  std::vector<std::string> args;
  args.push_back(std::string(kMpiLauncherMarker) + "=" + launch.directory);
  args.push_back(std::to_string(launch.watched_pid));
  args.push_back(launch.watched_host.empty() ? "-" : launch.watched_host);
  args.push_back(std::to_string(launch.timeout.count()));
  args.push_back(launch.working_directory.empty() ? "-" : launch.working_directory);
  args.push_back(std::to_string(launch.env.size()));
  for (const auto& [name, value] : launch.env) args.push_back(name + "=" + value);
  args.push_back(launch.program);
  args.insert(args.end(), launch.args.begin(), launch.args.end());
  return args;
}

}  // namespace spawnpool::detail
