#pragma once
// Process-wide facts the Runtime establishes and the executors use.

// mpi_lock() and kOneSendingThread go with the state: the engine's files reach them through here.
#include <spawnpool/detail/mpi_call.hpp>
#include <spawnpool/detail/mpi_flavor.hpp>
#include <spawnpool/runtime.hpp>

#include <mpi.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace spawnpool::detail {

class PoolCore;

struct RuntimeState {
  bool active = false;           // a Runtime exists (on the manager)
  bool initialized_mpi = false;  // the Runtime called MPI_Init_thread, so it finalizes
  int thread_level = MPI_THREAD_SINGLE;
  Mode mode = Mode::spawn;
  MPI_Comm static_comm = MPI_COMM_NULL;  // static mode: the manager's and workers' dup of WORLD
  std::atomic<unsigned> next_session{1};  // session 0 is the control session (kExit)
  std::string program;            // this executable, resolved from /proc/self/exe
  std::vector<std::string> args;  // argv[1..]
  /// Set when a thread is stuck inside MPI (a spawn that never returned): MPI_Finalize would hang.
  std::atomic<bool> mpi_stuck{false};
  /// Why this process cannot spawn workers, or empty: an MPICH singleton (started without mpiexec)
  /// that was not relaunched. MPICH's MPI_Comm_spawn from a singleton never returns.
  std::string cannot_spawn_reason;
  /// Set when a worker on another host was lost without a word from it (silent: its node cut off
  /// or powered down, or killed there): MPICH's MPI_Finalize waits for the close handshake of
  /// every connection it had (MPIDI_CH3U_VC_WaitForClose), which an unreachable host never
  /// answers, so ~Runtime leaves without it (measured: still waiting minutes later). Also set
  /// when a spawned worker that was started never answered and was not seen to end (stopped or
  /// stuck in its set-up): its connection never closes either.
  std::atomic<bool> peer_unreachable{false};

  std::mutex pools_mutex;
  std::set<PoolCore*> pools;  // live executors' engines, shut down by ~Runtime
  /// Static mode: ranks an executor lost (under pools_mutex). Later executors leave them out and
  /// ~Runtime does not release them: a send to a dead rank may never complete.
  std::set<int> lost_static_ranks;
  /// Static mode, on the manager: each rank's pid when it runs on the manager's host, else 0
  /// (static_rank_end.hpp; index: rank).
  std::vector<long> static_rank_pids;
  /// Static mode, on a worker: the manager said a rank of the job died. MPI_Finalize would wait for
  /// the dead rank forever (MPICH's close handshake), so the worker leaves without it.
  bool job_lost_a_rank = false;
};

RuntimeState& runtime_state();

/// Static mode: `rank` is gone for every executor, later ones included, and ~Runtime neither
/// releases it nor waits for it (lost_static_ranks). Thread-safe (takes pools_mutex).
void mark_static_rank_lost(int rank);

}  // namespace spawnpool::detail
