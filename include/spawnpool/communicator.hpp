#pragma once
/// @file communicator.hpp
/// A pool over an MPI application's own communicator.
///
/// @code
///   // every rank of comm calls this; on rank 0 the body runs with the other ranks as workers
///   spawnpool::serve(comm, 0, [&](spawnpool::Executor& pool) {
///     auto results = pool.map(simulate, seeds).get();
///   });
///   // all ranks continue here together; comm is untouched and usable
/// @endcode

#include <spawnpool/executor.hpp>
#include <spawnpool/options.hpp>

#include <mpi.h>

#include <functional>

namespace spawnpool {

/// Collective over `comm`: every rank of `comm` must call it with the same `root`.
/// On `root`, runs `body(pool)` with an Executor (Mode::communicator) whose workers are all other
/// ranks of `comm` (Options::max_workers is ignored); meanwhile the other ranks serve its tasks. Once
/// `body` returns, the pool is shut down (waiting for submitted tasks) and every rank returns. `comm`
/// is duplicated internally, so its own traffic never mixes with the pool's and it stays usable.
/// Needs MPI initialized with at least MPI_THREAD_SERIALIZED (by the application, or by a
/// spawnpool::Runtime). Tasks must be registered in every rank's program.
/// @throws on root: whatever `body` throws (rethrown after the workers have been released), or
///         SpawnError when the workers do not answer, or ConfigError when a spawnpool environment
///         variable the pool reads holds an invalid value or Options::task_timeout is set (a
///         task past it could be ended only with one of your application's ranks); every rank
///         returns
/// @throws Error on every rank when `comm` has fewer than two ranks or MPI is not initialized
void serve(MPI_Comm comm, int root, const std::function<void(Executor&)>& body,
           const Options& options = {});

}  // namespace spawnpool
