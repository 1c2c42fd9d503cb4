#include <spawnpool/executor.hpp>

#include "../spawn/spawn_workers.hpp"
#include "environment.hpp"
#include "mpi_call.hpp"
#include "pool_core.hpp"
#include "runtime_state.hpp"

#include <atomic>
#include <cstdio>
#include <numeric>
#include <thread>

namespace spawnpool {

namespace {

int default_worker_count() {
  if (const long n = detail::env_long("SPAWNPOOL_MAX_WORKERS", 0); n > 0) {
    return static_cast<int>(n);
  }
  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  int* universe = nullptr;
  int flag = 0;
  MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_UNIVERSE_SIZE, &universe, &flag);
  if (flag && universe != nullptr && *universe > world) return *universe - world;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void warn_if_oversubscribed(int workers) {
  static std::atomic<bool> warned{false};
  const unsigned cores = std::thread::hardware_concurrency();
  if (cores == 0 || static_cast<unsigned>(workers) + 1 <= cores) return;
  if (detail::env_flag("SPAWNPOOL_QUIET") || warned.exchange(true)) return;
  std::fprintf(stderr,
               "spawnpool: %d workers + 1 manager on %u cores: processes will share cores "
               "(oversubscribed)\n",
               workers, cores);
}

}  // namespace

Executor::Executor(Options options) {
  detail::RuntimeState& state = detail::runtime_state();
  if (!state.active) {
    throw Error("spawnpool::Executor: no spawnpool::Runtime exists; create one at the top of "
                "main() (it initializes MPI and turns worker processes into workers)");
  }
  const int workers = options.max_workers().value_or(default_worker_count());
  if (workers < 1) {
    throw Error("spawnpool::Executor: max_workers must be at least 1, got " +
                std::to_string(workers));
  }
  const auto timeout = options.spawn_timeout().value_or(
      std::chrono::seconds(detail::env_long("SPAWNPOOL_SPAWN_TIMEOUT", 60)));
  detail::SpawnRequest request;
  request.program =
      options.worker_program().empty() ? state.program : options.worker_program();
  request.args = options.worker_args().value_or(state.args);
  request.count = workers;
  request.timeout = timeout;
  warn_if_oversubscribed(workers);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MPI_Comm comm = detail::spawn_workers(request);
  std::vector<int> ranks(static_cast<std::size_t>(workers));
  std::iota(ranks.begin(), ranks.end(), 0);
  core_ = std::make_unique<detail::PoolCore>(comm, std::move(ranks), Mode::spawn, options,
                                             request.program, deadline);
}

Executor::~Executor() {
  if (core_) core_->shutdown(true, false);
}

Executor::Executor(Executor&&) noexcept = default;
Executor& Executor::operator=(Executor&& other) noexcept {
  if (this != &other) {
    if (core_) core_->shutdown(true, false);
    core_ = std::move(other.core_);
  }
  return *this;
}

void Executor::shutdown(bool wait, bool cancel_pending) {
  if (core_) core_->shutdown(wait, cancel_pending);
}

int Executor::num_workers() const { return core_ ? core_->num_workers() : 0; }

std::vector<WorkerInfo> Executor::workers() const {
  return core_ ? core_->worker_infos() : std::vector<WorkerInfo>{};
}

Mode Executor::mode() const { return core_ ? core_->mode() : Mode::spawn; }

const detail::TaskEntry& Executor::task_for(detail::FunctionKey fn) const {
  const detail::TaskEntry* task = detail::find_task(fn);
  if (task == nullptr) {
    const std::string name = detail::describe_function(fn);
    throw UnregisteredTask("spawnpool: cannot submit " + name +
                           ": it is not registered as a task. Add SPAWNPOOL_TASK(<function name>) "
                           "at namespace scope in a source file linked into the manager and the "
                           "workers (or SPAWNPOOL_TASK_AS(fn, \"name\") to choose the name).");
  }
  return *task;
}

std::uint64_t Executor::reserve_call_ids(std::size_t count) {
  if (!core_) throw BrokenExecutor("spawnpool: this Executor was moved from");
  return core_->reserve_ids(count);
}

void Executor::enqueue(detail::WorkItem item) {
  if (!core_) throw BrokenExecutor("spawnpool: this Executor was moved from");
  core_->enqueue(std::move(item));
}

std::size_t Executor::chunk_size_for(const MapOptions& options, std::size_t n) const {
  if (options.chunksize() > 0) return options.chunksize();
  const std::size_t workers = static_cast<std::size_t>(std::max(1, num_workers()));
  const std::size_t chunk = (n + 4 * workers - 1) / (4 * workers);
  return std::clamp<std::size_t>(chunk, 1, 1024);
}

}  // namespace spawnpool
