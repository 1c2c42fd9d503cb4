#pragma once
// The watch thread of a spawned worker. Next to the serve loop it
//  - sends the manager a heartbeat every second, even while a long task runs;
//  - watches the manager: when the manager's process is gone (same host) or silent for longer than
//    the heartbeat timeout, the worker exits: no orphan outlives its manager;
//  - enforces the task timeout: a call running longer is reported and the worker exits, so that the
//    manager fails that call with Timeout and starts a replacement;
//  - reports the worker's own death: a crash signal (SIGSEGV, SIGABRT, ...) or exit() called by a
//    task is caught, the cause and the running call are sent to the manager, then the worker dies
//    as it would have. SIGKILL cannot be caught; the manager notices the process is gone instead.
// Needs MPI_THREAD_MULTIPLE (its MPI calls run beside the serve loop's).

#include "control_messages.hpp"

#include <mpi.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace spawnpool::detail {

/// Tells the manager, through this worker's sentinel, that the worker is ending for `cause`, and
/// waits (at most 2 s) until the report is sent; the caller then ends the process. False when no
/// sentinel is armed in this process (not a spawned worker, or a forked copy of one). Used for
/// ends no signal or exit() shows: MPI_Abort and MPI_Finalize called in a task.
bool report_worker_end(LossReport::Cause cause, int number) noexcept;

class WorkerSentinel {
 public:
  struct Settings {
    MPI_Comm control = MPI_COMM_NULL;  // the worker's intercommunicator (control tag); manager is rank 0
    long manager_pid = 0;
    std::string manager_host;
    std::chrono::milliseconds task_timeout{0};  // 0: no limit
    std::chrono::milliseconds manager_silence_limit{30000};
  };

  /// Installs the crash handlers and starts the watch thread. One per process.
  explicit WorkerSentinel(Settings settings);
  /// Disarms the handlers and stops the thread (a normal end of the worker).
  ~WorkerSentinel();
  WorkerSentinel(const WorkerSentinel&) = delete;
  WorkerSentinel& operator=(const WorkerSentinel&) = delete;

  /// The serve loop brackets every call with these.
  void call_started(std::uint64_t call_id, std::string_view task_name);
  void call_finished();

 private:
  void watch();
  void report_and_release(LossReport::Cause cause, long number);

  Settings settings_;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> call_started_ns_{0};  // 0: no call running
  std::atomic<std::uint64_t> call_id_{0};
  std::mutex task_mutex_;
  std::string task_name_;
  std::thread thread_;
};

}  // namespace spawnpool::detail
