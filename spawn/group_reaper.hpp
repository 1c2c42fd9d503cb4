#pragma once
// The reaper of a k-rank group member: keeps hydra from killing a whole group before its rank 0
// can say which rank ended.
//
// A group for k-rank tasks is k processes of one MPI_Comm_spawn, children of one hydra proxy per
// host. Whenever that proxy wakes up (any output of the group, a closing pipe) and finds one of
// its children killed by a signal, it SIGKILLs all the others (hydra's pmip.c). A follower killed
// with SIGKILL (by a user, by the out-of-memory killer) has no handler to tell rank 0 with, and
// rank 0's watch (by pid, every 20 ms) lost the race to the proxy: the task failed with WorkerLost
// naming rank 0's worker, not the rank that died.
//
// So a group member spawned under hydra forks before MPI_Init: the child goes on as the member
// (it leads a process group of its own, and gets SIGKILL if the reaper dies: PR_SET_PDEATHSIG);
// the parent, the proxy's child, becomes the reaper. It holds the member's standard streams (the
// proxy sees no pipe close when the member dies), forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to
// it, and waits for it. When the member dies of a signal, the reaper tells rank 0 (SIGUSR2
// carrying the rank, as a follower's crash handler does; rank_group.cpp) and waits, at most
// kLeaderReportWaitMs, until rank 0 has ended; then it exits with a plain status (the member's
// exit code, or 128 + its signal), so the proxy never sees a child killed by a signal. Rank 0's
// own death needs no relay: the followers watch its pid and end.

namespace spawnpool::detail {

/// How long a reaper waits for rank 0 to report a killed follower and end.
inline constexpr int kLeaderReportWaitMs = 3000;

/// Forks the reaper when this process is a member of a group that hydra spawned (PMI_SPAWNED=1,
/// PMI_SIZE > 1, PMI_FD set); does nothing otherwise, or when it cannot fork. Returns only in the
/// member. Call once, before start_launcher_guard and MPI_Init, while the process has one thread.
/// Never throws.
void start_group_reaper() noexcept;

/// The member tells its reaper its rank in the group and rank 0's pid (once it knows them). Does
/// nothing without a reaper. Async-signal-safe; never throws.
void tell_group_reaper(int rank, long leader_pid) noexcept;

}  // namespace spawnpool::detail
