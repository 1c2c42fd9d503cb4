#pragma once
// Starting worker processes with MPI_Comm_spawn, with a bounded wait: inside a Slurm allocation (and
// with other launcher problems) MPI_Comm_spawn can block forever instead of failing, so it runs on a
// helper thread and a spawn that does not return in time becomes a SpawnError.

#include <mpi.h>

#include <chrono>
#include <string>
#include <vector>

namespace spawnpool::detail {

struct SpawnRequest {
  std::string program;
  std::vector<std::string> args;
  int count = 1;
  std::chrono::milliseconds timeout{60000};
  std::string host;      // MPI_Info "host": where to start them ("" = the launcher's choice)
  std::string hostfile;  // MPI_Info "hostfile"
};

/// Spawns `request.count` copies of the program from MPI_COMM_SELF and returns the
/// intercommunicator (remote group = the workers, ranks 0..count-1), with MPI_ERRORS_RETURN set.
/// @throws SpawnError when the program is missing or not executable, MPI_Comm_spawn fails, or it does
///         not return within the timeout (then MPI is left unusable: the Runtime will not finalize)
MPI_Comm spawn_workers(const SpawnRequest& request);

}  // namespace spawnpool::detail
