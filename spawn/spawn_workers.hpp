#pragma once
// Starting worker processes with MPI_Comm_spawn, with a bounded wait: inside a Slurm allocation (and
// with other launcher problems) MPI_Comm_spawn can block forever instead of failing, so it runs on a
// helper thread and a spawn that does not return in time becomes a SpawnError. A worker program
// that ends before MPI_Init blocks it forever too; under MPICH the start watch (start_watch.hpp)
// reports that at once, and the spawn fails without waiting for the timeout. The caller either
// waits (spawn_workers) or polls (start_spawn), e.g. to keep talking to its other workers.

#include "start_watch.hpp"

#include <mpi.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace spawnpool::detail {

/// What to start: `count` copies of `program` with `args`, within `timeout`.
struct SpawnRequest {
  std::string program;
  std::vector<std::string> args;
  int count = 1;
  std::chrono::milliseconds timeout{60000};
  /// For messages: what sets the limit, and the limit a start of several spawns shares (a pool's
  /// start: Options::spawn_timeout for all its workers), of which `timeout` is what was left for
  /// this spawn (0: `timeout` is this spawn's own).
  std::string timeout_setting = "SPAWNPOOL_SPAWN_TIMEOUT (seconds)";
  std::chrono::milliseconds shared_timeout{0};
  std::string host;      // MPI_Info "host": where to start them ("" = the launcher's choice)
  /// Non-empty (then `count` entries): the host of each process. They are started by one
  /// MPI_Comm_spawn_multiple of `count` commands (the same program and args, maxprocs 1, a "host"
  /// each), so they still share one MPI_COMM_WORLD, in this order. `host` is not used then.
  std::vector<std::string> hosts;
  std::string hostfile;  // MPI_Info "hostfile"
  /// false: no start watch (start_watch.hpp), for processes that may end soon after MPI_Init, and
  /// that complete the spawn themselves when their program does not (run_mpi_program's launchers).
  bool watch_start = true;
  /// Set to true when MPI_Comm_spawn does not return within the timeout: its helper thread is left
  /// inside MPI, so MPI must not be finalized (the Runtime's flag). Not owned; may be null.
  std::atomic<bool>* mpi_stuck = nullptr;
};

/// A spawn running on its helper thread (start_spawn). The caller polls finished() and then takes
/// the result, so that it can go on with other work (the executor's heartbeats) meanwhile.
class PendingSpawn {
 public:
  /// True once MPI_Comm_spawn has returned, a worker under the start watch (start_watch.hpp) has
  /// ended before MPI_Init, or the request's timeout has passed.
  bool finished() const;
  /// Blocks until finished().
  void wait() const;
  /// The intercommunicator (remote group = the workers, ranks 0..count-1), with MPI_ERRORS_RETURN
  /// set. Call once, after finished().
  /// @throws SpawnError when MPI_Comm_spawn failed, when a worker ended before MPI_Init (naming the
  ///         program and its exit status or signal), or when it did not return within the timeout
  ///         (in those two cases MPI_Comm_spawn never returns and MPI is left unusable:
  ///         *request.mpi_stuck is set, and the Runtime will not finalize)
  MPI_Comm take();
  /// After take() has returned the workers: the spawn's start watch (start_watch.hpp), or null
  /// when the spawn was not watched. From here on a report means a worker ended after MPI_Init:
  /// keep it until the workers have answered, so that such an end fails their start at once
  /// rather than at the timeout. Its report directory goes with it. Call at most once.
  std::unique_ptr<StartWatch> take_start_watch();

 private:
  friend PendingSpawn start_spawn(const SpawnRequest& request);
  struct Outcome;
  struct Shared;
  std::shared_ptr<Shared> shared_;
  std::string program_;
  int count_ = 1;
  std::chrono::milliseconds timeout_{0};
  std::chrono::milliseconds shared_timeout_{0};
  std::string timeout_setting_;
  std::chrono::steady_clock::time_point deadline_;
  std::atomic<bool>* mpi_stuck_ = nullptr;
};

/// Starts spawning `request.count` copies of the program from a copy of MPI_COMM_SELF on a helper
/// thread and returns at once. Several spawns may be pending at the same time (with
/// MPI_THREAD_MULTIPLE they run side by side). Thread-safe.
/// @throws SpawnError when the program is missing or not executable
PendingSpawn start_spawn(const SpawnRequest& request);

/// start_spawn and wait: returns the intercommunicator.
/// @throws SpawnError as start_spawn and PendingSpawn::take
MPI_Comm spawn_workers(const SpawnRequest& request);

}  // namespace spawnpool::detail
