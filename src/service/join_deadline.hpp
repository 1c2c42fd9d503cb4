#pragma once
// A time limit for joining an admitted client to the service's ranks (rank 0 only, MPICH).
//
// Joining (join_ranks.hpp: MPI_Intercomm_merge, then MPI_Intercomm_create) exchanges messages with
// the client inside MPI calls that cannot be called off. A client that dies meanwhile makes them
// fail (its socket closes), but one that is alive and stopped (SIGSTOP, a debugger) or hung there
// held every rank of the service in those calls for as long as it stayed so: no other client was
// served. MPI has no timeout for them, so rank 0 gives the join the client timeout and, past it,
// shuts down the sockets over which MPI connected the client (shutdown(2) of the connection
// MPICH's ch3 accepted on its listening port during the admission). To MPI that is the client's
// connection closing, as when it dies: rank 0's call fails, and RankJoin's failure path ends the
// other ranks' part, so the next client is served.
//
// Not under Open MPI: its connection to a dead client does not fail the join either (README,
// "Known gap under Open MPI 4.1"), so cutting the sockets would not end it.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace spawnpool::detail {

/// One socket of this process: its descriptor and, to recognise it later, its inode.
struct OpenSocket {
  int fd = -1;
  unsigned long inode = 0;
};

/// The inodes of the sockets this process has open now (from /proc/self/fd). Never throws.
std::set<unsigned long> open_socket_inodes() noexcept;

/// Sockets open now that were not in `before` and are bound to the local TCP port of
/// `mpi_port` (its "port#N" part: the listening port of MPICH's ch3 in this process), that is,
/// connections MPI accepted since then. Empty for a port without that part. Never throws.
std::vector<OpenSocket> mpi_connections_since(const std::set<unsigned long>& before,
                                              const std::string& mpi_port) noexcept;

/// While it exists, a watch over one step with a client: if the step is not over within `limit`
/// (the object destroyed), shuts down `sockets` (those still open as the same inode) and says so
/// on stderr. Does nothing with no sockets (or when no thread can be started: said on stderr).
/// Never throws. Not copyable; construct and destroy on one thread.
class JoinDeadline {
 public:
  JoinDeadline(std::vector<OpenSocket> sockets, std::chrono::milliseconds limit);
  ~JoinDeadline();
  JoinDeadline(const JoinDeadline&) = delete;
  JoinDeadline& operator=(const JoinDeadline&) = delete;

 private:
  void watch(std::vector<OpenSocket> sockets, std::chrono::milliseconds limit);

  std::mutex mutex_;
  std::condition_variable over_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace spawnpool::detail
