#pragma once
// The client's side of a pool service: find its port and connect, with a bounded wait.

#include <mpi.h>

#include <chrono>
#include <string>

namespace spawnpool::detail {

/// Connects to the pool service at `address` ("file:<path>", a published name, or a port string)
/// and returns the intercommunicator (remote group = the service's ranks), MPI_ERRORS_RETURN set.
/// @throws SpawnError when the service cannot be found or does not accept within `timeout`
MPI_Comm connect_to_service(const std::string& address, std::chrono::milliseconds timeout);

}  // namespace spawnpool::detail
