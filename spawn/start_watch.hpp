#pragma once
// The start watch: how the manager learns within a fraction of a second that a spawned worker
// program ended before it reached MPI_Init (`/bin/true`, a program that crashes at start-up or
// exits early), instead of waiting for the spawn timeout.
//
// Under MPICH, MPI_Comm_spawn waits for every spawned process to connect back from MPI_Init; one
// that ends first is reaped by hydra's proxy and the spawn waits forever. The workers are children
// of that proxy, not of the manager, so the manager cannot wait for them itself. So, where it
// applies (start_watch_applies), the manager spawns its own executable (which is linked with
// spawnpool) with a marker and the real command after it:
//     <manager's executable> --spawnpool-start-watch=<report directory> <program> <args...>
// A constructor that runs before anything else of that program (before static initializers and
// main) sees the marker and becomes the watcher:
//   - it forks; the child asks for SIGKILL when the watcher dies (PR_SET_PDEATHSIG), leads a new
//     process group (as hydra's processes do, for the launcher guard) and execs the program with
//     the environment and descriptors hydra gave (PMI_FD...), so MPI_Init works as without watch.
//     The worker pids the pool reports are those of the programs, never of watchers;
//   - the watcher closes its descriptors, forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and
//     SIGUSR2 (hydra signals the watcher's process group) to the program, and sleeps in waitpid;
//   - when the program ends, however and whenever it ends, the watcher writes one line to a file
//     in the report directory, "'<program>' exited with status N" or "'<program>' was killed by
//     signal S (name)", and ends the same way (the same exit status, or the same signal).
// The manager reads the directory while the spawn is pending (PendingSpawn): a report then means a
// worker ended before the spawn could complete, which it never will. After the spawn the watch
// moves to the worker's link (PendingSpawn::take_start_watch, WorkerLink::keep_start_watch) until
// the worker answers the greeting: a report then means it ended after MPI_Init, before its answer
// (killed in its set-up), which fails its start at once. Then the directory is removed, and later
// reports (a worker killed in a task) go nowhere.
//
// Costs: one sleeping process per worker, and one more exec of the manager's executable at each
// worker start (measured in README, "Dedicated worker programs").

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace spawnpool::detail {

struct SpawnRequest;

/// The first argument that makes a spawnpool program a start watcher ("<marker>=<directory>").
inline constexpr const char* kStartWatchMarker = "--spawnpool-start-watch";

/// Whether a spawn of `request` runs its workers under a start watch: with MPICH
/// (kWatchWorkerStart), unless SPAWNPOOL_START_WATCH=0 or request.watch_start is false, when this process's executable can be
/// read, and when the manager's executable is surely there wherever the workers start: the worker
/// program is the manager's own executable, or no host or hostfile was asked for and this is not
/// a Slurm allocation of several nodes (where hydra may place workers elsewhere). Never throws.
bool start_watch_applies(const SpawnRequest& request) noexcept;

/// The manager's side of the start watch of one spawn: a private report directory, removed when
/// this object goes. Not thread-safe: one thread uses it.
class StartWatch {
 public:
  /// Creates the report directory and rewrites `request` (program and args) so that each worker
  /// starts under a watcher.
  /// @throws SpawnError when the directory cannot be created
  explicit StartWatch(SpawnRequest& request);
  ~StartWatch();
  StartWatch(const StartWatch&) = delete;
  StartWatch& operator=(const StartWatch&) = delete;

  /// The first report of a worker that has ended ("'/bin/true' exited with status 0"), or nothing.
  /// Reads the directory at most every kReportPollInterval; between reads, returns the last answer.
  std::optional<std::string> ended_worker();

  /// How often ended_worker() looks at the directory.
  static constexpr std::chrono::milliseconds kReportPollInterval{50};

 private:
  std::string directory_;
  std::chrono::steady_clock::time_point next_look_{};
  std::optional<std::string> report_;
};

}  // namespace spawnpool::detail
