#pragma once
// The worker side of a group: k processes started together by one MPI_Comm_spawn (maxprocs = k)
// to run k-rank tasks (task_comm.hpp). Rank 0 of their MPI_COMM_WORLD, the leader, serves the
// manager like any spawned worker (serve_as_worker); the others, the followers, never talk to the
// manager: they wait for the leader to forward a call, run their share of it and send their
// outcome back (ranked_task.hpp). Everything waits quietly (nonblocking MPI and backoff.hpp):
// groups share oversubscribed cores with the other workers.
//
// A follower watches the leader's process while it waits: if the leader is gone (killed, lost,
// same host) it ends too, so a group never leaves a process behind.

namespace spawnpool::detail {

/// In a spawned process whose MPI_COMM_WORLD has more than one rank: joins the group (collective
/// over that world: duplicates it for the tasks and for spawnpool's own messages, and learns the
/// members' pids). Returns this process's rank. Call once, before serving.
/// @throws MpiError when MPI fails
int join_rank_group();

/// A follower (rank > 0): runs the calls the leader forwards until the leader dismisses the group
/// or is gone. Returns the exit status the leader passed on (0: disconnect from the manager and
/// finalize MPI with the group), or 1 when the leader is gone. Never throws.
int serve_as_follower() noexcept;

/// The leader, after serving: tells every follower to end with `status` and waits quietly
/// until each took the message or is gone. Never throws.
void dismiss_followers(int status) noexcept;

}  // namespace spawnpool::detail
