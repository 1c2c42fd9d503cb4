// MPI_Abort called by a task, through MPI's profiling interface (PMPI): the library defines
// MPI_Abort, and passes every call it does not handle on to PMPI_Abort.
//
// In a spawned worker a task's MPI_COMM_WORLD is that worker alone, so MPI_Abort on it (or on
// MPI_COMM_SELF) ends the worker: the manager gets WorkerLost "the task called MPI_Abort (error
// code N)" and the pool goes on (hydra would otherwise end the whole job, manager included, with
// no word why). So does MPI_Abort on MPI_COMM_SELF in a static or communicator-mode rank (that
// rank exits 0, see worker_sentinel.hpp). In a group of a k-rank task (rank_group.hpp) the world
// is the group's own: MPI_Abort on it or on the task's communicator ends the group (the leader
// reports WorkerLost; a follower first tells the leader, naming its rank). Any other communicator (a static rank's MPI_COMM_WORLD
// holds the manager too), a worker without a sentinel, or a call outside a task: MPI_Abort aborts
// as MPI says, after a line naming the task if one runs; the manager's MPI_Abort makes its error
// code the program's exit status.
//
// This file is its own object in the static library: the linker takes it only when the program
// calls MPI_Abort and defines none itself. A call from a shared library the program loads goes
// straight to MPI.

#include "rank_group.hpp"
#include "spawn/launch.hpp"
#include "worker_loop.hpp"
#include "worker_sentinel.hpp"

#include <mpi.h>
#include <unistd.h>

#include <cstdio>
#include <string>

extern "C" int MPI_Abort(MPI_Comm comm, int errorcode) {
  using spawnpool::detail::LossReport;
  std::string task;
  const bool in_task = spawnpool::detail::running_task(&task);
  // A group's world (rank_group.hpp) holds only its own processes: the manager is not in it.
  const bool group_world = spawnpool::detail::is_rank_group_comm(comm);
  if (group_world && spawnpool::detail::is_rank_group_follower()) {
    const std::string what = "called MPI_Abort (error code " + std::to_string(errorcode) + ")";
    spawnpool::detail::follower_task_ends_group(what.c_str(), errorcode != 0 ? errorcode & 0xff : 1);
  }
  const bool own_world = comm == MPI_COMM_SELF || group_world ||
                         (comm == MPI_COMM_WORLD && spawnpool::detail::world_is_this_worker());
  if (in_task && own_world &&
      spawnpool::detail::report_worker_end(LossReport::Cause::kMpiAbort, errorcode)) {
    std::fflush(nullptr);
    _exit(spawnpool::detail::status_after_report(errorcode != 0 ? errorcode & 0xff : 1));
  }
  if (in_task) {
    std::fprintf(stderr, "spawnpool: task \"%s\" called MPI_Abort (error code %d) on pid %ld: "
                 "the MPI job ends\n", task.c_str(), errorcode, static_cast<long>(getpid()));
  } else {
    spawnpool::detail::record_exit_status(errorcode);
  }
  return PMPI_Abort(comm, errorcode);
}
