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

#include "join_deadline.hpp"

#include <chrono>
#include <memory>

namespace spawnpool::detail {

/// How long rank 0 waits for the other ranks' word after its part of a join failed (RankJoin).
inline constexpr std::chrono::seconds kJoinReportWait{2};

/// Service side: joins each admitted client to every rank of the service. One per service
/// process, made and destroyed collectively over MPI_COMM_WORLD (it holds a duplicate of it, on
/// which ranks whose MPI_Intercomm_create failed tell rank 0 so). Not thread-safe: use from the
/// service's main thread.
///
/// A client that dies while the ranks join it makes rank 0's MPI_Intercomm_create fail in its
/// exchange with the client; the other ranks may fail too, or (MPICH 4.0.2 ch3, tried: a client
/// that dies before or inside its own MPI_Intercomm_create) wait inside the call for ever, for a
/// broadcast from rank 0 that never comes (MPI cannot call theirs off). So rank 0 waits up to
/// kJoinReportWait for every other rank's word that it failed; when none came, it sends the
/// broadcast they wait for, but four ints long, which is longer than either of the two they may
/// be waiting for in MPICH's MPI_Intercomm_create (two ints in the exchange of process ids, one
/// in that of context ids): their call then fails (a truncated message) and they report, and
/// every rank starts the next turn as usual. Some ranks reporting and others not, before the
/// broadcast or after it, leaves the service in calls that no timeout brings together: it then
/// ends with MPI_Abort and a message that says so (never seen; a hang otherwise). Not covered: a
/// rank whose call failed by itself but whose word reached rank 0 only after kJoinReportWait (a
/// rank stopped or starved for that long right then) finds the long broadcast in a later
/// MPI_Bcast of the service.
///
/// A client alive but stopped or hung in the join is not seen failing at all: rank 0 gives every
/// join `join_limit` (the client timeout) and a JoinDeadline then cuts the client's connection
/// (MPICH), which fails the join as if it had died; a join that even so does not end ends the
/// service (join_deadline.hpp).
class RankJoin {
 public:
  explicit RankJoin(std::chrono::milliseconds join_limit);
  ~RankJoin();
  RankJoin(const RankJoin&) = delete;
  RankJoin& operator=(const RankJoin&) = delete;

  /// Collective over MPI_COMM_WORLD. `admitted` is rank 0's 1-rank connection to the admitted
  /// client and `connection` how to find its sockets (both ignored on the other ranks); the
  /// caller disconnects `admitted`. `turn` numbers the clients served so far (the same on every
  /// rank). Returns the intercommunicator to the client (remote group: the client), with
  /// MPI_ERRORS_RETURN, on every rank; MPI_COMM_NULL on every rank when MPI failed (a client
  /// that died in these milliseconds, or whose connection rank 0 cut).
  MPI_Comm join(MPI_Comm admitted, ClientConnection connection, int turn);

 private:
  /// Rank 0, after its MPI_Intercomm_create failed: how many other ranks said theirs failed too
  /// within kJoinReportWait (older word is dropped).
  int failure_reports(int turn);

  MPI_Comm reports_ = MPI_COMM_NULL;
  std::unique_ptr<JoinDeadline> deadline_;  // rank 0 only
};

/// Client side: the counterpart of RankJoin::join on the connection `admitted` (to the
/// service's rank 0, after the token was accepted). Returns the intercommunicator to every rank
/// of the service, with MPI_ERRORS_RETURN, and disconnects `admitted`; MPI_COMM_NULL when MPI
/// failed. Call with the MPI lock held.
MPI_Comm join_client_to_service(MPI_Comm admitted);

}  // namespace spawnpool::detail
