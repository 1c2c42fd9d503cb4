#pragma once
// The manager side of k-rank tasks (task_comm.hpp) on an Executor in spawn mode: for each k > 1,
// a pool of groups (each k processes from one MPI_Comm_spawn with maxprocs = k, its rank 0 serving
// as one "worker"), started when the first task of that k is submitted and kept until shutdown.
// Groups whose ranks are spread over the hosts (TaskOptions::spread) are a pool of their own.
// Each pool is a PoolCore of its own, so groups get what workers get (pipelining, heartbeats,
// task timeouts, replacement of a lost group, an orderly shutdown) and never ordinary tasks.

#include "pool_core.hpp"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

namespace spawnpool::detail {

class RankGroups {
 public:
  /// `start(k, spread)` starts the pool of groups of k processes, each on one host or spread over
  /// the hosts (throws SpawnError when it cannot).
  using Start = std::function<std::unique_ptr<PoolCore>(int ranks, bool spread)>;
  explicit RankGroups(Start start) : start_(std::move(start)) {}
  /// Shuts every pool down (waiting for its tasks).
  ~RankGroups();
  RankGroups(const RankGroups&) = delete;
  RankGroups& operator=(const RankGroups&) = delete;

  /// The pool of groups of `ranks` processes (spread over the hosts when `spread`), started now
  /// when it does not exist yet (the caller waits for the spawn). Thread-safe.
  /// @throws SpawnError when its groups cannot be started; ConfigError when they do not fit on
  ///         the hosts; BrokenExecutor after shutdown
  PoolCore& pool_for(int ranks, bool spread = false);

  /// PoolCore::shutdown on every pool. Thread-safe; later pool_for calls throw BrokenExecutor.
  void shutdown(bool wait, bool cancel_pending);

 private:
  Start start_;
  std::mutex mutex_;  // held while a pool starts, so one k is never started twice
  bool shut_down_ = false;
  std::map<std::pair<int, bool>, std::unique_ptr<PoolCore>> pools_;  // by (k, spread)
};

}  // namespace spawnpool::detail
