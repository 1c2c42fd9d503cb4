#include <spawnpool/executor.hpp>

#include <spawnpool/detail/mpi_call.hpp>

#include "environment.hpp"
#include "group_ranks.hpp"
#include "log.hpp"
#include "options_check.hpp"
#include "placement.hpp"
#include "pool_core.hpp"
#include "rank_groups.hpp"
#include "runtime_state.hpp"
#include "service/connect.hpp"
#include "slurm_allocation.hpp"
#include "spawn/launch.hpp"
#include "wire.hpp"

#include <atomic>
#include <cstdio>
#include <numeric>
#include <thread>

namespace spawnpool {

namespace {

/// Session numbers (and so tags) of executors sharing one communicator; 0 is the control session.
int next_session_tag() {
  unsigned session = detail::runtime_state().next_session.fetch_add(1);
  if (session % detail::wire::kSessionTagSlots == 0) {
    session = detail::runtime_state().next_session.fetch_add(1);
  }
  return detail::wire::session_tag(session);
}

std::chrono::milliseconds start_timeout(const Options& options) {
  return detail::seconds_setting(options.spawn_timeout(), detail::env::kSpawnTimeout, 60);
}

/// Cores the workers may use: the task slots of the Slurm allocation when inside one (all of its
/// nodes: hydra places spawned workers on every node of the allocation), else this machine's.
unsigned available_cores() {
  if (const auto slots = detail::slurm_allocation_slots()) return static_cast<unsigned>(*slots);
  return std::thread::hardware_concurrency();
}

/// The manager mostly sleeps while workers compute, so only workers beyond the cores count.
void warn_if_oversubscribed(long workers) {
  static std::atomic<bool> warned{false};
  const unsigned cores = available_cores();
  if (cores == 0 || workers <= static_cast<long>(cores)) return;
  if (detail::env_flag("SPAWNPOOL_QUIET") || warned.exchange(true)) return;
  const char* what = detail::slurm_allocation_slots() ? "slots of the Slurm allocation" : "cores";
  detail::log().warn("{} workers on {} {}: workers will share cores (oversubscribed)", workers,
                     cores, what);
}

/// Inside a Slurm job, a spawn through srun (hydra's launcher or Slurm's PMI2) waits forever for
/// CPUs the job's first step holds, unless steps may overlap. spawnpool's own relaunch sets
/// SLURM_OVERLAP=1; a manager the user started with mpiexec/srun may not have it: fail at once
/// with what to do, instead of waiting for the spawn timeout.
void check_slurm_allows_spawning() {
  if (!detail::env_string("SLURM_JOB_ID") || !detail::started_by_process_manager()) return;
  if (detail::env_string("SLURM_OVERLAP") || detail::env_string("SLURM_EXACT")) return;
  if (const auto check = detail::env_string("SPAWNPOOL_SLURM_CHECK"); check && *check == "0") return;
  throw SpawnError(
      "spawnpool: cannot spawn workers inside this Slurm job: the manager was started by "
      "mpiexec/srun without SLURM_OVERLAP, so the job step the spawn needs would wait forever for "
      "CPUs. Either start the program alone (it relaunches itself correctly), or export "
      "SLURM_OVERLAP=1 before mpiexec/srun, or use static mode: srun --mpi=pmi2 -n <workers+1>. "
      "(SPAWNPOOL_SLURM_CHECK=0 skips this check, e.g. for mpiexec -launcher fork.)");
}

/// `plan_slots`: the free slots of the hosts the workers are placed on, when all are known.
int default_worker_count(std::optional<int> plan_slots) {
  if (const auto n = detail::env_integer(detail::env::kMaxWorkers)) return static_cast<int>(*n);
  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  int* universe = nullptr;
  int flag = 0;
  MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_UNIVERSE_SIZE, &universe, &flag);
  if (flag && universe != nullptr && *universe > world) return *universe - world;
  // The hosts' slots (Options::hosts "name:n", a hostfile, the allocation), the manager's taken.
  if (plan_slots) return *plan_slots;
  // Inside an allocation: its slots, one of which the manager takes.
  if (const auto slots = detail::slurm_allocation_slots()) {
    return static_cast<int>(std::max(1L, *slots - 1));
  }
  return static_cast<int>(std::max(1u, available_cores()));
}

/// `ranks_per_worker` > 1: the pool of groups for k-rank tasks of that k (rank_groups.hpp), with
/// `groups` groups, each on one host or `spread` over the hosts (TaskOptions::spread).
std::unique_ptr<detail::PoolCore> start_spawned(const Options& options, int ranks_per_worker = 1,
                                                int groups = 0, bool spread = false) {
  detail::RuntimeState& state = detail::runtime_state();
  if (!state.cannot_spawn_reason.empty()) {
    throw SpawnError(
        "spawnpool: cannot spawn workers: this program runs as an MPI singleton (started without "
        "mpiexec) and was not relaunched (" + state.cannot_spawn_reason +
        "), and MPICH cannot spawn from a singleton. Unset SPAWNPOOL_NO_RELAUNCH, or start the "
        "program as `mpiexec -n 1 ./app` (spawn mode) or `mpiexec -n <workers+1> ./app` (static "
        "mode).");
  }
  // Placement errors (a limit of 0, an empty host name, too little room) before anything starts.
  detail::HostPlan hosts = detail::plan_placement(options);
  // Only read the environment when the options leave the count to it.
  const int workers =
      ranks_per_worker > 1
          ? groups
          : (options.max_workers() ? *options.max_workers() : default_worker_count(hosts.free_slots()));
  if (workers < 1) {
    throw Error("spawnpool::Executor: max_workers must be at least 1, got " +
                std::to_string(workers));
  }
  if (ranks_per_worker == 1) detail::check_min_workers(options, workers);
  hosts.place_groups_of(ranks_per_worker, spread);
  hosts.check_room(workers);
  detail::SpawnRequest request;
  request.program = options.worker_program().empty() ? state.program : options.worker_program();
  request.args = options.worker_args().value_or(state.args);
  request.mpi_stuck = &state.mpi_stuck;
  request.timeout_setting = options.spawn_timeout()
                                ? "Options::spawn_timeout"
                                : "Options::spawn_timeout or SPAWNPOOL_SPAWN_TIMEOUT (seconds)";
  check_slurm_allows_spawning();
  warn_if_oversubscribed(static_cast<long>(workers) * ranks_per_worker);
  detail::PoolSetup setup;
  setup.mode = Mode::spawn;
  setup.tag = detail::wire::session_tag(0);
  setup.worker_program = request.program;
  setup.spawn = std::move(request);
  setup.workers = workers;
  setup.ranks_per_worker = ranks_per_worker;
  setup.hosts = std::move(hosts);
  setup.min_workers =
      ranks_per_worker > 1 ? workers : options.min_workers().value_or(workers);
  setup.start_timeout = start_timeout(options);
  return std::make_unique<detail::PoolCore>(std::move(setup), options);
}

std::unique_ptr<detail::PoolCore> start_connected(const Options& options) {
  detail::PoolSetup setup;
  setup.mode = Mode::service;
  setup.tag = detail::wire::session_tag(0);
  setup.start_timeout = start_timeout(options);
  setup.shared_comm = detail::connect_to_service(options.connect(), setup.start_timeout);
  int size = 0;
  SPAWNPOOL_MPI(MPI_Comm_remote_size(setup.shared_comm, &size));
  // Every rank of the service waits for this client: all of them are its workers.
  setup.shared_ranks.resize(static_cast<std::size_t>(size));
  std::iota(setup.shared_ranks.begin(), setup.shared_ranks.end(), 0);
  setup.own_shared_comm = true;
  setup.worker_program = "the pool service at " + options.connect();
  return std::make_unique<detail::PoolCore>(std::move(setup), options);
}

std::unique_ptr<detail::PoolCore> start_static(const Options& options) {
  detail::RuntimeState& state = detail::runtime_state();
  int size = 0;
  SPAWNPOOL_MPI(MPI_Comm_size(state.static_comm, &size));
  const int available = size - 1;
  int workers = options.max_workers()
                    ? *options.max_workers()
                    : static_cast<int>(
                          detail::env_integer(detail::env::kMaxWorkers).value_or(available));
  if (workers < 1) {
    throw Error("spawnpool::Executor: max_workers must be at least 1, got " +
                std::to_string(workers));
  }
  if (workers > available) {
    detail::log().warn(
        "{} workers requested, but this static job has {} worker ranks (ranks 1..{}); using {}. "
        "Start more ranks (mpiexec -n / srun -n) for more.",
        workers, available, available, available);
    workers = available;
  }
  if (!options.worker_program().empty()) {
    detail::log().warn("Options::worker_program is ignored in static mode: the workers are the "
                       "job's other ranks");
  }
  detail::PoolSetup setup;
  setup.mode = Mode::static_world;
  setup.tag = next_session_tag();
  setup.shared_comm = state.static_comm;
  {
    // Ranks an earlier executor lost are gone for the rest of the job.
    std::lock_guard<std::mutex> lock(state.pools_mutex);
    for (int rank = 1; rank < size && static_cast<int>(setup.shared_ranks.size()) < workers; ++rank) {
      if (state.lost_static_ranks.count(rank) == 0) setup.shared_ranks.push_back(rank);
    }
  }
  if (setup.shared_ranks.empty()) {
    throw SpawnError("spawnpool::Executor: every worker rank of this static job was lost earlier "
                     "(a task crashed or ended them): nothing is left to run tasks on");
  }
  setup.worker_program = state.program;
  setup.start_timeout = start_timeout(options);
  return std::make_unique<detail::PoolCore>(std::move(setup), options);
}

}  // namespace

Executor::Executor(Options options) {
  const detail::RuntimeState& state = detail::runtime_state();
  if (!state.active) {
    throw Error("spawnpool::Executor: no spawnpool::Runtime exists; create one at the top of "
                "main() (it initializes MPI and turns worker processes into workers)");
  }
  // An invalid environment variable this executor would read fails here, before anything starts.
  detail::check_executor_environment(options, options.connect().empty());
  detail::check_options(options);
  if (!options.connect().empty()) {
    core_ = start_connected(options);
  } else {
    core_ = state.mode == Mode::static_world ? start_static(options) : start_spawned(options);
  }
  if (core_->mode() == Mode::spawn) {
    const int workers = core_->num_workers();
    groups_ = std::make_unique<detail::RankGroups>([options, workers](int ranks, bool spread) {
      return start_spawned(options, ranks,
                           options.rank_groups().value_or(std::max(1, workers / ranks)), spread);
    });
  }
}

Executor::Executor(std::unique_ptr<detail::PoolCore> core) : core_(std::move(core)) {}

Executor::~Executor() {
  if (core_) core_->shutdown(true, false);
  if (groups_) groups_->shutdown(true, false);
}

Executor::Executor(Executor&&) noexcept = default;
Executor& Executor::operator=(Executor&& other) noexcept {
  if (this != &other) {
    if (core_) core_->shutdown(true, false);
    if (groups_) groups_->shutdown(true, false);
    core_ = std::move(other.core_);
    groups_ = std::move(other.groups_);
  }
  return *this;
}

void Executor::shutdown(bool wait, bool cancel_pending) {
  if (core_) core_->shutdown(wait, cancel_pending);
  if (groups_) groups_->shutdown(wait, cancel_pending);
}

int Executor::num_workers() const { return core_ ? core_->num_workers() : 0; }

bool Executor::packs_chunks() const { return core_ && !core_->traced(); }

std::vector<WorkerInfo> Executor::workers() const {
  return core_ ? core_->worker_infos() : std::vector<WorkerInfo>{};
}

Stats Executor::stats() const { return core_ ? core_->stats() : Stats{}; }

Mode Executor::mode() const { return core_ ? core_->mode() : Mode::spawn; }

const detail::TaskEntry& Executor::task_for(detail::FunctionKey fn) const {
  return detail::require_task(fn);
}

std::uint64_t Executor::reserve_call_ids(std::size_t count) {
  if (!core_) throw BrokenExecutor("spawnpool: this Executor was moved from");
  return core_->reserve_ids(count);
}

void Executor::enqueue(detail::WorkItem item) {
  if (!core_) throw BrokenExecutor("spawnpool: this Executor was moved from");
  core_->enqueue(std::move(item));
}

void Executor::enqueue_ranked(int ranks, detail::WorkItem item) {
  if (!core_) throw BrokenExecutor("spawnpool: this Executor was moved from");
  if (ranks == 1) return core_->enqueue(std::move(item));
  const Mode mode = core_->mode();
  if (mode == Mode::static_world || mode == Mode::communicator) {
    // Groups are formed from idle ranks (PoolCore::dispatch_group); ranks lost are not replaced.
    const int workers = core_->num_workers();
    if (ranks > workers) {
      throw Error("spawnpool: a task of " + std::to_string(ranks) + " ranks (TaskOptions::ranks) "
                  "cannot run on this " + to_string(mode) + "-mode pool of " +
                  std::to_string(workers) + " worker ranks: " +
                  (mode == Mode::static_world ? "start the job with at least " +
                                                    std::to_string(ranks + 1) + " ranks"
                                              : std::string("serve it on more ranks")));
    }
    if (!item.spread_ranks) {
      // Packed: the k ranks must share a host (group_ranks.hpp).
      std::vector<std::string> hosts;
      for (const WorkerInfo& w : core_->worker_infos()) hosts.push_back(w.host);
      const std::size_t most = detail::most_ranks_on_one_host(hosts);
      if (most < static_cast<std::size_t>(ranks)) {
        throw Error("spawnpool: a task of " + std::to_string(ranks) + " ranks (TaskOptions::ranks) "
                    "cannot run packed on one host: no host of this " + to_string(mode) +
                    "-mode pool has " + std::to_string(ranks) + " worker ranks (at most " +
                    std::to_string(most) + "); spread its ranks over the hosts with "
                    "TaskOptions::spread(), or start more ranks per node");
      }
    }
    item.ranks = ranks;
    return core_->enqueue(std::move(item));
  }
  if (!groups_) {
    throw Error("spawnpool: k-rank tasks with k > 1 (TaskOptions::ranks(" + std::to_string(ranks) +
                ")) are not yet supported in " + to_string(core_->mode()) +
                " mode, only in spawn, static and communicator mode");
  }
  const bool spread = item.spread_ranks;
  groups_->pool_for(ranks, spread).enqueue(std::move(item));
}

}  // namespace spawnpool
