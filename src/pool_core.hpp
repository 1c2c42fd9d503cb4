#pragma once
// The manager's engine behind an Executor: one progress thread that makes every MPI call to the
// workers, except while a user thread waits for one of the pool's futures: that thread then polls
// itself for a short while (drive(), see progress_driver.hpp) and the progress thread steps aside.
// User threads otherwise only queue encoded work (enqueue).
//
// The progress loop, each turn: take newly queued work; send work to workers that have fewer than
// `pipeline_depth` messages in flight; complete finished sends; receive results and complete
// futures; watch the workers' health; then poll again at once if anything happened, or back off
// (spin, then sleep; a submit wakes it).
//
// Scheduling adapts to the measured task duration (workers report the time they spent running each
// message). Short tasks (well under the cost of a message) are packed several to a message when the
// queue is long; long tasks (over 5 ms) go one at a time to whichever worker is free, as with
// mpi4py.futures, so no task waits behind a long one while another worker idles.
//
// Lost workers (spawn mode): each spawned worker has its own intercommunicator, on which a control
// tag carries heartbeats and loss reports. A worker is lost when it reports its own death
// (crash signal, exit() in a task, task timeout), when its process is gone (same host; checked
// every 0.1 s), when it is silent past the heartbeat timeout, or when MPI fails talking to it. The
// call it was running fails with WorkerLost (or Timeout); calls queued behind it that never started
// go back to the queue; a replacement worker is spawned so the pool keeps its size (in the
// background: the others go on serving and hearing from the manager meanwhile). In static,
// communicator and service mode the only check is the process check (same host): a lost rank is
// not replaced, the pool goes on with the others, and with none left every pending future fails
// with BrokenExecutor. (With MPICH 4.0 a rank of the same job that dies makes hydra end the whole
// job, -disable-auto-cleanup or not: measured; the launcher, not spawnpool, decides there.)

#include "backoff.hpp"
#include "transport.hpp"
#include "wire.hpp"

#include "spawn/launch.hpp"

#include <spawnpool/detail/progress_driver.hpp>
#include <spawnpool/detail/work_item.hpp>
#include <spawnpool/executor.hpp>
#include <spawnpool/options.hpp>
#include <spawnpool/runtime.hpp>

#include <mpi.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace spawnpool::detail {

/// Where an executor's workers come from.
struct PoolSetup {
  Mode mode = Mode::spawn;
  int tag = 0;  // the session's message tag (wire::session_tag)
  /// Spawn mode: the request for one worker; spawned `workers` times, each on its own link.
  std::optional<SpawnRequest> spawn;
  int workers = 0;
  int min_workers = 0;  // soft spawn: fewer than `workers` (but at least this many) is acceptable
  std::vector<std::string> hosts;  // worker i on hosts[i % size] (empty: the launcher's choice)
  /// Static / communicator mode: a communicator shared with the workers (not owned) and their ranks.
  MPI_Comm shared_comm = MPI_COMM_NULL;
  std::vector<int> shared_ranks;
  bool own_shared_comm = false;  // service mode: disconnect it at the end (the workers stay up)
  std::string worker_program;  // for messages
  std::chrono::milliseconds start_timeout{60000};
};

class PoolCore final : public ProgressDriver {
 public:
  /// Starts (spawn mode) or greets (other modes) the workers and waits until every one has
  /// answered, then starts the progress thread.
  /// @throws SpawnError when a worker cannot be started, does not answer in time, or speaks
  ///         another protocol version
  PoolCore(PoolSetup setup, const Options& options);
  ~PoolCore() override;
  PoolCore(const PoolCore&) = delete;
  PoolCore& operator=(const PoolCore&) = delete;

  std::uint64_t reserve_ids(std::size_t count) { return next_id_.fetch_add(count); }
  /// @throws BrokenExecutor after shutdown or a fatal error
  void enqueue(WorkItem item);
  void shutdown(bool wait, bool cancel_pending);
  /// Workers currently serving (lost ones excluded, replacements included).
  int num_workers() const noexcept { return live_workers_.load(); }
  Mode mode() const noexcept { return setup_.mode; }
  /// Rank, host and pid of each live worker.
  std::vector<WorkerInfo> worker_infos() const;
  /// A snapshot of the counters.
  Stats stats() const;

  /// ProgressDriver: a thread waiting for one of this pool's futures polls for it.
  void drive(const TaskState& state, std::chrono::steady_clock::time_point deadline) noexcept override;

 private:
  struct Link {
    MPI_Comm comm = MPI_COMM_NULL;  // session traffic, and on spawned links the control tag too
    std::unique_ptr<Transport> transport;
    bool owned = false;    // spawned / service: disconnect (or free, if a worker was lost) at the end
    bool watched = false;  // spawned: heartbeats, loss reports and process checks
  };
  struct SentMessage {
    std::shared_ptr<Buffer> message;
    OutOfBand out_of_band;  // kept (with its owners) to send again if the worker is lost
    std::vector<PendingCall> calls;
  };
  enum class WorkerState { kStarting, kReady, kLost, kLeft };
  struct Worker {
    std::size_t link = 0;
    int rank = -1;
    std::string host;
    long pid = 0;
    bool same_host = false;
    WorkerState state = WorkerState::kStarting;
    std::deque<SentMessage> sent;  // messages in flight, oldest (being run) first
    std::chrono::steady_clock::time_point last_heard;
    std::uint64_t calls_answered = 0;
    std::uint64_t busy_ns = 0;
  };
  /// A replacement worker being started (spawn mode), off to the side: its spawn runs on a helper
  /// thread and its greeting is polled, so the progress loop keeps serving (and heartbeating) the
  /// other workers meanwhile. It joins links_ and workers_ once it has answered.
  struct Replacement {
    PendingSpawn spawn;
    std::chrono::steady_clock::time_point deadline;  // spawn, hello and answer
    Link link;  // comm set once the spawn has returned
    Worker worker;
  };
  /// One finished call, for the trace file.
  struct TraceEvent {
    std::size_t worker;
    std::uint64_t call_id, started_us, ended_us;
    bool ok;
    std::shared_ptr<TaskState> state;  // for the task name
  };

  void add_spawned_worker(std::chrono::steady_clock::time_point deadline);
  void greet(const std::vector<std::size_t>& workers, std::chrono::steady_clock::time_point deadline);
  void send_hello(Transport& transport, int rank);
  /// A worker's answer during start-up; a message this manager cannot decode is a SpawnError.
  std::optional<Transport::Incoming> receive_answer(Transport& transport, int source);
  /// Takes a worker's Ready answer: its identity, and a failed set-up (which breaks the executor).
  void take_ready(Worker& w, const Transport::Incoming& in);
  void run();
  bool poll_turn();
  bool work_outstanding() const;
  bool dispatch_now() noexcept;
  bool take_queued();
  bool dispatch();
  bool receive();
  bool receive_control();
  bool watch_workers();
  void handle_results(std::size_t worker, const Transport::Incoming& in, Transport& transport);
  /// A result decoded on arrival (one with out-of-band blocks), or why it could not be.
  struct Decoded {
    std::shared_ptr<void> value;
    std::exception_ptr error;
  };
  /// Decodes the results that have out-of-band blocks and receives those blocks into them.
  std::vector<Decoded> receive_decoded(const Transport::Incoming& in,
                                       const std::vector<wire::ResultView>& results,
                                       const std::vector<std::shared_ptr<TaskState>>& states,
                                       Transport& transport, const Worker& worker);
  void lose_worker(std::size_t worker, const std::string& cause, std::uint64_t running_call,
                   bool timed_out);
  bool replace_lost_workers();
  void give_up_replacing(const std::string& reason);
  bool lost_processes_gone();
  void say_goodbye();
  void fail_all(const std::exception_ptr& error);
  void write_trace() const;
  std::size_t worker_at(std::size_t link, int rank) const;
  void record_busy_time(std::uint64_t nanoseconds, std::uint32_t calls);
  int effective_depth() const;
  std::size_t batch_limit() const;
  std::string describe(const Worker& w) const;

  PoolSetup setup_;
  int pipeline_depth_;
  std::size_t max_batch_;
  std::chrono::milliseconds shutdown_timeout_;
  std::chrono::milliseconds task_timeout_;
  std::chrono::milliseconds heartbeat_timeout_;
  PollSettings poll_;
  std::vector<std::string> hello_;  // what every worker is greeted with (settings, set-up)
  std::vector<Link> links_;
  std::vector<Worker> workers_;
  std::atomic<int> live_workers_{0};
  std::atomic<std::uint64_t> next_id_{1};
  mutable std::mutex infos_mutex_;  // guards workers_' identity, state and counters for readers
  std::uint64_t completed_ = 0, failed_ = 0, cancelled_ = 0, workers_lost_ = 0;  // infos_mutex_
  std::atomic<std::uint64_t> submitted_calls_{0};
  std::string trace_file_;
  std::vector<TraceEvent> trace_;  // progress thread only

  // Shared with user threads.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<WorkItem> submitted_;
  bool stop_requested_ = false;
  bool cancel_requested_ = false;
  std::string broken_reason_;
  std::atomic<bool> broken_{false};  // broken_reason_ is set: send nothing more

  // Progress thread only.
  std::deque<WorkItem> queue_;
  std::size_t queued_calls_ = 0;
  std::size_t next_worker_ = 0;
  double mean_call_ns_ = -1;  // moving average of a call's run time on a worker; -1: not known yet
  std::size_t replacements_wanted_ = 0;
  std::optional<Replacement> replacement_;  // at most one started at a time
  std::string replacement_failure_;         // why the last replacement could not be started
  // Processes of lost workers on this host, and when they were lost: a replacement is spawned only
  // once they are gone (or after a grace period): spawning while hydra is still handling a dying
  // process was seen to hang MPI_Comm_spawn.
  std::vector<std::pair<long, std::chrono::steady_clock::time_point>> dying_;
  std::chrono::steady_clock::time_point next_heartbeat_;
  std::chrono::steady_clock::time_point next_liveness_check_;

  // The engine: held by whoever polls (the progress thread, or a waiting thread in drive()); guards
  // everything marked "progress thread only" above.
  std::mutex engine_;
  bool finished_ = false;              // engine_: the progress loop has ended
  std::exception_ptr driver_error_;    // engine_: a driver's failure, rethrown by the progress thread
  std::atomic<int> drivers_{0};        // threads in drive() (at most one polls)
  bool handed_over_ = false;           // mutex_: a driver left work outstanding
  std::atomic<bool> sleeping_long_{false};  // the progress thread sleeps kLongSleep or more
  std::shared_ptr<DriverLink> driver_link_ = std::make_shared<DriverLink>(this);

  std::mutex join_mutex_;
  std::thread progress_;
};

}  // namespace spawnpool::detail
