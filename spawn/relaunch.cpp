// Relaunching a singleton program under `mpiexec -n 1`; see relaunch.hpp for why.
#include "relaunch.hpp"
#include "pidfd.hpp"

#include "exit_status.hpp"
#include "job_keeper.hpp"
#include "job_leftovers.hpp"
#include "launcher_output_relay.hpp"
#include "proc_stat.hpp"
#include "run_directory.hpp"

#include <spawnpool/detail/mpi_flavor.hpp>
#include <spawnpool/detail/terminal.hpp>

// Boost.Process v1 paths as std::filesystem::path, so that boost_filesystem need not be
// linked. Better set for the whole target (every file that includes Boost.Process must agree).
#ifndef BOOST_PROCESS_USE_STD_FS
#define BOOST_PROCESS_USE_STD_FS
#endif

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/env.hpp>
#include <boost/process/environment.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/search_path.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace spawnpool::detail {
namespace {

namespace bp = boost::process;

bool env_nonempty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0';
}

// The first process-manager variable found in the environment, or nullptr.
const char* process_manager_variable() {
  static constexpr std::array<const char*, 7> kVariables = {
      "PMI_RANK", "PMI_FD", "PMI_SIZE", "PMI_PORT",  // MPICH hydra, Slurm --mpi=pmi2
      "PMIX_RANK", "PMIX_NAMESPACE",                 // PMIx: Open MPI, Slurm --mpi=pmix
      "OMPI_COMM_WORLD_SIZE"};                       // Open MPI's mpirun
  for (const char* name : kVariables)
    if (env_nonempty(name)) return name;
  return nullptr;
}

// The mpiexec process while relaunch_under_mpiexec waits for it, else 0. Read by the handler.
std::atomic<pid_t> g_child{0};
// The last SIGINT, SIGTERM, SIGHUP or SIGQUIT received while waiting, else 0.
std::atomic<int> g_terminating_signal{0};
static_assert(std::atomic<pid_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "the signal handler needs lock-free atomics");

constexpr std::array<int, 6> kForwardedSignals = {SIGINT,  SIGTERM, SIGHUP,
                                                  SIGQUIT, SIGUSR1, SIGUSR2};

// Signals from the kernel (SI_KERNEL: the terminal's Ctrl-C, Ctrl-\, hangup) go to the whole
// foreground process group, which includes mpiexec, so they are not forwarded: hydra takes a
// second SIGINT as "force abort" and would kill the ranks instead of interrupting them.
extern "C" void forward_signal(int sig, siginfo_t* info, void*) {
  const int saved_errno = errno;
  if (sig != SIGUSR1 && sig != SIGUSR2) g_terminating_signal.store(sig);
  const pid_t child = g_child.load();
  if (child > 0 && info->si_code != SI_KERNEL) ::kill(child, sig);
  errno = saved_errno;
}

// While alive, the forwarded signals go to g_child. Construction blocks them (in this thread)
// so that none arrives before the child's pid is known; forward_to() unblocks them.
// Signals that were ignored (e.g. SIGHUP under nohup) stay ignored and are not forwarded.
class SignalForwarding {
 public:
  // sigaction and pthread_sigmask cannot fail with these arguments, so they are not checked.
  SignalForwarding() {
    sigemptyset(&blocked_);
    for (int sig : kForwardedSignals) sigaddset(&blocked_, sig);
    pthread_sigmask(SIG_BLOCK, &blocked_, &previous_mask_);
    struct sigaction forward {};
    forward.sa_sigaction = forward_signal;
    forward.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&forward.sa_mask);
    for (std::size_t i = 0; i < kForwardedSignals.size(); ++i) {
      ::sigaction(kForwardedSignals[i], nullptr, &previous_[i]);
      installed_[i] = previous_[i].sa_handler != SIG_IGN;
      if (installed_[i]) ::sigaction(kForwardedSignals[i], &forward, nullptr);
    }
  }
  SignalForwarding(const SignalForwarding&) = delete;
  SignalForwarding& operator=(const SignalForwarding&) = delete;

  ~SignalForwarding() {
    g_child.store(0);
    for (std::size_t i = 0; i < kForwardedSignals.size(); ++i)
      if (installed_[i]) ::sigaction(kForwardedSignals[i], &previous_[i], nullptr);
    pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
  }

  // The mask to give the child: the one we had before blocking.
  const sigset_t& previous_mask() const { return previous_mask_; }

  void forward_to(pid_t child) {
    g_child.store(child);
    pthread_sigmask(SIG_UNBLOCK, &blocked_, nullptr);  // delivers any signal that came meanwhile
  }

 private:
  sigset_t blocked_{};
  sigset_t previous_mask_{};
  std::array<struct sigaction, kForwardedSignals.size()> previous_{};
  std::array<bool, kForwardedSignals.size()> installed_{};
};

// The mpiexec to run: SPAWNPOOL_MPIEXEC if set, else `fallback`; a bare name is looked up in
// PATH. Throws RelaunchError if that is not an executable file.
std::string find_mpiexec(const std::string& fallback) {
  const bool from_env = env_nonempty("SPAWNPOOL_MPIEXEC");
  const std::string requested = from_env ? std::getenv("SPAWNPOOL_MPIEXEC") : fallback;
  std::string path = requested;
  if (!requested.empty() && requested.find('/') == std::string::npos)
    path = bp::search_path(requested).string();

  const char* problem = nullptr;
  struct stat st {};
  if (path.empty())
    problem = requested.empty() ? "no mpiexec path was given" : "not found in PATH";
  else if (::stat(path.c_str(), &st) != 0)
    problem = std::strerror(errno);
  else if (!S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) != 0)
    problem = "not an executable file";
  if (problem == nullptr) return path;

  throw RelaunchError(
      "spawnpool: cannot relaunch this program under mpiexec: '" + requested + "' (" +
      (from_env ? "from SPAWNPOOL_MPIEXEC" : "the built-in default") + "): " + problem +
      ". This MPI cannot spawn workers from a program started without mpiexec, so spawnpool "
      "restarts it as `mpiexec -n 1 <program> <args>`. Set SPAWNPOOL_MPIEXEC to the mpiexec of "
      "the MPI this program was built with, or start the program with that mpiexec yourself.");
}

/// Whether `pid` is a descendant of `ancestor` on this host (its parents, up to init).
bool descends_from(long pid, pid_t ancestor) {
  for (int depth = 0; depth < 16 && pid > 1; ++depth) {
    pid = parent_pid(pid);
    if (pid == static_cast<long>(ancestor)) return true;
  }
  return false;
}

/// Waits until mpiexec (`child`) has ended, without reaping it (so that no forwarded signal can
/// reach a recycled pid). Once the manager has ended (its report, or its process gone when it
/// ran here), mpiexec gets kLauncherGrace, then
/// SIGTERM, then SIGKILL after kLauncherKillWait: a proxy on an unreachable host would otherwise
/// keep it, and the program, waiting forever.
void wait_for_launcher(pid_t child, const ExitStatusFile& status_file,
                       LauncherOutputRelay& output) {
  using clock = std::chrono::steady_clock;
  constexpr int kCheckEveryMs = 100;  // how often the status file is read while mpiexec runs
  const int pidfd = open_pidfd(child);
  std::optional<clock::time_point> manager_ended;
  std::optional<long> local_manager;  // the manager's pid, once seen running under mpiexec here
  bool terminated = false;
  bool killed = false;
  for (;;) {
    siginfo_t info{};
    info.si_pid = 0;
    if (::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT | WNOHANG) != 0) {
      if (errno == EINTR) continue;
      if (pidfd >= 0) ::close(pidfd);
      throw std::system_error(errno, std::generic_category(), "waitid");
    }
    if (info.si_pid == child) break;
    if (reap_adopted_children(child)) break;
    if (pidfd >= 0) {
      pollfd ended{pidfd, POLLIN, 0};
      ::poll(&ended, 1, kCheckEveryMs);  // EINTR (a forwarded signal): just look again
    } else {
      ::usleep(kCheckEveryMs * 1000);
    }
    const auto now = clock::now();
    if (!manager_ended) {
      const auto progress = status_file.manager_progress();
      if (progress.ended) {
        manager_ended = now;
      } else if (!local_manager) {
        // Its process is watched only when it runs here, under our mpiexec: with salloc or a
        // hostfile hydra may start it on another host, where this pid means nothing. One that
        // claimed the file from this host and is gone before it was first seen (killed within a
        // check's 0.1 s) has ended all the same.
        if (progress.pid && descends_from(*progress.pid, child)) {
          local_manager = progress.pid;
        } else if (const char state = progress.pid && progress.on_this_host ? process_state(*progress.pid) : 1;
                   state == 0 || state == 'Z' || state == 'X') {
          manager_ended = now;
        }
      } else if (const char state = process_state(*local_manager);
                 state == 0 || state == 'Z' || state == 'X') {
        // Gone without a report: SIGKILL or the OOM killer, which run no handler. A worker still
        // inside MPI_Init then waits in its connection to the dead manager for ever, and hydra
        // with it.
        manager_ended = now;
      }
      continue;
    }
    if (!terminated && now - *manager_ended > kLauncherGrace) {
      std::fprintf(stderr,
                   "spawnpool: mpiexec still runs %lld s after the program ended (a worker still "
                   "starting, stopped, or on a host that stopped answering?); ending it\n",
                   static_cast<long long>(kLauncherGrace.count()));
      output.launcher_is_being_ended();
      ::kill(child, SIGTERM);
      terminated = true;
    } else if (terminated && !killed && now - *manager_ended > kLauncherGrace + kLauncherKillWait) {
      ::kill(child, SIGKILL);
      killed = true;
    }
  }
  if (pidfd >= 0) ::close(pidfd);
}

}  // namespace

bool started_by_process_manager() { return process_manager_variable() != nullptr; }

RelaunchDecision decide_relaunch(bool mpi_can_spawn_from_singleton) {
  if (mpi_can_spawn_from_singleton)
    return {false, "this MPI can spawn from a singleton, so no mpiexec is needed"};
  if (const char* variable = process_manager_variable())
    return {false, std::string("started by an MPI process manager (") + variable + " is set)"};
  const char* no_relaunch = std::getenv("SPAWNPOOL_NO_RELAUNCH");
  if (no_relaunch != nullptr && *no_relaunch != '\0' && std::string(no_relaunch) != "0")
    return {false, "SPAWNPOOL_NO_RELAUNCH is set; spawning workers from this singleton will fail"};
  if (std::getenv("SPAWNPOOL_RELAUNCHED") != nullptr)
    return {false,
            "SPAWNPOOL_RELAUNCHED is set, so this process is already the relaunched copy, yet no "
            "process manager variable (PMI_RANK, PMIX_RANK, ...) is set: is SPAWNPOOL_MPIEXEC an "
            "mpiexec of the MPI this program was built with? Not relaunching again"};
  return {true,
          "started without mpiexec and this MPI cannot spawn from a singleton: relaunching under "
          "`mpiexec -n 1`"};
}

int relaunch_under_mpiexec(int argc, char** argv, const std::string& mpiexec) {
  const std::string mpiexec_path = find_mpiexec(mpiexec);
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw RelaunchError("spawnpool: cannot relaunch under mpiexec: /proc/self/exe: " +
                              ec.message());

  // kRelaunchKeepJobOption: a spawned worker that dies must not take the job, manager included,
  // with it; spawnpool detects the loss itself and replaces the worker.
  std::vector<std::string> args = {kRelaunchKeepJobOption, "-n", "1", exe.string()};
  args.insert(args.end(), argv + 1, argv + argc);

  // The program's status comes from the manager itself (exit_status.hpp), not from mpiexec.
  const ExitStatusFile status_file;
  // Removed after the job's leftovers (below), whatever became of the manager.
  const RunDirectory run_directory;
  bp::environment env = boost::this_process::environment();
  env["SPAWNPOOL_RELAUNCHED"] = "1";
  env[kStatusFileVariable] = status_file.path();
  env[kRunDirectoryVariable] = run_directory.path();
  // The copy's standard error is a pipe from hydra: tell it whether the user's is a terminal
  // (for MapOptions::progress).
  env[kStderrTerminalVariable] = ::isatty(STDERR_FILENO) == 1 ? "1" : "0";
  if (env_nonempty("SLURM_JOB_ID") && std::getenv("SLURM_OVERLAP") == nullptr)
    env["SLURM_OVERLAP"] = "1";  // else the step MPI_Comm_spawn needs waits for busy CPUs forever
  // Large task arguments and results are decoded into fresh std::vectors (malloc maps each one
  // anew): with transparent huge pages those fault once per 2 MiB instead of per 4 KiB, which
  // doubles the bandwidth of a 64 MiB echo on this project's VM. The manager and the workers it
  // spawns inherit it. Left alone when GLIBC_TUNABLES is set; SPAWNPOOL_MALLOC_HUGEPAGES=0 turns it off.
  const char* hugepages = std::getenv("SPAWNPOOL_MALLOC_HUGEPAGES");
  if (std::getenv("GLIBC_TUNABLES") == nullptr && !(hugepages && std::string(hugepages) == "0"))
    env["GLIBC_TUNABLES"] = "glibc.malloc.hugetlb=1";

  // mpiexec's stdout and stderr come to us through pipes, and go on to ours without hydra's own
  // lines (launcher_output_relay.hpp); spawnpool reports how the program ended itself.
  LauncherOutputRelay output;
  SignalForwarding forwarding;
  const pid_t parent = ::getpid();
  // Runs in the child between fork and exec: async-signal-safe calls only.
  auto child_setup = [&](auto&) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(128 + SIGTERM);  // we died before prctl took effect
    pthread_sigmask(SIG_SETMASK, &forwarding.previous_mask(), nullptr);
    output.attach_child();
  };
  // Processes of the job that mpiexec leaves behind become ours, to end (job_leftovers.hpp).
  adopt_orphans_of_descendants();
  // mpiexec runs under the job keeper (job_keeper.hpp), this executable again, which outlives
  // a SIGKILL of this process to end the job. To this process it is mpiexec.
  bp::child child(bp::exe = exe.string(), bp::args = job_keeper_arguments(mpiexec_path, args),
                  env, bp::extend::on_exec_setup = child_setup, ec);
  output.child_started();
  if (ec) throw RelaunchError("spawnpool: cannot start '" + mpiexec_path + "' under '" +
                              exe.string() + "': " + ec.message());
  forwarding.forward_to(child.id());
  {
    // The relay copies mpiexec's output until it ends while this thread watches for the manager's
    // end (and ends an mpiexec that outstays it): two waits that must run at once. The thread
    // starts after forwarding is in place, with the same signal mask.
    std::thread relay([&output, pid = child.id()] { output.relay_until_exit(pid); });
    try {
      wait_for_launcher(child.id(), status_file, output);
    } catch (...) {
      ::kill(child.id(), SIGKILL);  // the relay ends with mpiexec
      relay.join();
      throw;
    }
    relay.join();
  }
  g_child.store(0);
  child.wait();
  // The keeper ended the job's leftovers unless it was killed: then they are ours.
  end_leftovers_of_the_job(kLeftoverLimit);
  const int status = child.native_exit_code();
  const int terminating_signal = g_terminating_signal.load();
  const std::string launcher_end = WIFSIGNALED(status)
                                       ? "killed by signal " + std::to_string(WTERMSIG(status))
                                       : "exited with status " + std::to_string(WEXITSTATUS(status));
  if (const std::optional<int> reported = status_file.status(terminating_signal, launcher_end)) {
    return *reported;
  }
  // The copy never reached MPI_Init: mpiexec's status is all there is.
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  // hydra reports 0 for ranks it had to signal (it counts them as cleaned up), which would make
  // an interrupted or terminated run look successful.
  if (WEXITSTATUS(status) == 0 && terminating_signal != 0) return 128 + terminating_signal;
  return WEXITSTATUS(status);
}

}  // namespace spawnpool::detail
