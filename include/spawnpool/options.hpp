#pragma once
/// @file options.hpp
/// Options for an Executor, set by chained calls:
/// @code
///   spawnpool::Executor pool(spawnpool::Options{}.max_workers(4).pipeline_depth(2));
/// @endcode
/// Every setting has an environment variable or a sensible default, listed at each setter. A
/// variable is read only for a setting left unset here; an invalid value is a ConfigError from
/// the executor's constructor (README, "Environment variables").

#include <spawnpool/detail/encode_calls.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace spawnpool {

/// Where a pool's spawned workers go over its hosts (Options::placement).
enum class Placement {
  /// Round robin: each worker to the host with the fewest processes (its workers, and the
  /// manager where it holds one of the host's slots) among those with a free slot (or unknown
  /// slots), the first listed on a tie; once every slot is taken, the same over every host.
  /// Spreads failures and memory over the hosts.
  spread,
  /// Fill each host, in the order listed, to its slots (or to max_workers_per_host when its slots
  /// are unknown) before the next: as few hosts as possible.
  pack,
};

/// Settings of an Executor. Setters only store; the Executor's constructor checks the values and
/// throws ConfigError for one out of its range (a count below 1, a timeout of 0 or less except
/// task_timeout and shutdown_timeout, which may be 0), before anything starts.
class Options {
 public:
  /// Number of workers. Default: $SPAWNPOOL_MAX_WORKERS, else MPI_UNIVERSE_SIZE - 1 when the launcher
  /// set a universe larger than one, else the slots of the hosts the workers are placed on minus
  /// the manager's when every host's slots are known (hosts() "name:n", hostfile()), else inside a
  /// Slurm job its task slots minus one (SLURM_NTASKS, else the CPUs of all its nodes), else the
  /// number of cores. Must be >= 1.
  Options& max_workers(int n) { max_workers_ = n; return *this; }

  /// Soft spawn: accept a pool of at least `n` workers when fewer than max_workers can be started
  /// (the MPI refuses more processes, e.g. no free slots); a warning names how many started.
  /// Default: max_workers (all must start, else SpawnError). Spawn mode only. From 1 to max_workers
  /// (its default when it is not set), else the Executor's constructor throws ConfigError.
  Options& min_workers(int n) { min_workers_ = n; return *this; }

  /// Hosts to start workers on (spawn mode): "name", or "name:n" for a host that should run n
  /// processes (its slots). Which worker goes where: placement() and max_workers_per_host().
  /// Default: the hostfile's hosts, else inside a Slurm allocation of several nodes its nodes
  /// with their task slots (the manager taking one on its node), else wherever the launcher puts
  /// them.
  ///
  /// The pool starts each worker with its own MPI_Comm_spawn and names its host in the MPI_Info
  /// key "host". MPICH's hydra starts the process there (host names as the launcher knows them:
  /// ssh or Slurm's node names). Open MPI also honours "host" for a host of the job's allocation
  /// (a host outside it needs the "add-host" key, and a hostfile the "hostfile" or "add-hostfile"
  /// key, which spawnpool does not set); placement under Open MPI is untested.
  Options& hosts(std::vector<std::string> names) { hosts_ = std::move(names); return *this; }

  /// A hostfile (spawn mode) whose hosts the workers are placed on, as with hosts(): one host per
  /// line, "name", "name:n" (hydra's form) or "name slots=n" (Open MPI's); '#' starts a comment.
  /// Read by the executor's constructor (ConfigError when it cannot be read or lists no host).
  Options& hostfile(std::string path) { hostfile_ = std::move(path); return *this; }

  /// How workers are spread over the known hosts (hosts(), hostfile() or the Slurm allocation;
  /// spawn mode). Replacements for lost workers follow it too, and never go to a lost host.
  /// Default: Placement::spread.
  Options& placement(Placement policy) { placement_ = policy; return *this; }

  /// At most `n` workers on one host (>= 1). Requires known hosts; more workers than hosts times
  /// `n` is a ConfigError from the executor's constructor. A lost worker's replacement that has
  /// no room on a live host is not started: the pool shrinks (Stats::workers_not_replaced).
  /// Default: no limit (a host's slots are filled first, then every host takes more evenly).
  Options& max_workers_per_host(int n) { max_workers_per_host_ = n; return *this; }

  /// Program the workers run. Default: this executable (/proc/self/exe), whose
  /// spawnpool::Runtime turns it into a worker. A dedicated worker program must create a
  /// spawnpool::Runtime too and have the tasks registered.
  Options& worker_program(std::string path) { worker_program_ = std::move(path); return *this; }

  /// A registered task run on every worker, before its first task (and on every replacement
  /// worker), e.g. to load a data set once per process. Arguments are encoded now. If it throws,
  /// the executor is broken: submit throws, and pending futures fail, with BrokenExecutor naming
  /// the initializer and its error.
  /// @throws UnregisteredTask when `fn` is not registered
  template <class R, class... P, class... A>
  Options& initializer(R (*fn)(P...), A&&... args) {
    static_assert(sizeof...(P) == sizeof...(A),
                  "spawnpool::Options::initializer: wrong number of arguments for this task");
    const detail::TaskEntry& task = detail::require_task(reinterpret_cast<detail::FunctionKey>(fn));
    // Passed as lvalues: the entry travels in the hello, so everything must be inline.
    detail::WorkItem item = detail::encode_call(fn, task, 0, args...);
    initializer_entry_ = std::make_shared<const std::string>(
        item.message.data() + detail::wire::kHeaderSize,
        item.message.size() - detail::wire::kHeaderSize);
    initializer_name_ = task.name;
    return *this;
  }

  /// Sets an environment variable in every worker before the initializer and the first task.
  /// (In static mode the workers are shared: the variable stays set for later executors too.)
  Options& env(std::string name, std::string value) {
    env_[std::move(name)] = std::move(value);
    return *this;
  }

  /// Working directory of every worker (changed before the initializer and the first task).
  /// A directory that does not exist breaks the executor (BrokenExecutor) with the reason.
  Options& working_directory(std::string path) {
    working_directory_ = std::move(path);
    return *this;
  }

  /// Use a running pool service (started with `mpiexec -n N <server program>`, see service.hpp)
  /// instead of starting workers. `address` is "file:<path>" (the server's --port-file), a name
  /// the server published with the MPI name service (--name); not a bare MPI port string (the
  /// client waits for its turn in the service's lobby, named beside the port). The executor's
  /// constructor waits in that queue at most spawn_timeout. The service's ranks become this
  /// executor's workers; shutdown leaves the service running for the
  /// next client. Only tasks registered in the server program can run there.
  Options& connect(std::string address) { connect_ = std::move(address); return *this; }

  /// Arguments for the worker program. Default: this process's own arguments.
  Options& worker_args(std::vector<std::string> args) { worker_args_ = std::move(args); return *this; }

  /// Messages in flight per worker (>= 1). More hides the round trip between tasks; fewer balances
  /// long tasks better. Default 2.
  Options& pipeline_depth(int n) { pipeline_depth_ = n; return *this; }

  /// Most calls the manager packs into one message when many small tasks are queued. Default 32.
  /// 1 sends every submit on its own.
  Options& max_batch(int n) { max_batch_ = n; return *this; }

  /// How long starting the workers may take before SpawnError. Default $SPAWNPOOL_SPAWN_TIMEOUT
  /// (seconds), else 60 s. In spawn mode the workers are started side by side (under MPICH up to 4
  /// spawns at once in the process), all within this one limit.
  Options& spawn_timeout(std::chrono::milliseconds t) { spawn_timeout_ = t; return *this; }

  /// Longest time one task may run (a k-rank task: on every rank, from the call's start until
  /// every rank is done). A task that runs longer fails with Timeout and the process(es) running
  /// it end, since a running task cannot be stopped otherwise: in spawn mode its worker (or
  /// group) is replaced; in static mode its rank(s) report and exit with status 0 and the pool
  /// goes on without them for the rest of the job (static ranks are never replaced).
  /// spawnpool::serve refuses it (ConfigError): there the rank is one of your application's
  /// processes. A pool service's ranks do not enforce it. Default: no limit.
  Options& task_timeout(std::chrono::milliseconds t) { task_timeout_ = t; return *this; }

  /// How long a spawned worker may stay silent (no heartbeat, sent every second even while a task
  /// runs) before it is declared lost. Default $SPAWNPOOL_HEARTBEAT_TIMEOUT (seconds), else 25 s.
  /// A worker on the manager's host whose process ends is noticed within about 0.1 s regardless.
  Options& heartbeat_timeout(std::chrono::milliseconds t) { heartbeat_timeout_ = t; return *this; }

  /// Groups of k processes kept for k-rank tasks of each k > 1 (TaskOptions::ranks): that many
  /// such tasks run side by side. A group is k processes started by one MPI_Comm_spawn with
  /// maxprocs = k (they share one MPI_COMM_WORLD); the groups of a k are started when the first
  /// task of that k is submitted (that submit waits for them, at most spawn_timeout) and are kept
  /// for later tasks of the same k until shutdown; tasks of that k whose ranks are spread over the
  /// hosts (TaskOptions::spread) get this many groups of their own. Groups run only k-rank tasks
  /// of their k: they are not counted in max_workers, num_workers(), workers() or stats(). A lost
  /// group is replaced as a lost worker is. Default: max_workers / k, at least 1.
  Options& rank_groups(int n) { rank_groups_ = n; return *this; }

  /// Writes a timeline of every task (worker, start, end) to `path` as results arrive, in Chrome's
  /// trace-event JSON (array form): open it in https://ui.perfetto.dev or chrome://tracing to see
  /// idle workers, stragglers and chunking. Every executor of the program that names the same path
  /// writes into that one file, as a process of its own; the first empties it. The file is valid
  /// JSON after every write, so a crashed program leaves a trace that loads. A file that cannot be
  /// written is logged as an error and the executor runs without a trace.
  /// Default: $SPAWNPOOL_TRACE, else no trace.
  Options& trace_file(std::string path) { trace_file_ = std::move(path); return *this; }

  /// How long shutdown waits for workers to say goodbye after their last task. Default 30 s.
  Options& shutdown_timeout(std::chrono::milliseconds t) { shutdown_timeout_ = t; return *this; }

  /// Polling: how long the progress thread and the workers keep spinning after the last activity
  /// before they start sleeping. Default $SPAWNPOOL_POLL_SPIN_US, else 200 us.
  Options& poll_spin(std::chrono::microseconds t) { poll_spin_ = t; return *this; }

  /// Polling: the longest sleep between two polls while idle. Default $SPAWNPOOL_POLL_MAX_SLEEP_US,
  /// else 10000 us. Sleeps also never exceed 1/20 of the time spent idle so far, so a message after
  /// a quiet period of T waits at most about min(T/20, this) longer.
  Options& poll_max_sleep(std::chrono::microseconds t) { poll_max_sleep_ = t; return *this; }

  // Read access (resolved values: defaults and environment applied by the executor).
  const std::shared_ptr<const std::string>& initializer_entry() const { return initializer_entry_; }
  const std::string& initializer_name() const { return initializer_name_; }
  const std::map<std::string, std::string>& env() const { return env_; }
  const std::string& working_directory() const { return working_directory_; }
  const std::string& trace_file() const { return trace_file_; }
  const std::string& connect() const { return connect_; }
  const std::optional<int>& max_workers() const { return max_workers_; }
  const std::optional<int>& min_workers() const { return min_workers_; }
  const std::optional<int>& rank_groups() const { return rank_groups_; }
  const std::vector<std::string>& hosts() const { return hosts_; }
  const std::string& hostfile() const { return hostfile_; }
  Placement placement() const { return placement_; }
  const std::optional<int>& max_workers_per_host() const { return max_workers_per_host_; }
  const std::string& worker_program() const { return worker_program_; }
  const std::optional<std::vector<std::string>>& worker_args() const { return worker_args_; }
  int pipeline_depth() const { return pipeline_depth_; }
  int max_batch() const { return max_batch_; }
  const std::optional<std::chrono::milliseconds>& spawn_timeout() const { return spawn_timeout_; }
  std::chrono::milliseconds shutdown_timeout() const { return shutdown_timeout_; }
  std::chrono::milliseconds task_timeout() const { return task_timeout_; }
  const std::optional<std::chrono::milliseconds>& heartbeat_timeout() const {
    return heartbeat_timeout_;
  }
  const std::optional<std::chrono::microseconds>& poll_spin() const { return poll_spin_; }
  const std::optional<std::chrono::microseconds>& poll_max_sleep() const { return poll_max_sleep_; }

 private:
  std::optional<int> max_workers_;
  std::optional<int> min_workers_;
  std::optional<int> rank_groups_;
  std::vector<std::string> hosts_;
  std::string hostfile_;
  Placement placement_ = Placement::spread;
  std::optional<int> max_workers_per_host_;
  std::shared_ptr<const std::string> initializer_entry_;
  std::string initializer_name_;
  std::map<std::string, std::string> env_;
  std::string working_directory_;
  std::string trace_file_;
  std::string connect_;
  std::string worker_program_;
  std::optional<std::vector<std::string>> worker_args_;
  int pipeline_depth_ = 2;
  int max_batch_ = 32;
  std::optional<std::chrono::milliseconds> spawn_timeout_;
  std::chrono::milliseconds shutdown_timeout_{30000};
  std::chrono::milliseconds task_timeout_{0};
  std::optional<std::chrono::milliseconds> heartbeat_timeout_;
  std::optional<std::chrono::microseconds> poll_spin_;
  std::optional<std::chrono::microseconds> poll_max_sleep_;
};

/// Per-task settings for Executor::submit.
class TaskOptions {
 public:
  /// Threads the task may use: the worker sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS,
  /// MKL_NUM_THREADS, BLIS_NUM_THREADS, VECLIB_MAXIMUM_THREADS and NUMEXPR_NUM_THREADS to `n`
  /// while the task runs (and restores them after). 0 (default): leave them alone.
  TaskOptions& threads(std::uint32_t n) { threads_ = n; return *this; }
  std::uint32_t threads() const { return threads_; }

  /// Processes that run a k-rank task together (a task whose first parameter is a
  /// spawnpool::TaskComm, task_comm.hpp). Default 1: the task runs on one worker like any other,
  /// with MPI_COMM_SELF. k > 1 on an Executor: in spawn mode the task runs on a group of k
  /// processes started together for tasks of this k (Options::rank_groups); in static and
  /// communicator mode on k idle worker ranks, grouped for this one call (it waits until k are
  /// idle, and tasks submitted after it wait for it). Ignored for ordinary tasks. Checked at
  /// submit: k < 1, k > 1 on a ThreadExecutor or a pool service, or k above a static or
  /// communicator-mode pool's worker ranks, is an Error there.
  TaskOptions& ranks(int k) { ranks_ = k; return *this; }
  int ranks() const { return ranks_; }

  /// Where the k ranks of a k-rank task (ranks(k), k > 1) run when the pool has several hosts.
  /// Default (false): packed, all k on one host (they talk over shared memory). true: spread,
  /// each rank on another host as far as the hosts allow (round robin over the hosts with room),
  /// for a task that needs more memory or cores than one node has.
  ///  - Spawn mode: a spread task runs on groups of its k kept apart from the packed groups of the
  ///    same k (Options::rank_groups of each); a spread group is started by one
  ///    MPI_Comm_spawn_multiple, one process per host in turn (they still share one
  ///    MPI_COMM_WORLD), each process counted against its host's slots and
  ///    Options::max_workers_per_host. Without known hosts (Options::hosts, hostfile, a Slurm
  ///    allocation of several nodes) the launcher places the processes, packed or not.
  ///  - Static and communicator mode: packed takes k idle ranks of one host (an Error at submit
  ///    when no host has k worker ranks), spread k idle ranks on as many hosts as the pool's live
  ///    ranks span, up to k (it waits for idle ranks there).
  /// A member on another host that dies is noticed by the group itself (its heartbeats stop, or
  /// MPI refuses the next one): the task fails with WorkerLost naming the rank, within
  /// Options::heartbeat_timeout. Ignored for k = 1.
  TaskOptions& spread(bool on = true) { spread_ = on; return *this; }
  bool spread() const { return spread_; }

 private:
  std::uint32_t threads_ = 0;
  int ranks_ = 1;
  bool spread_ = false;
};

/// Options for the map family (map, map_unordered, starmap, submit_batch), set by chained calls:
/// @code
///   pool.map(spawnpool::MapOptions{}.chunksize(16).timeout(std::chrono::seconds(30)), fn, xs);
/// @endcode
class MapOptions {
 public:
  /// Calls per message. 0 (default) picks one: for maps, about four chunks per worker, at most 1024
  /// calls; for submit_batch (whose length is unknown), 64 calls.
  MapOptions& chunksize(std::size_t n) { chunksize_ = n; return *this; }
  std::size_t chunksize() const { return chunksize_; }

  /// Time the whole map may take, counted from the map call: waiting for a result past it throws
  /// spawnpool::Timeout, and the calls not yet sent are cancelled. Default: no limit.
  /// (submit_batch ignores it.)
  MapOptions& timeout(std::chrono::milliseconds t) { timeout_ = t; return *this; }
  const std::optional<std::chrono::milliseconds>& timeout() const { return timeout_; }

  /// true: while the map runs, one line on stderr shows its progress, rewritten in place at most
  /// ten times a second and ended with a newline when the last call completes, e.g.
  /// `map calc_primes: 523/1000 done, 0 failed, 2.1 s`. Only when stderr is a terminal; otherwise
  /// nothing is written. Default false. (submit_batch ignores it.)
  MapOptions& progress(bool on) { progress_ = on; return *this; }
  bool progress() const { return progress_; }

  /// submit_batch only: how many chunks may be in flight or waiting to be taken at once.
  /// 0 (default): four per worker. Memory stays bounded by about this many chunks.
  MapOptions& window(std::size_t chunks) { window_ = chunks; return *this; }
  std::size_t window() const { return window_; }

 private:
  std::size_t chunksize_ = 0;
  std::optional<std::chrono::milliseconds> timeout_;
  bool progress_ = false;
  std::size_t window_ = 0;
};

}  // namespace spawnpool
