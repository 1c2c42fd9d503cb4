#pragma once
// The watch thread of a spawned worker. Next to the serve loop it
//  - sends the manager a heartbeat every second, even while a long task runs;
//  - watches the manager: when the manager's process is gone (same host) or silent for longer than
//    the heartbeat timeout, the worker exits: no orphan outlives its manager;
//  - enforces the task timeout: a call running longer is reported and the worker exits, so that the
//    manager fails that call with Timeout and starts a replacement (a spawned worker);
//  - reports the worker's own death: a crash signal (SIGSEGV, SIGABRT, ...) or exit() called by a
//    task is caught, the cause and the running call are sent to the manager, then the worker dies
//    as it would have. SIGKILL cannot be caught; the manager notices the process is gone instead.
// A rank of a static job or communicator pool (Settings::shared_rank) gets a smaller sentinel: its
// communicator is shared by the manager's executors, so it reports a death to every executor it
// serves, and a static job's rank sends a heartbeat every second to the manager as a whole
// (static_rank_heartbeats.hpp). It watches no heartbeats from the manager (its launcher ends it).
// It enforces the task timeout of the executor whose call runs (set_task_timeout: executors
// sharing the rank may differ): the call is reported as a timeout and the rank ends, since a task
// cannot be stopped any other way and the rank cannot serve again while it runs; a static rank is
// not replaced (the pool goes on without it). (spawnpool::serve refuses a task timeout, so a
// communicator-mode rank meets none; were it to, it would end with status 124.) A static rank
// (Settings::static_rank) whose report reached the manager then exits 0 and permits its launcher
// guard to tell hydra it ended in order: its launcher (mpiexec, srun) combines every rank's exit
// status into the job's, which so stays what the manager's main made it, and the manager's
// WorkerLost says what happened. Without a delivered report it dies as it would have (the
// launcher then ends the job rather than leave a manager waiting for a rank it thinks alive).
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
#include <vector>

namespace spawnpool::detail {

/// Tells the manager, through this worker's sentinel, that the worker is ending for `cause`, and
/// waits (at most 2 s) until the report is sent; the caller then ends the process. False when no
/// sentinel is armed in this process (not a spawned worker, or a forked copy of one). Used for
/// ends no signal or exit() shows: MPI_Abort and MPI_Finalize called in a task.
bool report_worker_end(LossReport::Cause cause, int number) noexcept;

/// The status a worker that reported its own end exits with: `status`, or 0 for a static rank
/// (see above).
int status_after_report(int status) noexcept;

/// A static group's follower (rank_group.hpp) brackets its share of a k-rank call, from the call's
/// arrival until the leader dismisses the group, with these: the task timeout then runs on it too,
/// so that every rank of a deadlocked group ends on its own clock. No-ops without an armed
/// sentinel in this process (a spawned group's follower).
void group_share_started() noexcept;
void group_share_finished() noexcept;

/// False in a static or communicator-mode rank with an armed sentinel, whose MPI_COMM_WORLD holds
/// the manager and the other ranks too; true otherwise.
bool world_is_this_worker() noexcept;

class WorkerSentinel {
 public:
  struct Settings {
    MPI_Comm control = MPI_COMM_NULL;  // the worker's intercommunicator (control tag); manager is rank 0
    long manager_pid = 0;
    std::string manager_host;
    std::chrono::milliseconds task_timeout{0};  // 0: no limit; a shared rank: set_task_timeout
    std::chrono::milliseconds manager_silence_limit{30000};
    bool shared_rank = false;  // a static or communicator-mode rank (see above)
    bool static_rank = false;  // with shared_rank: a static job's rank (see above)
  };

  /// Installs the crash handlers and starts the watch thread. One per process.
  explicit WorkerSentinel(Settings settings);
  /// Disarms the handlers, restores the program's own, and stops the thread (a normal end).
  ~WorkerSentinel();
  /// The manager released this worker: from now on the manager's end is no reason to exit.
  void stop_watching() noexcept;
  WorkerSentinel(const WorkerSentinel&) = delete;
  WorkerSentinel& operator=(const WorkerSentinel&) = delete;

  /// The serve loop brackets every call with these.
  void call_started(std::uint64_t call_id, std::string_view task_name);
  void call_finished();
  /// A shared rank's serve loop keeps these up to date: the session tags of the executors it
  /// serves (its loss report goes to each), and the tag of the message it is running.
  void set_sessions(std::vector<int> session_tags);
  void set_running_session(int tag) noexcept { running_session_ = tag; }
  /// A shared rank's serve loop sets the task timeout of the executor whose message runs next
  /// (0: no limit).
  void set_task_timeout(std::chrono::milliseconds timeout) noexcept {
    task_timeout_ms_ = timeout.count();
  }

 private:
  void watch();
  /// Sends the loss report; true when it was delivered.
  bool report_and_release(LossReport::Cause cause, long number);
  /// Whether a call runs and has run longer than the task timeout.
  bool past_timeout() const noexcept;
  /// The running call is past its task timeout: reports it and ends the process (status 124, or
  /// 0 for a static rank whose report was delivered).
  [[noreturn]] void end_past_timeout();

  Settings settings_;
  std::atomic<bool> stop_{false};
  int wake_pipe_[2] = {-1, -1};  // stop -> watch thread: look at stop_ now, not at its next turn
  std::atomic<std::int64_t> call_started_ns_{0};  // 0: no call running
  std::atomic<std::uint64_t> call_id_{0};
  std::mutex task_mutex_;
  std::string task_name_;
  std::vector<int> sessions_;  // under task_mutex_
  std::atomic<int> running_session_{-1};
  std::atomic<std::int64_t> task_timeout_ms_{0};  // 0: no limit
  std::thread thread_;
};

}  // namespace spawnpool::detail
