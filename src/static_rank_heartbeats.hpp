#pragma once
// Heartbeats of a static job's ranks (static mode: srun or mpiexec started the manager and its
// workers as one MPI world). Each rank's sentinel sends the manager a heartbeat every second on
// the control tag of the static communicator (worker_sentinel.hpp); the manager's executors share
// the ranks, so whichever executor's engine takes a heartbeat in records it here for all of them,
// and each judges a rank silent past its heartbeat timeout from it. Without them a rank whose node
// stopped answering (network down, powered off) would never be noticed: its launcher may not end
// the job for minutes (Slurm: SlurmdTimeout), or ever (`--no-kill`), and the map waiting for it
// would hang. Thread-safe.

#include <chrono>
#include <optional>

namespace spawnpool::detail {

/// Whether static ranks send heartbeats: their sentinel needs MPI_THREAD_MULTIPLE (`thread_level`,
/// the same on the manager and its ranks: one program, one MPI) and a second sending thread
/// (kOneSendingThread false: not with Open MPI, where a rank's silence is not watched).
bool static_ranks_send_heartbeats(int thread_level) noexcept;

/// On the manager: a heartbeat from static rank `rank` came now.
void record_static_heartbeat(int rank);

/// On the manager: when static rank `rank` last sent a heartbeat, if it ever did.
std::optional<std::chrono::steady_clock::time_point> last_static_heartbeat(int rank);

}  // namespace spawnpool::detail
