#include "start_watch.hpp"

#include "end_like.hpp"
#include "forwarded_signals.hpp"
#include "run_directory.hpp"
#include "spawn_workers.hpp"

#include <spawnpool/detail/mpi_flavor.hpp>
#include <spawnpool/errors.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace spawnpool::detail {

namespace {

// ---- The watcher: runs before the program's static initializers, in a process that has no
// ---- threads. Plain system calls and C library only.

std::atomic<pid_t> g_watched{0};
static_assert(std::atomic<pid_t>::is_always_lock_free, "the signal handler needs a lock-free pid");

extern "C" void forward_to_watched(int sig, siginfo_t*, void*) {
  const int saved_errno = errno;
  const pid_t child = g_watched.load();
  if (child > 0) kill(child, sig);
  errno = saved_errno;
}

void close_descriptors_from(unsigned first) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, first, ~0U, 0) == 0) return;
#endif
  long limit = sysconf(_SC_OPEN_MAX);
  if (limit < 0 || limit > 65536) limit = 65536;
  for (long fd = first; fd < limit; ++fd) close(static_cast<int>(fd));
}

/// Writes `line` to <directory>/<pid>.report, whole or not at all (a rename): the manager never
/// reads half a line. Nothing happens when the directory is gone (the spawn is over).
void write_report(const char* directory, const char* line) {
  char partial[PATH_MAX], final_name[PATH_MAX];
  const long pid = static_cast<long>(getpid());
  if (std::snprintf(partial, sizeof partial, "%s/.%ld.partial", directory, pid) >=
          static_cast<int>(sizeof partial) ||
      std::snprintf(final_name, sizeof final_name, "%s/%ld.report", directory, pid) >=
          static_cast<int>(sizeof final_name)) {
    return;
  }
  const int fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  const std::size_t length = std::strlen(line);
  const bool written = write(fd, line, length) == static_cast<ssize_t>(length) &&
                       write(fd, "\n", 1) == 1;
  close(fd);
  if (!written || rename(partial, final_name) != 0) unlink(partial);
}

/// The watcher's whole life: start `argv[0]` (PATH searched, as hydra does) with `argv` as its
/// own child, wait for it, report its end to `directory`, end the same way.
[[noreturn]] void watch_start(const char* directory, char** argv) {
  const pid_t watcher = getpid();
  const ForwardedSignals forwarded(forward_to_watched);
  int exec_failure[2] = {-1, -1};
  if (pipe2(exec_failure, O_CLOEXEC) != 0) exec_failure[0] = exec_failure[1] = -1;

  const pid_t child = fork();
  if (child <= 0) {
    // The program (or, when no process can be made, this one becoming the program unwatched).
    if (child == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != watcher) _exit(128 + SIGKILL);  // the watcher is already gone
      setpgid(0, 0);  // its own group, as hydra gives each process (the launcher guard needs it)
    }
    forwarded.restore();
    if (exec_failure[0] >= 0) close(exec_failure[0]);
    execvp(argv[0], argv);
    const int error = errno;
    if (exec_failure[1] >= 0) (void)!write(exec_failure[1], &error, sizeof error);
    _exit(127);
  }
  g_watched.store(child);
  prctl(PR_SET_NAME, "spawnpool-watch", 0, 0, 0);
  int exec_error = 0;
  if (exec_failure[1] >= 0) close(exec_failure[1]);
  if (exec_failure[0] >= 0) {
    // Returns 0 bytes once the exec succeeded (the write end closes on exec).
    while (read(exec_failure[0], &exec_error, sizeof exec_error) < 0 && errno == EINTR) {
    }
  }
  // Nothing of hydra's (the PMI socket, output pipes beyond 0-2) stays open on the watcher's side.
  close_descriptors_from(3);
  sigprocmask(SIG_SETMASK, &forwarded.previous_mask(), nullptr);

  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) _exit(1);
  }
  g_watched.store(0);

  char line[PATH_MAX + 128];
  if (exec_error != 0) {
    std::snprintf(line, sizeof line, "'%s' could not be started: %s", argv[0],
                  std::strerror(exec_error));
  } else if (WIFSIGNALED(status)) {
    // Named as the workers' own reports name signals (control_messages.cpp): "SIGKILL", not
    // strsignal's "Killed".
    const char* name = sigabbrev_np(WTERMSIG(status));
    std::snprintf(line, sizeof line, "'%s' was killed by signal %d (SIG%s)", argv[0],
                  WTERMSIG(status), name ? name : "?");
  } else {
    std::snprintf(line, sizeof line, "'%s' exited with status %d", argv[0],
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  write_report(directory, line);
  end_like(status);
}

/// Runs before the program's static initializers and main (priority 101: before every C++
/// initializer of the executable). glibc passes the program's arguments to such functions.
/// Costs every start of every spawnpool program one string comparison.
__attribute__((constructor(101))) void become_start_watcher_if_asked(int argc, char** argv,
                                                                      char**) {
  if (argc < 3 || argv == nullptr || argv[1] == nullptr) return;
  const std::size_t length = std::strlen(kStartWatchMarker);
  if (std::strncmp(argv[1], kStartWatchMarker, length) != 0 || argv[1][length] != '=') return;
  watch_start(argv[1] + length + 1, argv + 2);
}

// ---- The manager's side.

/// This process's executable, or "" when it cannot be started again (unreadable, or replaced on
/// disk since this process started).
std::string own_executable() {
  char path[PATH_MAX];
  const ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
  if (length <= 0) return "";
  std::string exe(path, static_cast<std::size_t>(length));
  if (exe.size() > 10 && exe.compare(exe.size() - 10, 10, " (deleted)") == 0) return "";
  return access(exe.c_str(), X_OK) == 0 ? exe : "";
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

bool slurm_allocation_of_several_nodes() {
  for (const char* name : {"SLURM_JOB_NUM_NODES", "SLURM_NNODES"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && std::atoi(value) > 1) return true;
  }
  return false;
}

void remove_directory(const std::string& directory) {
  // A watcher may still add a report while this runs: a few rounds.
  for (int round = 0; round < 3; ++round) {
    if (DIR* dir = opendir(directory.c_str())) {
      while (const dirent* entry = readdir(dir)) {
        if (std::strcmp(entry->d_name, ".") == 0 || std::strcmp(entry->d_name, "..") == 0) continue;
        unlink((directory + "/" + entry->d_name).c_str());
      }
      closedir(dir);
    }
    if (rmdir(directory.c_str()) == 0 || errno == ENOENT) return;
  }
}

}  // namespace

bool start_watch_applies(const SpawnRequest& request) noexcept {
  if (!kWatchWorkerStart || !request.watch_start) return false;
  const char* setting = std::getenv("SPAWNPOOL_START_WATCH");
  if (setting != nullptr && std::strcmp(setting, "0") == 0) return false;
  try {
    const std::string exe = own_executable();
    if (exe.empty()) return false;
    if (same_file(request.program, exe)) return true;
    return request.host.empty() && request.hosts.empty() && request.hostfile.empty() &&
           !slurm_allocation_of_several_nodes();
  } catch (...) {
    return false;
  }
}

StartWatch::StartWatch(SpawnRequest& request) {
  std::string pattern = temporary_files_directory() + "/spawnpool-start-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    throw SpawnError("spawnpool: cannot create the start watch's directory " + pattern + ": " +
                     std::strerror(errno) +
                     " (set TMPDIR to a writable directory, or SPAWNPOOL_START_WATCH=0)");
  }
  directory_ = pattern;
  std::vector<std::string> args;
  args.reserve(request.args.size() + 2);
  args.push_back(std::string(kStartWatchMarker) + "=" + directory_);
  args.push_back(request.program);
  args.insert(args.end(), request.args.begin(), request.args.end());
  request.args = std::move(args);
  request.program = own_executable();
}

StartWatch::~StartWatch() { remove_directory(directory_); }

std::optional<std::string> StartWatch::ended_worker() {
  const auto now = std::chrono::steady_clock::now();
  if (report_ || now < next_look_) return report_;
  next_look_ = now + kReportPollInterval;
  DIR* dir = opendir(directory_.c_str());
  if (dir == nullptr) return report_;
  std::string found;
  while (const dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".report") == 0) {
      found = name;
      break;
    }
  }
  closedir(dir);
  if (found.empty()) return report_;
  std::ifstream file(directory_ + "/" + found);
  std::string line;
  std::getline(file, line);
  if (!line.empty()) report_ = line;
  return report_;
}

}  // namespace spawnpool::detail
