#pragma once
// A spawned or static worker's guard: keeps MPICH's launcher (hydra) from reacting to the worker's
// end, and ends what the worker's tasks left behind.
//
// hydra's proxy reads each process's PMI commands from a socket (PMI_FD). When that socket closes
// before the process said `cmd=finalize` (it crashed, was killed, or exited without
// MPI_Finalize), the proxy, under `mpiexec -disable-auto-cleanup`, sends SIGUSR1 to the process
// groups of every other process of the job: a replacement worker that is still starting dies of
// it, so do processes that tasks started, and when mpiexec trips over a proxy that has just exited
// it aborts and the manager's proxy SIGKILLs the manager.
//
// So a worker spawned under hydra forks a guard before MPI_Init. The guard is a small process (its
// name: spawnpool-guard) that holds a copy of the PMI socket, so the socket outlives the worker.
// When the worker ends, however it ends, the guard:
//   1. says `cmd=finalize` on the socket (ignored when the worker finalized already), so hydra
//      sees an orderly end and signals no one;
//   2. ends the worker's process group, which holds what its tasks started and left running
//      (background processes, forked copies): SIGTERM, then SIGKILL after kLeftoverGraceMs.
//      A process that left the group (setsid, a daemon) is not reached;
//   3. exits. It lives at most about 3 s longer than the worker.
// The guard has left the worker's process group and closed every other descriptor (its standard
// streams are /dev/null), so it neither holds the worker's output pipes open nor receives the
// signals meant for the worker. What it cannot cover: the guard itself killed with SIGKILL
// before the worker, and a worker program that initializes MPI itself before its Runtime (the
// guard must start before MPI_Init); then hydra reacts as before.

namespace spawnpool::detail {

/// How long the guard gives a task's leftover processes between SIGTERM and SIGKILL.
inline constexpr int kLeftoverGraceMs = 1000;

/// Forks the guard when this process was spawned by hydra (PMI_SPAWNED=1 and PMI_FD set), or is a
/// rank other than 0 of a job hydra started (PMI_RANK, PMI_FD: a static worker, whose guard says
/// finalize only with permit_orderly_end); does nothing otherwise, or when it cannot fork (then
/// hydra behaves as before). Call once, before MPI_Init. Never throws.
void start_launcher_guard() noexcept;

/// A static worker's permission for its guard to say `cmd=finalize` when it ends: given when its
/// death was reported to the manager, or when it leaves without MPI_Finalize on the manager's
/// word. Without it a static worker's end is left to hydra (which ends the job). Spawned workers
/// need none. Async-signal-safe; does nothing without a guard.
void permit_orderly_end() noexcept;

/// For a process that leaves without MPI_Finalize because MPI_Finalize would wait forever (a
/// static job lost a rank: MPICH's close handshake waits for every peer): says `cmd=finalize` on
/// hydra's PMI socket (PMI_FD), so that hydra sees an orderly end and neither kills nor signals
/// the job's other processes. Does nothing outside hydra. Call only when MPI will not be used
/// again. Never throws.
void tell_launcher_finalized() noexcept;

}  // namespace spawnpool::detail
