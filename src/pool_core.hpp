#pragma once
// The manager's engine behind an Executor: one progress thread that owns every MPI call to the
// workers. User threads only queue encoded work (enqueue) and wait on futures.
//
// The progress loop, each turn: take newly queued work; send work to workers that have fewer than
// `pipeline_depth` messages in flight; complete finished sends; receive results and complete
// futures; then poll again at once if anything happened, or back off (spin, then sleep up to
// poll_max_sleep; a submit wakes it).
//
// Scheduling adapts to the measured task duration (workers report the time they spent running each
// message). Short tasks (well under the cost of a message) are packed several to a message when the
// queue is long; long tasks (over 5 ms) go one at a time to whichever worker is free, as with
// mpi4py.futures, so no task waits behind a long one while another worker idles.

#include "backoff.hpp"
#include "transport.hpp"

#include <spawnpool/detail/work_item.hpp>
#include <spawnpool/executor.hpp>
#include <spawnpool/options.hpp>
#include <spawnpool/runtime.hpp>

#include <mpi.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace spawnpool::detail {

/// Where an executor's workers are.
struct PoolChannel {
  MPI_Comm comm = MPI_COMM_NULL;
  int tag = 0;                    // the session's message tag (wire::session_tag)
  std::vector<int> worker_ranks;  // ranks in comm (the remote group, for an intercommunicator)
  bool disconnect_at_end = true;  // own intercomm: disconnect after goodbye; shared comm: keep it
};

class PoolCore {
 public:
  /// Uses `channel`, whose workers are waiting for a hello. Greets them and waits (until
  /// `ready_deadline`) for every one to answer, then starts the progress thread.
  /// @throws SpawnError when a worker does not answer in time or speaks another protocol version
  PoolCore(PoolChannel channel, Mode mode, const Options& options, std::string worker_program,
           std::chrono::steady_clock::time_point ready_deadline);
  ~PoolCore();
  PoolCore(const PoolCore&) = delete;
  PoolCore& operator=(const PoolCore&) = delete;

  std::uint64_t reserve_ids(std::size_t count) { return next_id_.fetch_add(count); }
  /// @throws BrokenExecutor after shutdown or a fatal error
  void enqueue(WorkItem item);
  void shutdown(bool wait, bool cancel_pending);
  int num_workers() const noexcept { return static_cast<int>(workers_.size()); }
  /// Rank, host and pid of each worker (fixed once the constructor has returned).
  std::vector<WorkerInfo> worker_infos() const;
  Mode mode() const noexcept { return mode_; }

 private:
  struct Worker {
    int rank = -1;
    std::string host;
    long pid = 0;
    int messages_in_flight = 0;
    bool said_bye = false;
  };
  struct InFlight {
    std::shared_ptr<TaskState> state;
    std::size_t worker;
  };

  void greet_workers(std::chrono::steady_clock::time_point deadline);
  void run();
  bool take_queued();
  bool dispatch();
  bool receive();
  void handle_results(const Transport::Incoming& in);
  void say_goodbye();
  void record_busy_time(std::uint64_t nanoseconds, std::uint32_t calls);
  int effective_depth() const;
  std::size_t batch_limit() const;
  void fail_all(const std::exception_ptr& error);
  std::size_t worker_index(int rank) const;

  MPI_Comm comm_;
  int tag_;
  bool disconnect_at_end_;
  Mode mode_;
  std::string worker_program_;
  int pipeline_depth_;
  std::size_t max_batch_;
  std::chrono::milliseconds shutdown_timeout_;
  PollSettings poll_;
  Transport transport_;
  std::vector<Worker> workers_;
  std::atomic<std::uint64_t> next_id_{1};

  // Shared with user threads.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<WorkItem> submitted_;
  bool stop_requested_ = false;
  bool cancel_requested_ = false;
  std::string broken_reason_;

  // Progress thread only.
  std::deque<WorkItem> queue_;
  std::size_t queued_calls_ = 0;
  std::unordered_map<std::uint64_t, InFlight> in_flight_;
  std::size_t next_worker_ = 0;
  double mean_call_ns_ = -1;  // moving average of a call's run time on a worker; -1: not known yet

  std::mutex join_mutex_;
  std::thread progress_;
};

}  // namespace spawnpool::detail
