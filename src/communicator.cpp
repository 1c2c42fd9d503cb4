#include <spawnpool/communicator.hpp>

#include "environment.hpp"
#include "options_check.hpp"
#include "log.hpp"
#include <spawnpool/detail/mpi_call.hpp>
#include "pool_core.hpp"
#include "runtime_state.hpp"
#include "wire.hpp"
#include "worker_loop.hpp"

#include <unistd.h>

#include <climits>
#include <numeric>

namespace spawnpool {

namespace detail {
struct ExecutorAccess {
  static Executor make(std::unique_ptr<PoolCore> core) { return Executor(std::move(core)); }
};
}  // namespace detail

namespace {

/// Fills in what a Runtime would have, for applications that initialized MPI themselves.
void adopt_initialized_mpi() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    throw Error("spawnpool::serve: MPI is not initialized; call MPI_Init_thread (or create a "
                "spawnpool::Runtime) first");
  }
  detail::RuntimeState& state = detail::runtime_state();
  if (state.active) return;
  int provided = MPI_THREAD_SINGLE;
  SPAWNPOOL_MPI(MPI_Query_thread(&provided));
  if (provided < MPI_THREAD_SERIALIZED) {
    throw Error("spawnpool::serve: MPI was initialized with a thread level below "
                "MPI_THREAD_SERIALIZED; use MPI_Init_thread(..., MPI_THREAD_MULTIPLE, ...)");
  }
  state.thread_level = provided;
  if (state.program.empty()) {
    char path[PATH_MAX];
    const ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
    if (length > 0) state.program.assign(path, static_cast<std::size_t>(length));
  }
}

}  // namespace

void serve(MPI_Comm comm, int root, const std::function<void(Executor&)>& body,
           const Options& options) {
  adopt_initialized_mpi();
  int size = 0, rank = 0;
  SPAWNPOOL_MPI(MPI_Comm_size(comm, &size));
  SPAWNPOOL_MPI(MPI_Comm_rank(comm, &rank));
  if (size < 2) {
    throw Error("spawnpool::serve: the communicator has " + std::to_string(size) +
                " rank; a pool needs at least one worker rank besides the root");
  }
  MPI_Comm pool_comm = MPI_COMM_NULL;
  SPAWNPOOL_MPI(MPI_Comm_dup(comm, &pool_comm));
  MPI_Comm_set_errhandler(pool_comm, MPI_ERRORS_RETURN);

  if (rank != root) {
    const int status = detail::serve_as_worker(pool_comm, root, detail::ServeUntil::kExit);
    MPI_Comm_free(&pool_comm);
    if (status != 0) throw Error("spawnpool::serve: this rank's worker loop failed (see stderr)");
    return;
  }
  detail::warn_about_log_setting();

  std::exception_ptr error;
  try {
    detail::check_executor_environment(options, false);  // the worker count is the communicator's
    detail::check_options(options);
    if (options.task_timeout().count() > 0) {
      // A task cannot be stopped but by ending its process: here one of the application's own
      // ranks, which ends the application's job (MPICH's mpiexec) or leaves its other ranks
      // waiting for the lost one in MPI_Finalize.
      throw ConfigError(
          "spawnpool::serve: Options::task_timeout is not offered over your own communicator: a "
          "task past it could be ended only with the rank running it, one of your application's "
          "processes (which would end your MPI job or leave its other ranks waiting for that one "
          "in MPI_Finalize); leave it unset, or run the pool in spawn or static mode");
    }
    detail::PoolSetup setup;
    setup.mode = Mode::communicator;
    setup.tag = detail::wire::session_tag(1);
    setup.shared_comm = pool_comm;
    for (int r = 0; r < size; ++r) {
      if (r != root) setup.shared_ranks.push_back(r);
    }
    setup.worker_program = detail::runtime_state().program;
    setup.start_timeout =
        detail::seconds_setting(options.spawn_timeout(), detail::env::kSpawnTimeout, 60);
    Executor pool = detail::ExecutorAccess::make(
        std::make_unique<detail::PoolCore>(std::move(setup), options));
    try {
      body(pool);
    } catch (...) {
      error = std::current_exception();
    }
    pool.shutdown(true, error != nullptr);
  } catch (...) {
    if (!error) error = std::current_exception();
  }
  detail::release_workers(pool_comm, root);
  MPI_Comm_free(&pool_comm);
  if (error) std::rethrow_exception(error);
}

}  // namespace spawnpool
