#pragma once
// MPI_Finalize called by a task: ends the worker with WorkerLost "the task called MPI_Finalize"
// (MPI cannot be used afterwards; the worker used to crash seconds later). Seen through an
// attribute on MPI_COMM_SELF, whose delete callback MPI runs first thing in MPI_Finalize, so that
// profiling tools that wrap MPI_Finalize keep working.

namespace spawnpool::detail {

/// Arms the check; call once after MPI_Init, in a process that serves tasks. Never throws.
void end_worker_when_a_task_finalizes_mpi() noexcept;

}  // namespace spawnpool::detail
