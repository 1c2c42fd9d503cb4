#pragma once
// Caller-driven progress. A thread that waits for a future of an Executor does the pool's progress
// work (sending queued work, receiving results) itself for a short while, instead of sleeping until
// the pool's progress thread has done it and woken it up. A synchronous round trip then needs no
// thread handoff, which on an oversubscribed node costs more than the MPI messages themselves.
//
// The pool's progress thread stays in charge of everything else (and of all progress when nobody
// waits); it steps aside while a waiter drives.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace spawnpool::detail {

class TaskState;

/// Implemented by the pool (PoolCore).
class ProgressDriver {
 public:
  virtual ~ProgressDriver() = default;
  /// Polls on the calling thread until `state` is ready, `deadline` passes, or polling here stops
  /// paying off (nothing arrived for the spin time, the pool is shutting down, or the calling
  /// thread is already inside the pool's progress work). Never throws: a failure is handed to the
  /// progress thread, which fails the pool's futures with it.
  virtual void drive(const TaskState& state, std::chrono::steady_clock::time_point deadline) noexcept = 0;
};

/// The connection from futures' states to their pool's ProgressDriver, shared by both: it outlives
/// the pool, and detach() (called by the pool before it goes away) waits for drivers in progress.
/// Thread-safe.
class DriverLink {
 public:
  explicit DriverLink(ProgressDriver* driver) : driver_(driver) {}

  /// Drives progress for `state` when the pool is still there (see ProgressDriver::drive).
  void drive(const TaskState& state, std::chrono::steady_clock::time_point deadline) noexcept;

  /// No drive() starts after this; returns once none is running.
  void detach() noexcept;

 private:
  std::mutex mutex_;
  std::condition_variable idle_;
  ProgressDriver* driver_;
  int active_ = 0;
};

}  // namespace spawnpool::detail
