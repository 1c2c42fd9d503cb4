#pragma once
// Ending a static rank that cannot end itself, so that a static job ends when main returns.
//
// A static rank that is stopped (SIGSTOP, Ctrl-Z, `kill -STOP`) or too stuck to send heartbeats
// keeps its launcher (mpiexec, srun) waiting for ever, and a rank killed outright makes the
// launcher's exit status its signal (hydra: 9), not main's. So the manager, on its own host, sends
// such a rank a real-time signal whose handler, installed in every static worker rank when its
// Runtime starts, exits 0 with its launcher guard's permission (launcher_guard.hpp: hydra then
// sees an orderly end), then SIGCONT so that a stopped rank takes it. Only the manager's own
// signal counts: the handler checks the sender's pid. A rank held by a debugger (ptrace-stop
// ignores SIGCONT) or on another host is not reached.

#include <mpi.h>

#include <vector>

namespace spawnpool::detail {

/// Collective over the static communicator `comm` (every rank, when its Runtime starts): rank 0
/// learns each rank's pid when it runs on rank 0's host (0 elsewhere; index: rank), and every other
/// rank arms the handler for rank 0's signal. Returns the pids on rank 0, {} elsewhere.
/// @throws MpiError when the exchange fails
std::vector<long> exchange_static_rank_pids(MPI_Comm comm);

/// The manager's side: asks the static rank `pid` on this host to exit 0 (see above). Does nothing
/// for pid <= 0. Does not throw; thread-safe.
void end_static_rank(long pid) noexcept;

/// The manager's side for a rank it has no answer from: when static rank `rank` runs on this host
/// (exchange_static_rank_pids) and is stopped, logs a warning ("static rank 2 (pid 4711) is
/// stopped <when>: asking it to end") and ends it as above. True when it did. Does not throw.
bool end_static_rank_if_stopped(int rank, const char* when) noexcept;

}  // namespace spawnpool::detail
