#pragma once
// The client's side of a pool service (Options::connect): find its port and connect, with a bounded
// wait. The service's side is run_service.cpp.

#include <mpi.h>

#include <chrono>
#include <string>

namespace spawnpool::detail {

/// Connects to the pool service at `address` ("file:<path>", a published name, or a port string)
/// and returns the intercommunicator (remote group = the service's ranks), MPI_ERRORS_RETURN set.
/// The connect runs on a helper thread: when it does not return within `timeout` the thread is left
/// inside MPI and runtime_state().mpi_stuck is set (the Runtime will not finalize MPI).
/// @throws SpawnError when the service cannot be found or does not accept within `timeout`
/// Called by the Executor's constructor. From several threads at once only at MPI_THREAD_MULTIPLE:
/// the port lookup does not take mpi_lock().
MPI_Comm connect_to_service(const std::string& address, std::chrono::milliseconds timeout);

}  // namespace spawnpool::detail
