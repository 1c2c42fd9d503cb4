#pragma once
// The worker side of a group: k processes started together by one MPI_Comm_spawn (maxprocs = k)
// to run k-rank tasks (task_comm.hpp). Rank 0 of their MPI_COMM_WORLD, the leader, serves the
// manager like any spawned worker (serve_as_worker); the others, the followers, never talk to the
// manager: they wait for the leader to forward a call, run their share of it and send their
// outcome back (ranked_task.hpp). Everything waits quietly (nonblocking MPI and backoff.hpp):
// groups share oversubscribed cores with the other workers.
//
// Every member watches the others' processes (on a thread of its own, so also while a task is
// stuck in a collective): by pid on its own host, by heartbeats with the members on other hosts (a
// group spread over hosts, TaskOptions::spread: group_heartbeat.hpp). When a follower is gone, the
// leader reports the group lost (the running call fails with WorkerLost naming the rank) and
// ends; when the leader is gone, the followers end. So a group never leaves a process behind, and
// the manager replaces it as it replaces a lost worker.

#include <mpi.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace spawnpool::detail {

/// In a spawned process whose MPI_COMM_WORLD has more than one rank: joins the group (collective
/// over that world: duplicates it for the tasks and for spawnpool's own messages, and learns the
/// members' pids). Returns this process's rank. Call once, before serving.
/// @throws MpiError when MPI fails
int join_rank_group();

/// Static and communicator mode: joins the group of a k-rank call, the ranks `ranks` of `parent`
/// (the pool's communicator; this rank among them; its rank in the group is its index there), with
/// MPI_Comm_create_group and `tag` (unique to this group among the groups formed on `parent`).
/// `pids`: the members' pids, 0 for a member on another host (watched by heartbeats,
/// group_heartbeat.hpp, once the communicator exists). First waits quietly (point-to-point
/// on `parent` with `tag`, and backoff) until every member has arrived, then makes the
/// communicator (collective over the members only). The task's communicator and spawnpool's own
/// one between the members are duplicates of it. Until leave_static_group a thread watches the
/// other members (pids on this host, heartbeats across hosts): one that is gone ends this process
/// after reporting its end (kRankLost), also while it waits for the members or runs a task stuck
/// in a collective. The
/// group serves one call as a spawned group does (the first rank leads, the others follow:
/// serve_as_follower). A member whose part of the call failed ends the group when the others
/// have not finished within kRankStuckLimit (the stuck clock; the future fails with WorkerLost).
/// Returns this member's rank in the group.
/// @throws MpiError when MPI fails; Error when this rank is in a group already or not in `ranks`
int join_static_group(MPI_Comm parent, const std::vector<int>& ranks, const std::vector<int>& pids,
                      int tag);
/// Frees what join_static_group made; this process is in no group afterwards. Never throws.
void leave_static_group() noexcept;

/// True in a member of a joined group for its MPI_COMM_WORLD, MPI_COMM_SELF, the tasks'
/// communicator or any communicator congruent with the group's world. Never throws.
bool is_rank_group_comm(MPI_Comm comm) noexcept;
/// True in a follower (rank > 0) of a joined group. Never throws.
bool is_rank_group_follower() noexcept;
/// True while the calling thread of a follower runs its share of a call. Never throws.
bool is_follower_running_task() noexcept;
/// A follower's task did what ends its process (`what`: "called MPI_Abort (error code 5)"):
/// tells the leader (which reports the group lost, naming this rank, and ends), waits for it at
/// most 3 s, and ends this process with `status`. For MPI_Abort on the group, which would end the
/// group's MPI job and the manager with it, and MPI_Finalize, which would wait for ever.
[[noreturn]] void follower_task_ends_group(const char* what, int status) noexcept;

/// A follower (rank > 0): runs the calls the leader forwards until the leader dismisses the group.
/// Returns the exit status the leader passed on (0: disconnect from the manager and finalize MPI
/// with the group), or 1 when MPI fails. Ends the process when the leader is gone. Never throws.
int serve_as_follower() noexcept;

/// The leader, greeted by the manager: has every follower apply the same worker set-up (the
/// Hello's environment, working directory and initializer, an encoded call entry or empty) and
/// waits for them, until `deadline` at most. Returns "" (also when this process leads no group) or
/// what failed, naming the rank. A follower that has not answered by `deadline` (stopped, or its
/// initializer hangs) ends the group: the manager is told (LossReport kRankSetUpStuck, naming the
/// rank), the followers that have not answered get SIGKILL and this process ends; so does a
/// follower that is gone (kRankLost), as always. Never throws.
std::string set_up_followers(const std::vector<std::pair<std::string, std::string>>& environment,
                             const std::string& working_directory, const std::string& initializer,
                             std::chrono::steady_clock::time_point deadline) noexcept;

/// The leader, after serving: tells every follower to end with `status` and waits quietly
/// until each took the message or is gone (then says so on the log). Never throws.
void dismiss_followers(int status) noexcept;

/// The leader, after dismiss_followers and before MPI_Finalize: whether a follower on this host
/// is gone already: it finalized (the leader's part of the close handshake ran while it
/// disconnected from the manager), or it was killed or crashed, without the close handshake, and
/// then MPI_Finalize here would wait for it for ever. Either way the leader may leave without
/// MPI_Finalize. False in a process that leads no group. Never throws.
bool follower_gone() noexcept;

/// The leader, leaving without its followers (MPI_Finalize did not end): SIGKILLs each follower
/// on this host that still exists (stopped, or stuck in its own MPI_Finalize), so that none stays
/// behind it. Does nothing in a process that leads no group. Uses no MPI. Never throws.
void end_remaining_followers() noexcept;

}  // namespace spawnpool::detail
