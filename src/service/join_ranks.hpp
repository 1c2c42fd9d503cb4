#pragma once
// How an admitted client meets every rank of a pool service, after it met rank 0 alone.
//
// Rank 0 accepts each connection over MPI_COMM_SELF (run_service.cpp), so a connection that fails
// (a stranger that connected and died before its turn) or shows the wrong token costs rank 0 a
// retry and never a collective call that the other ranks would wait in. Once the client is
// admitted on that 1-rank connection, rank 0 merges it into a 2-process communicator and every
// rank of the service builds the client's intercommunicator from it with MPI_Intercomm_create
// (local group MPI_COMM_WORLD, leader rank 0; the client's local group is MPI_COMM_SELF). No
// second MPI port is opened, so there is nothing a stranger could connect to meanwhile.
// Both sides then disconnect the 1-rank connection. Tested on MPICH 4.0.2 ch3 and Open MPI 4.1.

#include <mpi.h>

namespace spawnpool::detail {

/// Service side, collective over MPI_COMM_WORLD. `admitted` is rank 0's 1-rank connection to the
/// admitted client (ignored on the other ranks). Returns the intercommunicator to the client
/// (remote group: the client), with MPI_ERRORS_RETURN, and on rank 0 disconnects `admitted`.
/// Returns MPI_COMM_NULL when MPI failed (a client that died in these milliseconds); the other
/// ranks may then wait in MPI_Intercomm_create until the client's process is seen gone.
/// Not thread-safe: call from the service's main thread.
MPI_Comm join_service_ranks(MPI_Comm admitted);

/// Client side: the counterpart of join_service_ranks on the connection `admitted` (to the
/// service's rank 0, after the token was accepted). Returns the intercommunicator to every rank
/// of the service, with MPI_ERRORS_RETURN, and disconnects `admitted`; MPI_COMM_NULL when MPI
/// failed. Call with the MPI lock held.
MPI_Comm join_client_to_service(MPI_Comm admitted);

}  // namespace spawnpool::detail
