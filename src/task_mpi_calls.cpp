// MPI_Abort and MPI_Finalize called by a task, through MPI's profiling interface (PMPI): the
// library defines both, and passes every call it does not handle to PMPI_Abort / PMPI_Finalize.
//
// In a spawned worker a task's MPI_COMM_WORLD is that worker alone, so MPI_Abort there ends the
// worker: the manager gets WorkerLost "the task called MPI_Abort (error code N)" and the pool goes
// on (hydra would otherwise end the whole job, manager included, with no word why). MPI_Finalize
// called by a task ends the worker with WorkerLost "the task called MPI_Finalize" (MPI could not
// be used afterwards; it used to crash the worker seconds later). Elsewhere (the manager, static
// mode, a task's MPI_Abort without a sentinel) MPI_Abort aborts the job as MPI says, after a
// line that names the task; the manager's MPI_Abort makes its error code the program's status.

#include "spawn/launch.hpp"
#include "worker_loop.hpp"
#include "worker_sentinel.hpp"

#include <mpi.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace {

using spawnpool::detail::LossReport;

[[noreturn]] void end_worker(int status) {
  std::fflush(nullptr);
  _exit(status);
}

}  // namespace

extern "C" int MPI_Abort(MPI_Comm comm, int errorcode) {
  std::string task;
  const bool in_task = spawnpool::detail::running_task(&task);
  if (in_task &&
      spawnpool::detail::report_worker_end(LossReport::Cause::kMpiAbort, errorcode)) {
    end_worker(errorcode != 0 ? errorcode & 0xff : 1);
  }
  if (in_task) {
    std::fprintf(stderr, "spawnpool: task \"%s\" called MPI_Abort (error code %d) on pid %ld: "
                 "the MPI job ends\n", task.c_str(), errorcode, static_cast<long>(getpid()));
  } else {
    spawnpool::detail::record_exit_status(errorcode);
  }
  return PMPI_Abort(comm, errorcode);
}

extern "C" int MPI_Finalize(void) {
  std::string task;
  if (spawnpool::detail::running_task(&task)) {
    if (!spawnpool::detail::report_worker_end(LossReport::Cause::kMpiFinalize, 0)) {
      std::fprintf(stderr, "spawnpool: task \"%s\" called MPI_Finalize on pid %ld: the worker "
                   "ends\n", task.c_str(), static_cast<long>(getpid()));
    }
    end_worker(1);
  }
  return PMPI_Finalize();
}
