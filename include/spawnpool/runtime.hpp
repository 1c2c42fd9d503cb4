#pragma once
/// @file runtime.hpp
/// spawnpool::Runtime: MPI set-up and the process's role. Create one at the top of main():
/// @code
///   int main(int argc, char** argv) {
///     spawnpool::Runtime runtime(argc, argv);  // in a worker process this never returns
///     spawnpool::Executor pool;                // only the manager gets here
///     ...
///   }
/// @endcode
///
/// What the constructor does, in order:
///  1. If the program was started without an MPI launcher and the MPI cannot spawn from a singleton
///     (MPICH 4.0), it relaunches the program as `mpiexec -n 1 <program> <args>` and ends this process
///     with the child's exit code once the child ends (stdio passed through, SIGINT/SIGTERM/SIGHUP
///     forwarded). Set SPAWNPOOL_NO_RELAUNCH=1 to turn this off; SPAWNPOOL_MPIEXEC names the launcher.
///  2. Initializes MPI with MPI_THREAD_MULTIPLE (SERIALIZED is accepted), unless the application
///     initialized MPI already (then it is neither initialized nor finalized here).
///  3. Decides the role and the mode.
///     - A process spawned by an Executor is a worker: it serves tasks until its manager shuts the
///       pool down, finalizes MPI and exits with status 0, never returning into user code.
///     - Started by a launcher with several ranks (`mpiexec -n 5 ./app`, `srun -n 5 ./app`): static
///       mode. Rank 0 is the manager and returns; ranks 1..N-1 serve every Executor rank 0 creates
///       and exit with status 0 once rank 0's Runtime is destroyed. User code after the Runtime only
///       ever runs on rank 0.
///     - Otherwise (one rank): spawn mode; this process is the manager and the constructor returns.
///     SPAWNPOOL_MODE=spawn|static overrides the choice (static with one rank falls back to spawn;
///     spawn with several ranks makes every rank a manager that spawns its own workers).
///
/// The destructor shuts down executors that are still alive and finalizes MPI (if it initialized it).
/// Exactly one Runtime may exist at a time; create it on the main thread.

#include <spawnpool/errors.hpp>

#include <string>
#include <vector>

namespace spawnpool {

/// How an executor gets its workers.
enum class Mode {
  spawn,         ///< workers started with MPI_Comm_spawn
  static_world,  ///< the other ranks of MPI_COMM_WORLD (mpiexec -n N / srun -n N)
  communicator,  ///< the other ranks of an application's communicator (spawnpool::serve)
  service,       ///< the ranks of a running pool service (Options::connect, spawnpool::run_service)
};

/// "spawn", "static", "communicator", "service"
const char* to_string(Mode mode) noexcept;

struct RuntimeOptions {
  /// Relaunch under mpiexec when needed (see above). $SPAWNPOOL_NO_RELAUNCH=1 also turns it off.
  bool allow_relaunch = true;
};

class Runtime {
 public:
  /// @throws MpiError when MPI cannot be initialized or gives less than MPI_THREAD_SERIALIZED
  /// @throws ConfigError when $SPAWNPOOL_MODE is none of spawn, static, auto
  /// @throws Error    when a Runtime already exists, or two different functions were registered
  ///                  under one task name
  Runtime(int& argc, char**& argv, RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// The mode executors created in this process use.
  Mode mode() const noexcept;

  /// Rank in MPI_COMM_WORLD (0 for the manager in spawn and static mode).
  int world_rank() const;
  /// Size of MPI_COMM_WORLD.
  int world_size() const;
};

}  // namespace spawnpool
