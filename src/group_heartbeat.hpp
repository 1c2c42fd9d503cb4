#pragma once
// Liveness between the members of a group for k-rank tasks (rank_group.hpp) that run on different
// hosts (TaskOptions::spread), where a pid says nothing. Members on one host watch each other's
// pids; across hosts they exchange heartbeats over a communicator of the group's own: the leader
// (rank 0) with every follower on another host, a follower with the leader when it is on another
// host. Each sends one small message a second to each member it watches (an idle group stays
// quiet) and takes in theirs. A watched member is lost when MPI refuses a heartbeat to it (its
// process ended: its host closed the connection; measured within about a second) or when it has
// been silent for the heartbeat timeout (its host stopped answering). The leader sends its
// timeout (the Hello's heartbeat_timeout) with every heartbeat, so followers, which get no Hello,
// use the same one.
//
// Runs on the member's watch thread (rank_group.cpp), so also while a task is stuck in a
// collective with the member that is gone. Needs MPI_THREAD_MULTIPLE (the task's own MPI calls on
// the main thread take no lock); below it no heartbeats are sent, and a member on another host
// that dies is noticed by the launcher only. Not thread-safe: one watch thread owns it.

#include <mpi.h>

#include <chrono>
#include <vector>

namespace spawnpool::detail {

/// The silence after which a member on another host is given up, from the Hello this process
/// took (the pool's Options::heartbeat_timeout). Until one is set: $SPAWNPOOL_HEARTBEAT_TIMEOUT,
/// else 25 s. Thread-safe; never throws.
void set_group_heartbeat_timeout(std::chrono::milliseconds timeout) noexcept;
/// The timeout in force (see set_group_heartbeat_timeout). Thread-safe; never throws.
std::chrono::milliseconds group_heartbeat_timeout() noexcept;

class GroupHeartbeat {
 public:
  /// How often each watched member gets a heartbeat.
  static constexpr std::chrono::milliseconds kInterval{1000};

  /// `comm`: the group's communicator for heartbeats only (MPI_ERRORS_RETURN set), `rank` this
  /// member's rank in it, `watched` the members to exchange heartbeats with (see the top). Sends
  /// nothing yet.
  GroupHeartbeat(MPI_Comm comm, int rank, std::vector<int> watched);
  /// Cancels what is still outstanding (call before freeing `comm`). Never throws.
  ~GroupHeartbeat();
  GroupHeartbeat(const GroupHeartbeat&) = delete;
  GroupHeartbeat& operator=(const GroupHeartbeat&) = delete;

  /// Whether there is anyone to watch (a member on another host) and the thread level allows it.
  bool active() const noexcept { return !watched_.empty(); }

  /// Call often (every few tens of ms): takes in the heartbeats that came, sends the next ones
  /// when due. Returns a watched member that is lost (MPI refused a heartbeat to it, or it was
  /// silent for the timeout), else -1. Never throws.
  int check() noexcept;

 private:
  using clock = std::chrono::steady_clock;
  struct Peer {
    int rank = 0;
    clock::time_point last_heard;
    MPI_Request send = MPI_REQUEST_NULL;
    long long payload = 0;  // the sent heartbeat (must live until it completes)
  };
  /// Logs that MPI refused a heartbeat with or from `rank` (`code`); returns `rank`.
  int unreachable(int rank, int code) const noexcept;
  MPI_Comm comm_;
  int rank_;
  std::vector<int> watched_;
  std::vector<Peer> peers_;
  clock::time_point next_send_;
};

/// Drains the heartbeats still queued on `comm` (before it is freed). Never throws.
void drain_group_heartbeats(MPI_Comm comm) noexcept;

}  // namespace spawnpool::detail
