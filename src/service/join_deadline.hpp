#pragma once
// A time limit for joining an admitted client to the service's ranks (rank 0).
//
// Joining (join_ranks.hpp: MPI_Intercomm_merge, then MPI_Intercomm_create) exchanges messages with
// the client inside MPI calls that cannot be called off. A client that dies meanwhile makes them
// fail (its socket closes), but one that is alive and stopped (SIGSTOP, a debugger) or hung there
// held every rank of the service in those calls for as long as it stayed so: no other client was
// served. MPI has no timeout for them, so rank 0 gives the join the client timeout and, past it,
// shuts down the sockets over which MPI connected the client (shutdown(2) of the connections
// MPICH's ch3 accepted on its listening port since the client's turn began). To MPI that is the
// client's connection closing, as when it dies: rank 0's call fails, and RankJoin's failure path
// ends the other ranks' part, so the next client is served.
//
// One case is not ended that way (MPICH 4.0.2 ch3, seen about once in 30 rounds of a client that
// dies 0.3 ms into its MPI_Intercomm_create): rank 0 waits in the call for a message from a client
// whose connection MPICH saw close before rank 0 posted the receive, so there is nothing left to
// cut and MPI never fails the call. When the join is still not over kJoinEndWait after the
// deadline, the service ends with MPI_Abort and says why (the launcher or operator restarts it),
// instead of hanging with every client after it waiting.
//
// Under Open MPI 4.1 a closed connection does not fail the join either (README, "Known gap under
// Open MPI 4.1"), so nothing is cut: a join with a client that died, stopped or hung in it ends
// the service kJoinEndWait after the deadline, said on stderr, where it used to hang for ever.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace spawnpool::detail {

/// How long a join may go on after its deadline (its sockets cut) before the service ends: the
/// failure path after a cut takes up to about 2 × kJoinReportWait.
inline constexpr std::chrono::seconds kJoinEndWait{10};

/// The inodes of the sockets this process has open now (from /proc/self/fd). Never throws.
std::set<unsigned long> open_socket_inodes() noexcept;

/// How to find an admitted client's MPI connection on rank 0 when it must be cut: the sockets
/// that were open when its turn began (open_socket_inodes(), taken before the port was offered)
/// and the MPI port it connected to (MPICH ch3's "port#N" in it is the process's listening port;
/// the client's connection is among the sockets accepted on it since). Empty: nothing to cut.
struct ClientConnection {
  std::set<unsigned long> sockets_before;
  std::string mpi_port;
};

/// How many sockets are open now that were not when `turn` began and are bound to its MPI port's
/// listening port: under MPICH, the connections accepted on that port since (strangers' included);
/// 0 where the port shows none (Open MPI). Never throws.
int connections_since(const ClientConnection& turn) noexcept;

/// A watch over the joins of a service's life (rank 0): one thread, started once, that looks at
/// the armed join every 0.25 s. A join not over within `limit` of arm() has its connection's
/// sockets cut (MPICH: those open now that were not when its turn began and are bound to its
/// port's listening port), said on stderr; one still not over kJoinEndWait later ends the
/// process with MPI_Abort, said on stderr. Arming and disarming take a mutex and wake nothing.
/// When no thread can be started, joins go on without a limit (said on stderr). `limit` is at
/// most ServiceOptions::kMaxClientTimeout. Constructor and destructor never throw; arm() and
/// disarm() are thread-safe.
class JoinDeadline {
 public:
  explicit JoinDeadline(std::chrono::milliseconds limit);
  ~JoinDeadline();
  JoinDeadline(const JoinDeadline&) = delete;
  JoinDeadline& operator=(const JoinDeadline&) = delete;

  /// A join with the client on `connection` begins now.
  void arm(ClientConnection connection);
  /// The armed join is over (it succeeded or failed).
  void disarm();

 private:
  void watch() noexcept;
  /// Shuts down the armed connection's sockets; how many were cut.
  int cut_armed_connection();

  const std::chrono::milliseconds limit_;
  std::mutex mutex_;
  std::condition_variable stopping_signal_;
  bool stopping_ = false;
  bool armed_ = false;
  bool cut_ = false;  // the armed join's sockets were cut already
  std::chrono::steady_clock::time_point deadline_;
  ClientConnection connection_;
  std::thread thread_;
};

}  // namespace spawnpool::detail
