#pragma once
// Process-wide facts the Runtime establishes and the executors use.

#include <spawnpool/runtime.hpp>

#include <mpi.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace spawnpool::detail {

/// Open MPI 4.1 (ob1) loses messages on an intercommunicator when two threads of one process send
/// on it, even one at a time and at MPI_THREAD_SERIALIZED (measured: tests/openmpi/FINDINGS.md).
/// With Open MPI each process therefore sends from one thread only: the manager's progress thread
/// (no caller-driven progress) and the worker's serve loop (heartbeats included; the sentinel
/// thread only sends its last report when the process dies).
#if defined(OMPI_MAJOR_VERSION)
inline constexpr bool kOneSendingThread = true;
#else
inline constexpr bool kOneSendingThread = false;
#endif


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

  std::mutex pools_mutex;
  std::set<PoolCore*> pools;  // live executors' engines, shut down by ~Runtime
};

RuntimeState& runtime_state();

/// Serializes MPI calls between threads when the MPI gave less than MPI_THREAD_MULTIPLE; a no-op
/// lock otherwise. Hold it around each burst of MPI calls, never while sleeping.
std::unique_lock<std::mutex> mpi_lock();

}  // namespace spawnpool::detail
