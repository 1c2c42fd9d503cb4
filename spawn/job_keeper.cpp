#include "job_keeper.hpp"

#include "end_like.hpp"
#include "forwarded_signals.hpp"
#include "exit_status.hpp"
#include "job_leftovers.hpp"
#include "pidfd.hpp"
#include "relaunch.hpp"
#include "run_directory.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

namespace spawnpool::detail {
namespace {

// ---- The keeper: runs before the executable's static initializers (shared libraries' own
// ---- constructors have run), and never returns to them.

std::atomic<pid_t> g_mpiexec{0};
// Set once a SIGINT, SIGTERM, SIGHUP or SIGQUIT went to mpiexec.
std::atomic<bool> g_ending_forwarded{false};
static_assert(std::atomic<pid_t>::is_always_lock_free && std::atomic<bool>::is_always_lock_free,
              "the signal handler needs lock-free atomics");

extern "C" void forward_to_mpiexec(int sig, siginfo_t* info, void*) {
  const int saved_errno = errno;
  const pid_t child = g_mpiexec.load();
  if (child > 0 && info->si_code != SI_KERNEL) {
    kill(child, sig);
    if (sig != SIGUSR1 && sig != SIGUSR2) g_ending_forwarded.store(true);
  }
  errno = saved_errno;
}

/// Removes what the relaunching parent removes when the job has ended, the run's directory and
/// the exit status file (named in the environment it gave), once the parent is gone: a SIGKILLed
/// parent removes nothing. Only paths named as those are (a "spawnpool-run-" directory, a
/// "spawnpool-status-" file) are touched.
void remove_the_parents_files() noexcept {
  try {
    const auto named = [](const char* variable, const char* prefix) -> std::filesystem::path {
      const char* value = std::getenv(variable);
      if (value == nullptr || *value == '\0') return {};
      const std::filesystem::path path(value);
      return path.filename().string().rfind(prefix, 0) == 0 ? path : std::filesystem::path();
    };
    std::error_code ignored;
    if (const auto run = named(kRunDirectoryVariable, "spawnpool-run-"); !run.empty())
      std::filesystem::remove_all(run, ignored);
    if (const auto status = named(kStatusFileVariable, "spawnpool-status-"); !status.empty())
      std::filesystem::remove(status, ignored);
  } catch (...) {
    // Out of memory: they stay.
  }
}

/// How often the keeper looks at its adopted children while nothing else wakes it.
constexpr int kReapEveryMs = 1000;

/// The keeper's whole life: start `argv` (mpiexec's path first) as its child, wait for it while
/// forwarding signals, end mpiexec once `parent` (the relaunching parent, as it named itself:
/// it may be gone already) is gone, end the job's leftovers, end like mpiexec.
[[noreturn]] void keep_job(pid_t parent, char** argv) {
  using clock = std::chrono::steady_clock;
  const pid_t keeper = getpid();
  adopt_orphans_of_descendants();
  prctl(PR_SET_NAME, "spawnpool-keep", 0, 0, 0);
  // mpiexec must be waited for: an ignored SIGCHLD (inherited) would reap it unseen.
  struct sigaction previous_sigchld {};
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  sigaction(SIGCHLD, &default_action, &previous_sigchld);

  const ForwardedSignals forwarded(forward_to_mpiexec);

  int exec_failure[2] = {-1, -1};
  if (pipe2(exec_failure, O_CLOEXEC) != 0) exec_failure[0] = exec_failure[1] = -1;
  // mpiexec is made while the keeper is still in the program's process group, where it stays
  // (the terminal's signals reach it there).
  const pid_t child = fork();
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != keeper) _exit(128 + SIGKILL);  // the keeper is already gone
    sigaction(SIGCHLD, &previous_sigchld, nullptr);
    forwarded.restore();
    if (exec_failure[0] >= 0) close(exec_failure[0]);
    execv(argv[0], argv);
    const int error = errno;
    if (exec_failure[1] >= 0) (void)!write(exec_failure[1], &error, sizeof error);
    _exit(127);
  }
  if (exec_failure[1] >= 0) close(exec_failure[1]);
  int exec_error = child < 0 ? errno : 0;
  if (child > 0 && exec_failure[0] >= 0) {
    // Returns 0 bytes once the exec succeeded (the write end closes on exec).
    while (read(exec_failure[0], &exec_error, sizeof exec_error) < 0 && errno == EINTR) {
    }
  }
  if (exec_failure[0] >= 0) close(exec_failure[0]);
  if (exec_error != 0) {
    std::fprintf(stderr, "spawnpool: cannot start '%s': %s\n", argv[0], std::strerror(exec_error));
    if (child > 0) waitpid(child, nullptr, 0);
    _exit(127);
  }
  // Then out of that group, so that a SIGKILL of it (kill -9 -PGID) leaves the keeper to clean
  // up after it. (A terminal signal between the fork and this reaches the keeper too: not
  // forwarded, as it comes from the kernel.)
  setpgid(0, 0);
  g_mpiexec.store(child);
  // Unblocked even if the program blocked them (its mask is mpiexec's): they are to be forwarded.
  sigprocmask(SIG_UNBLOCK, &forwarded.set(), nullptr);  // delivers any signal that came meanwhile

  const int mpiexec_ended = open_pidfd(child);
  // Opened after the check that the parent is still ours: never a pidfd of a recycled pid.
  int parent_ended = open_pidfd(parent);
  if (getppid() != parent && parent_ended >= 0) {
    close(parent_ended);
    parent_ended = -1;
  }
  std::optional<clock::time_point> parent_gone;
  bool killed = false;
  for (;;) {
    siginfo_t info{};
    info.si_pid = 0;
    if (waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT | WNOHANG) != 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (info.si_pid == child || reap_adopted_children(child)) break;
    if (!parent_gone && getppid() != parent) {
      parent_gone = clock::now();
      if (!g_ending_forwarded.load()) kill(child, SIGTERM);
    }
    if (parent_gone && !killed && clock::now() - *parent_gone >= kLauncherGrace) {
      kill(child, SIGKILL);
      killed = true;
    }
    // Woken by mpiexec's end, the parent's, or (without pidfds, or for the grace) a timeout.
    pollfd ends[2] = {{mpiexec_ended, POLLIN, 0}, {parent_gone ? -1 : parent_ended, POLLIN, 0}};
    const bool without_pidfds = mpiexec_ended < 0 || parent_ended < 0;
    ::poll(ends, 2, parent_gone || without_pidfds ? 100 : kReapEveryMs);
  }
  g_mpiexec.store(0);  // before it is reaped: no signal may reach a recycled pid
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) _exit(1);
  }
  // With the parent gone, its end of the standard error pipe may be too: a write must not kill.
  signal(SIGPIPE, SIG_IGN);
  end_leftovers_of_the_job(kLeftoverLimit);
  if (parent_gone) remove_the_parents_files();
  end_like(status);
}

/// Runs before the program's static initializers and main (priority 101: before every C++
/// initializer of the executable). Costs every start of every spawnpool program one string
/// comparison.
__attribute__((constructor(101))) void become_job_keeper_if_asked(int argc, char** argv, char**) {
  if (argc < 3 || argv == nullptr || argv[1] == nullptr) return;
  const std::size_t length = std::strlen(kJobKeeperMarker);
  if (std::strncmp(argv[1], kJobKeeperMarker, length) != 0 || argv[1][length] != '=') return;
  char* end = nullptr;
  const long parent = std::strtol(argv[1] + length + 1, &end, 10);
  if (parent <= 1 || *end != '\0') return;
  keep_job(static_cast<pid_t>(parent), argv + 2);
}

}  // namespace

std::vector<std::string> job_keeper_arguments(const std::string& mpiexec,
                                              const std::vector<std::string>& mpiexec_args) {
  std::vector<std::string> arguments = {
      std::string(kJobKeeperMarker) + "=" + std::to_string(::getpid()), mpiexec};
  arguments.insert(arguments.end(), mpiexec_args.begin(), mpiexec_args.end());
  return arguments;
}

}  // namespace spawnpool::detail
