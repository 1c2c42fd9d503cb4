#pragma once
// Observers of an executor's work: the engine reports each worker that is ready, each batch of
// finished calls (one results message) and each worker lost, and an observer records what it
// wants. The Chrome trace (chrome_trace.cpp) is one.
// Called from the engine's thread only (the progress thread or a driving waiter, never both).

#include "worker_roster.hpp"

#include <spawnpool/runtime.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spawnpool::detail {

struct FinishedCall {
  std::uint64_t call_id;
  std::uint64_t started_us, ended_us;  // the worker's wall clock, microseconds since the epoch
  bool ok;
  std::string_view task_name;  // valid during calls_finished()
};

class TaskObserver {
 public:
  virtual ~TaskObserver() = default;
  /// `worker` has answered its Hello: its id, pid and host are known.
  virtual void worker_ready(const Worker& worker) = 0;
  /// The calls of one results message from `worker`, in the order they ran.
  virtual void calls_finished(const Worker& worker, const std::vector<FinishedCall>& calls) = 0;
  /// `worker` was lost, for `cause`.
  virtual void worker_lost(const Worker& worker, const std::string& cause) = 0;
};

/// The Chrome trace-event timeline of one executor, in the file at `path` (Options::trace_file,
/// SPAWNPOOL_TRACE). Every executor of the program that names the same path writes into the same
/// file, each as a process of its own (a "pid" named "spawnpool executor <n> (...)" by a
/// process_name event, n = 1, 2, ... in the order the executors started) with one thread (tid)
/// per worker (named "worker <id> (...)"); pids and tids are unique in the file. The file is
/// created (emptied) by the first executor of the program that names it, and events are written
/// as they happen, each batch with one write, so that the file is a complete JSON array after
/// every batch: a program that is killed leaves a file that loads. Null when the file cannot be
/// written (logged as an error; the executor runs without a trace).
/// Thread-safe: executors at once share the file.
std::unique_ptr<TaskObserver> make_chrome_trace(const std::string& path, Mode mode);

}  // namespace spawnpool::detail
