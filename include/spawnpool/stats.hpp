#pragma once
/// @file stats.hpp
/// What an executor reports about its workers and its work: Executor::workers() and
/// Executor::stats().

#include <cstdint>
#include <string>
#include <vector>

namespace spawnpool {

/// One worker process of an executor.
struct WorkerInfo {
  /// The worker's id in this executor, what RemoteError::worker_id(), WorkerLost messages, the
  /// trace and log lines name it by: its rank in static, communicator and service mode; in spawn
  /// mode 1..N in the order the workers started, a replacement taking the next unused number
  /// (never reused within an executor). A ThreadExecutor's threads are 0..N-1.
  int id = -1;
  /// Its rank in the communicator the pool talks over: the id in static, communicator and service
  /// mode; 0 for every spawned worker (each has a communicator of its own).
  int rank = -1;
  std::string host;  ///< host name the worker runs on
  long pid = 0;      ///< process id on that host
};

/// One worker's share of the work.
struct WorkerStats {
  int id = -1;    ///< as WorkerInfo::id
  int rank = -1;  ///< as WorkerInfo::rank
  std::string host;
  long pid = 0;
  bool alive = true;           ///< false for a worker that was lost (and replaced)
  std::uint64_t calls = 0;     ///< calls it answered
  double busy_seconds = 0;     ///< time it spent running tasks
};

/// A snapshot of an executor's counters.
struct Stats {
  std::uint64_t submitted = 0;  ///< calls submitted (a map of n inputs counts n)
  std::uint64_t completed = 0;  ///< calls that returned a value
  std::uint64_t failed = 0;     ///< calls that ended in an error (remote exception, lost worker, ...)
  std::uint64_t cancelled = 0;  ///< calls cancelled before they were sent
  std::uint64_t workers_lost = 0;
  /// Spawn mode: lost workers that were not replaced because no live host had room for one
  /// (Options::max_workers_per_host, Options::hosts): the pool shrank by this many.
  std::uint64_t workers_not_replaced = 0;
  /// Spawn mode: hosts found lost (a worker there went silent past the heartbeat timeout while no
  /// other worker there was heard from), in the order found. No replacement is placed on them.
  std::vector<std::string> lost_hosts;
  std::vector<WorkerStats> workers;  ///< every worker the pool has had, lost ones included
};

}  // namespace spawnpool
