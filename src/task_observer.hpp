#pragma once
// Observers of an executor's work: the engine reports each finished call and its own end, and an
// observer records what it wants. The Chrome trace (chrome_trace.cpp) is one.
// Called from the engine's thread only.

#include "worker_roster.hpp"

#include <spawnpool/detail/task_state.hpp>
#include <spawnpool/runtime.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace spawnpool::detail {

struct FinishedCall {
  std::size_t worker;  // index in the pool's roster
  std::uint64_t call_id;
  std::uint64_t started_us, ended_us;  // the worker's wall clock, microseconds since the epoch
  bool ok;
  std::shared_ptr<TaskState> state;  // for the task's name
};

class TaskObserver {
 public:
  virtual ~TaskObserver() = default;
  virtual void call_finished(FinishedCall call) = 0;
  /// The pool has shut down (or broken); `workers` is every worker it has had.
  virtual void pool_ended(Mode mode, const WorkerRoster& workers) = 0;
};

/// Records every call and writes a Chrome trace-event file (Perfetto, chrome://tracing) to `path`
/// when the pool ends: one track per worker.
std::unique_ptr<TaskObserver> make_chrome_trace(std::string path);

}  // namespace spawnpool::detail
