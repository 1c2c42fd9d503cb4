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

/// What join_service_ranks did, on one rank.
struct JoinedClient {
  /// The intercommunicator to the client (remote group: the client), with MPI_ERRORS_RETURN;
  /// MPI_COMM_NULL when MPI failed (a client that died in these milliseconds).
  MPI_Comm client = MPI_COMM_NULL;
  /// Rank 0 only: the join failed after the other ranks had entered MPI_Intercomm_create, where
  /// they now wait for rank 0's part (MPI cannot call theirs off, and under MPICH they wait for
  /// ever: rank 0 fails in the exchange with the dead client, before its broadcast to them). Rank 0
  /// then admits the next client and joins it with `others_wait_in_join` set, without the
  /// collective calls that begin a turn: the others' MPI_Intercomm_create completes with that
  /// client, and every rank serves it. (Busy meanwhile: MPICH polls inside the call.)
  bool others_wait_in_join = false;
};

/// Service side, collective over MPI_COMM_WORLD, but see JoinedClient::others_wait_in_join:
/// rank 0 passes true after a join that left the others waiting (they are then inside the call
/// already, and only rank 0 calls this). `admitted` is rank 0's 1-rank connection to the admitted
/// client (ignored on the other ranks); the caller disconnects it.
/// Not thread-safe: call from the service's main thread.
JoinedClient join_service_ranks(MPI_Comm admitted, bool others_wait_in_join);

/// Client side: the counterpart of join_service_ranks on the connection `admitted` (to the
/// service's rank 0, after the token was accepted). Returns the intercommunicator to every rank
/// of the service, with MPI_ERRORS_RETURN, and disconnects `admitted`; MPI_COMM_NULL when MPI
/// failed. Call with the MPI lock held.
MPI_Comm join_client_to_service(MPI_Comm admitted);

}  // namespace spawnpool::detail
