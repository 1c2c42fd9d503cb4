#pragma once
// The manager's engine behind an Executor: the progress loop, submission, results and shutdown.
// Its parts each own their piece of state:
//   worker_link.hpp        a communicator to workers and its transport (closes itself)
//   worker_roster.hpp      the workers: identity, state, messages in flight, counters
//   scheduling_policy.hpp  which worker gets the next message, and how many calls it carries
//   worker_health.hpp      heartbeats, process checks, silence; lost workers' dying processes
//   worker_replacement.hpp starting a replacement worker beside the work
//   placement.hpp          which host each spawned worker (and replacement) goes to; lost hosts
//   greeting.hpp           Hello / Ready with the workers a pool starts with
//   result_delivery.hpp    completing futures from a worker's results
//   task_observer.hpp      the Chrome trace, as an observer of finished calls
//
// One progress thread makes every MPI call to the workers, except while a user thread waits for one
// of the pool's futures: that thread then polls itself for a short while (drive(), see
// progress_driver.hpp) and the progress thread steps aside. submit() sends its work itself when
// nobody else is polling, else queues it (enqueue).
//
// The progress loop, each turn: take newly queued work; send work to workers with free slots;
// complete finished sends; receive results and complete futures; receive control messages; check
// the workers' health; advance a replacement; then poll again at once if anything happened, or back
// off (spin, then sleep; a submit wakes it).
//
// Lost workers: a worker is lost when it reports its own death (crash signal, exit() in a task,
// task timeout), when its process is gone (same host), when it is silent past the heartbeat timeout
// (spawned workers), or when MPI fails talking to it. The call it was running fails with WorkerLost
// (or Timeout); calls queued behind it that never started go back to the queue; in spawn mode a
// replacement is started so the pool keeps its size, on a host that is not lost (placement.hpp); when
// no host has room, none is started and the pool shrinks. In static, communicator and service mode a lost
// rank is not replaced; the pool goes on with the others, and with none left every pending future
// fails with BrokenExecutor. (With MPICH a rank of the same job that dies makes hydra end the whole
// job: there the launcher, not spawnpool, decides.)

#include "backoff.hpp"
#include "call_queue.hpp"
#include "greeting.hpp"
#include "placement.hpp"
#include "scheduling_policy.hpp"
#include "task_observer.hpp"
#include "transport.hpp"
#include "wire.hpp"
#include "worker_health.hpp"
#include "worker_link.hpp"
#include "worker_replacement.hpp"
#include "worker_roster.hpp"

#include "spawn/launch.hpp"

#include <spawnpool/detail/progress_driver.hpp>
#include <spawnpool/detail/work_item.hpp>
#include <spawnpool/options.hpp>
#include <spawnpool/runtime.hpp>
#include <spawnpool/stats.hpp>

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
  /// Spawn mode: processes per worker. 1: ordinary workers. k > 1: each "worker" is a group of k
  /// processes started by one MPI_Comm_spawn (maxprocs = k) for k-rank tasks; the pool talks to
  /// its rank 0 (rank_groups.hpp, rank_group.hpp).
  int ranks_per_worker = 1;
  int min_workers = 0;  // soft spawn: fewer than `workers` (but at least this many) is acceptable
  HostPlan hosts;  // where each worker goes (no hosts: the launcher's choice)
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
  int num_workers() const { return roster_.live(); }
  /// True when calls are written to a trace file (each call its own event).
  bool traced() const { return observer_ != nullptr; }
  Mode mode() const noexcept { return setup_.mode; }
  /// Id, rank, host and pid of each live worker.
  std::vector<WorkerInfo> worker_infos() const { return roster_.infos(); }
  /// A snapshot of the counters.
  Stats stats() const { return roster_.stats(submitted_calls_); }

  /// ProgressDriver: a thread waiting for one of this pool's futures polls for it.
  void drive(const TaskState& state, std::chrono::steady_clock::time_point deadline) noexcept override;

 private:
  // Starting and ending (pool_core.cpp).
  void start_workers();
  /// After a failed start: tells every started worker to leave, waits at most kStartGoodbyeLimit
  /// for each one's answer, disconnects the links of those that answered (they wait for that in
  /// MPI_Comm_disconnect) and frees the others.
  void end_started_workers() noexcept;
  static constexpr std::chrono::seconds kStartGoodbyeLimit{2};
  /// Spawn mode: spawns setup_.workers workers, side by side (at most kSpawnsAtOnce at a time, of
  /// mpi_flavor.hpp), each on its own link; fewer when some fail but at least setup_.min_workers
  /// (and one) start and MPI is not left stuck.
  /// @throws SpawnError when fewer start (the started ones are in links_ and roster_)
  void spawn_all_workers(std::chrono::steady_clock::time_point deadline);
  /// A spawn is not begun with less of the start's time left (or a quarter of the spawn timeout,
  /// when that is less): it would most likely time out and leave its helper thread inside
  /// MPI_Comm_spawn (and MPI unfinalizable).
  static constexpr std::chrono::milliseconds kLeastTimeForASpawn{1000};
  /// Why the start ends after `started` workers: the spawn timeout is used up (naming it).
  std::string start_out_of_time(int started) const;
  /// A request for one worker and the host the plan chose for it (none: the launcher chooses).
  struct PlacedRequest {
    SpawnRequest request;
    std::vector<std::size_t> hosts;  // of each process in setup_.hosts, counted there until released
  };
  /// The next worker's request; nullopt when the plan has no live host with room left.
  std::optional<PlacedRequest> request_for_next_worker();
  /// Adds a spawned worker (rank 0 of its own `link`, id `id`, placed on `hosts`) to links_ and
  /// roster_, starting; returns its index in the roster.
  std::size_t add_spawned(std::unique_ptr<WorkerLink> link, int id, std::vector<std::size_t> hosts);
  void take_ready(Worker& w, const Ready& ready);
  void say_goodbye();
  void fail_all(const std::exception_ptr& error);

  // The progress loop (progress_loop.cpp).
  void run();
  bool poll_turn();
  bool work_outstanding() const;
  /// No worker has calls of this pool that it has not answered yet.
  bool nothing_in_flight() const;
  bool dispatch_now() noexcept;
  bool take_queued();
  bool dispatch();
  /// The queue's front item is a k-rank call (static, communicator mode): sends it to a group of k
  /// idle ranks, of one host or spread over the hosts (group_ranks.hpp; kGroup to each, then the
  /// call to the first). False when there are not such k idle ranks: it waits, and so does
  /// everything queued behind it (no stream of ordinary tasks starves it).
  bool dispatch_group();
  void send_message(std::size_t worker, SentMessage message);
  bool receive();
  bool receive_control();
  /// Static mode: whether its ranks send heartbeats, and taking them in (static_rank_heartbeats.hpp).
  bool static_heartbeats() const;
  void receive_static_heartbeats();
  /// A worker's LossReport (`in`): the worker is lost, with the cause it gave.
  void take_loss_report(std::size_t worker, const Transport::Incoming& in);
  bool watch_workers();
  void send_heartbeats_if_due(std::chrono::steady_clock::time_point now);
  void handle_results(std::size_t worker, const Transport::Incoming& in, Transport& transport);
  /// `cause`: why, for WorkerLost ("killed by signal 9 (SIGKILL)"). `timeout_predicate`: for a task
  /// that timed out, what it did ("ran longer than ..."): its call gets Timeout, not WorkerLost.
  /// `reported`: the worker sent a LossReport (it is ending by itself).
  void lose_worker(std::size_t worker, const std::string& cause, std::uint64_t running_call,
                   const std::string& timeout_predicate, bool reported = false);
  /// Worker `index`, a follower in a k-rank call's group, is lost (`cause`, `timeout_predicate`
  /// as lose_worker's): the call fails with WorkerLost naming its rank (or Timeout).
  void lose_group_member(std::size_t index, const std::string& cause,
                         const std::string& timeout_predicate);
  bool replace_lost_workers();
  /// A worker on another host went silent past the heartbeat timeout: its host is lost unless
  /// another worker there was heard from lately (placement.hpp).
  void check_host_of_silent_worker(std::size_t worker);
  /// Log line and counter for a lost worker that is not replaced (no host has room).
  void shrink_pool();
  void give_up_replacing(const std::string& reason);
  void break_executor(const std::string& reason);

  PoolSetup setup_;
  std::chrono::milliseconds shutdown_timeout_;
  PollSettings poll_;
  Greeting greeting_;  // what every worker is greeted with (settings, set-up)
  std::vector<std::unique_ptr<WorkerLink>> links_;
  WorkerRoster roster_;
  int next_spawned_id_ = 1;  // spawn mode: the id of the next worker started (worker_roster.hpp)
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<std::uint64_t> submitted_calls_{0};
  std::unique_ptr<TaskObserver> observer_;  // the trace file, if any

  // Shared with user threads.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<WorkItem> submitted_;
  bool stop_requested_ = false;
  bool cancel_requested_ = false;
  std::string broken_reason_;
  std::atomic<bool> broken_{false};  // broken_reason_ is set: send nothing more

  // The engine: whoever polls (the progress thread, or a waiting thread in drive()).
  CallQueue queue_;
  SchedulingPolicy policy_;
  WorkerHealth health_;
  /// How often the progress loop looks for control messages (poll_turn).
  static constexpr std::chrono::microseconds kControlInterval{1000};
  std::chrono::steady_clock::time_point next_control_look_{};
  std::size_t replacements_wanted_ = 0;
  std::unique_ptr<WorkerReplacement> replacement_;  // at most one started at a time
  std::vector<std::size_t> replacement_hosts_;      // its processes' hosts in setup_.hosts, if placed
  std::string replacement_failure_;  // why the last replacement could not be started

  // Who polls. engine_ is held by whoever polls and guards everything of "the engine" above.
  std::mutex engine_;
  bool finished_ = false;              // engine_: the progress loop has ended
  std::exception_ptr driver_error_;    // engine_: a driver's failure, rethrown by the progress thread
  std::atomic<int> drivers_{0};        // threads in drive() (at most one polls)
  /// engine_: the future a driver waits for, while it polls; receive() stops once it is ready.
  const TaskState* awaited_ = nullptr;
  bool handed_over_ = false;           // mutex_: a driver left work outstanding
  std::atomic<bool> sleeping_long_{false};  // the progress thread sleeps kLongSleep or more
  std::shared_ptr<DriverLink> driver_link_ = std::make_shared<DriverLink>(this);

  std::mutex join_mutex_;
  std::thread progress_;
};

}  // namespace spawnpool::detail
