#pragma once
/// @file task_comm.hpp
/// spawnpool::TaskComm: the communicator of a k-rank task (a task that k processes run together).
///
/// @code
///   double partial_sum(spawnpool::TaskComm comm, long n) {   // first parameter: the communicator
///     double mine = compute_part(n, comm.rank(), comm.size());
///     double total = 0;
///     MPI_Allreduce(&mine, &total, 1, MPI_DOUBLE, MPI_SUM, comm.mpi());
///     return total;
///   }
///   SPAWNPOOL_TASK(partial_sum);                                  // registered as usual
///
///   auto f = pool.submit(spawnpool::TaskOptions{}.ranks(4), partial_sum, 1000000L);  // rank 0's
///   auto g = pool.submit_all_ranks(spawnpool::TaskOptions{}.ranks(4), partial_sum, 10L);
///   std::vector<double> every_rank = g.get();                   // one result per rank, in order
/// @endcode
///
/// Why a wrapper and not a raw MPI_Comm: the same task also runs where there is no group of
/// processes (k = 1, a ThreadExecutor); the wrapper then still answers rank() and size(), and
/// mpi() says clearly when there is no MPI. The wrapper is a cheap handle (copy it freely); it is
/// valid only while the task runs.
///
/// Which communicator a task gets:
///  - k > 1 (Executor, spawn mode): the k processes of one group, started together by one
///    MPI_Comm_spawn with maxprocs = k. mpi() is a duplicate of their MPI_COMM_WORLD made when the
///    group started (spawnpool's own traffic between them uses another one), so ranks are the
///    group's world ranks, rank 0 being the process that answers the manager.
///  - k > 1 (Executor, static or communicator mode): k idle worker ranks, grouped for this one
///    call. mpi() is a duplicate of the communicator MPI_Comm_create_group made over them (freed
///    when the call is over); rank r of the task is the r-th of those ranks in the pool's order
///    (Executor::workers(), by rank), rank 0 again the one that answers the manager.
///  - k = 1 (any executor, any mode): the process that runs the task alone; mpi() is
///    MPI_COMM_SELF. On a ThreadExecutor, tasks running at once on several threads share it, and
///    mpi() throws when the program has not initialized MPI (a ThreadExecutor never does).

#include <spawnpool/errors.hpp>

#include <mpi.h>

namespace spawnpool {

class TaskComm {
 public:
  /// Made by spawnpool for each run of a task; tests may make one too.
  TaskComm(MPI_Comm comm, int rank, int size) noexcept : comm_(comm), rank_(rank), size_(size) {}

  /// This process's rank among the task's processes, 0 .. size() - 1. Never throws.
  int rank() const noexcept { return rank_; }
  /// Number of processes running the task together (TaskOptions::ranks). Never throws.
  int size() const noexcept { return size_; }
  /// The MPI communicator of the task's processes (see the file comment for which one).
  /// Collective calls on it must be made by every rank of the task, as with any communicator.
  /// @throws Error when there is none: a task run by a ThreadExecutor in a program whose MPI is
  ///         not initialized
  MPI_Comm mpi() const {
    if (comm_ == MPI_COMM_NULL) {
      throw Error("spawnpool::TaskComm::mpi: this task runs without MPI (a ThreadExecutor in a "
                  "program that has not initialized MPI): only rank() == 0 and size() == 1 are "
                  "available");
    }
    return comm_;
  }

 private:
  MPI_Comm comm_;
  int rank_;
  int size_;
};

}  // namespace spawnpool

// Registering a task that takes a TaskComm (SPAWNPOOL_TASK) needs its TaskTraits: whoever can
// name TaskComm has them.
#include <spawnpool/detail/ranked_task.hpp>
