#pragma once
// The manager's own exit status, reported to the relaunch parent. After a relaunch the user's
// `main` runs in a copy under `mpiexec -n 1`; mpiexec's status is not the program's (hydra turns a
// rank it had to clean up after a worker died into 0, ORs statuses, adds its own 255). So the
// relaunch parent makes a status file (SPAWNPOOL_STATUS_FILE in the copy's environment), the
// manager claims it at start-up and writes how it ended, and the parent exits with that:
//   - main returned N or called exit(N) or MPI_Abort(comm, N):     N
//   - a fatal signal S (crash, abort, an uncaught exception: 6;   128 + S
//     SIGTERM, SIGINT, SIGHUP, SIGQUIT sent to the manager)
//   - the parent itself was interrupted by T (Ctrl-C: 2)          128 + T, unless main returned
//   - nothing written after the claim (SIGKILL, the OOM killer,   137
//     _exit(): these run no handler)
//   - no claim (the copy never reached MPI_Init)                  mpiexec's own status
// Only the first process to claim the file writes to it: spawned workers never claim, and a
// spawnpool program that a task starts under the same environment finds the file claimed.
// For the two signal rows the parent says so in one line on stderr ("spawnpool: the program was
// ended by signal 6 (SIGABRT: ...); exit status 134"): the shell sees an exit status, so it does
// not print its own "Aborted", and mpiexec's banner is filtered out (launcher_noise_filter.hpp).
// The manager still dies by the signal itself (a core dump, a debugger see it as usual).

#include <optional>
#include <string>
#include <utility>

namespace spawnpool::detail {

/// The environment variable that names the status file.
inline constexpr const char* kStatusFileVariable = "SPAWNPOOL_STATUS_FILE";

/// The relaunch parent's side: creates the file; reads it once mpiexec has ended.
class ExitStatusFile {
 public:
  /// Creates an empty file, readable only by this user, in $TMPDIR or /tmp.
  /// @throws RelaunchError when it cannot be created
  ExitStatusFile();
  /// Removes the file.
  ~ExitStatusFile();
  ExitStatusFile(const ExitStatusFile&) = delete;
  ExitStatusFile& operator=(const ExitStatusFile&) = delete;

  const std::string& path() const noexcept { return path_; }

  /// The program's exit status from what the manager wrote (see the table above), or nullopt
  /// when no manager claimed the file. `interrupted_by`: a terminating signal the parent got (0:
  /// none); `launcher_end`: how mpiexec ended ("exited with status 255"), for the message printed
  /// when the manager wrote nothing. Prints the one line above for an end by a signal. Call once
  /// mpiexec has ended.
  std::optional<int> status(int interrupted_by, const std::string& launcher_end) const;

  /// What the manager has written so far (one read of the file's few bytes; callable while
  /// mpiexec runs).
  struct ManagerProgress {
    /// The pid the manager claimed the file with (of its host, which need not be this one), once
    /// it has.
    std::optional<long> pid;
    /// True once the manager has written how it ended (exit or fatal signal): its process is
    /// ending, and mpiexec has no reason left to run but its other processes' ends.
    bool ended = false;
    /// True when the manager claimed the file from this host (its pid is one of this host's).
    bool on_this_host = false;
  };
  ManagerProgress manager_progress() const;

 private:
  std::string path_;
  std::string own_host_;  // this host's name (as a claim gives it), read once
};

/// The name of signal `sig` for a message: "SIGTERM"; SIGABRT also says where it comes from
/// ("SIGABRT: abort() or an uncaught exception"); strsignal's text for the rarer ones.
std::string signal_name(int sig);

/// The manager's side, called once by the Runtime of the process that runs the user's main (not
/// a worker), after MPI_Init: when SPAWNPOOL_STATUS_FILE names an unclaimed file, claims it,
/// removes the variable from the environment, and arranges that exit() and fatal signals (whose
/// handling is still the default) write the status there. Does nothing otherwise. Never throws.
void report_exit_status_to_relaunch_parent() noexcept;

/// The manager's side, for ends that run no exit handler (MPI_Abort): reports `status` (its low 8
/// bits) as how the manager ended, if it claimed the status file and has not reported yet.
/// Async-signal-safe; never throws.
void record_exit_status(int status) noexcept;

}  // namespace spawnpool::detail
