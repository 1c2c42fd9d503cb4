#pragma once
// The worker side: receive task messages from the manager, run them, send the results back.

#include <mpi.h>

namespace spawnpool::detail {

/// Serves the manager at `manager_rank` of `comm` until it sends kShutdown. Runs every call of a
/// message in order and answers each message with one kResults message. Returns the exit status
/// for the process (0 after a normal shutdown). Never throws: problems are reported on stderr.
int serve_as_worker(MPI_Comm comm, int manager_rank);

}  // namespace spawnpool::detail
