#pragma once
// Liveness between the members of a group for k-rank tasks (rank_group.hpp) that run on different
// hosts (TaskOptions::spread), where a pid says nothing. Members on one host watch each other's
// pids; across hosts they exchange heartbeats: the leader (rank 0) with every follower on another
// host, a follower with the leader when it is on another host. Each sends one small message a
// second to each member it watches (an idle group stays quiet) and takes in theirs. A watched
// member is lost when MPI refuses a heartbeat to it (its process ended and its host closed the
// connection: measured within 20-40 ms on the test cluster, whether the task slept or waited in
// MPI_Barrier for the member) or when it has been silent for the heartbeat timeout (its host
// stopped answering). The leader sends its timeout (the Hello's heartbeat_timeout) with every
// heartbeat, so followers, which get no Hello, use the same one.
//
// Where they travel: a spawned group has a communicator of its own for them (a duplicate of its
// world, made at join, kept for the process's life). A static group's communicators are freed
// after its one call, and MPI reuses their context ids for the next group's, where a heartbeat
// still in flight would pose as a call; so its heartbeats travel on the pool's communicator,
// between the members' ranks there, on kStaticGroupBeatTag, a tag nothing else on it uses (a late
// one only counts as a heartbeat between the same two ranks in a later group).
//
// Runs on the member's watch thread (rank_group.cpp), so also while a task is stuck in a
// collective with the member that is gone. Needs MPI_THREAD_MULTIPLE (the task's own MPI calls on
// the main thread take no lock) and an MPI that sends from a second thread (kOneSendingThread
// false: not Open MPI); otherwise no heartbeats are sent, and a member on another host that dies
// is noticed by the launcher only. Not thread-safe: one watch thread owns it.

#include <mpi.h>

#include <chrono>
#include <memory>
#include <vector>

namespace spawnpool::detail {

/// The tag of static groups' heartbeats on the pool's communicator: above the static groups'
/// own tags (1..32000) and below spawnpool's session tags' range end, within the 32767 every MPI
/// allows, and used by nothing else there.
inline constexpr int kStaticGroupBeatTag = 32700;

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

  /// Where a group's heartbeats travel: `comm` (MPI_ERRORS_RETURN set) with `tag`; group rank r
  /// is `comm_ranks[r]` there (empty: r itself).
  struct Route {
    MPI_Comm comm = MPI_COMM_NULL;
    int tag = 1;
    std::vector<int> comm_ranks;
  };

  /// `rank`: this member's rank in the group; `watched`: the group ranks to exchange heartbeats
  /// with (see the top). Sends nothing yet.
  GroupHeartbeat(Route route, int rank, const std::vector<int>& watched);
  /// Cancels what is still outstanding and takes in the heartbeats that came. Never throws.
  ~GroupHeartbeat();
  GroupHeartbeat(const GroupHeartbeat&) = delete;
  GroupHeartbeat& operator=(const GroupHeartbeat&) = delete;

  /// Call often (every few tens of ms): takes in the heartbeats that came, sends the next ones
  /// when due. Returns the group rank of a watched member that is lost (MPI refused a heartbeat
  /// to or from it, or it was silent for the timeout), else -1. Never throws.
  int check() noexcept;

 private:
  using clock = std::chrono::steady_clock;
  struct Peer {
    int rank = 0;       // in the group
    int comm_rank = 0;  // in route_.comm
    clock::time_point last_heard;
    MPI_Request send = MPI_REQUEST_NULL;
    // The sent heartbeat: the leader's timeout in ms. Owned apart from the peer: a heartbeat given
    // up on at the end is kept until MPI is done with it (abandoned_sends.hpp).
    std::shared_ptr<int> payload = std::make_shared<int>(0);
  };
  /// Takes in what `p` sent; false when MPI failed (logged).
  bool take_in(Peer& p, clock::time_point now) noexcept;
  /// Logs that MPI refused a heartbeat with `rank` (`code`); returns `rank`.
  int unreachable(int rank, int code) const noexcept;
  Route route_;
  int rank_;
  std::vector<Peer> peers_;
  clock::time_point next_send_;
};

}  // namespace spawnpool::detail
