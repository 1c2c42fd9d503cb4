#pragma once
/// @file mpi_program.hpp
/// MPI programs as tasks: run an MPI executable that knows nothing of spawnpool on k ranks, as one
/// task, and get back every rank's exit status and output.
///
/// @code
///   spawnpool::Command lmp;
///   lmp.program = "./lmp";                        // looked up in PATH when it has no '/'
///   lmp.args = {"-in", "in.melt"};
///   lmp.working_directory = "/scratch/run7";
///   lmp.timeout = std::chrono::minutes(30);       // ends every rank when it runs out
///   spawnpool::Future<spawnpool::MpiProgramResult> f =
///       pool.submit(spawnpool::run_mpi_program, 4, lmp);   // 4 ranks
///   spawnpool::MpiProgramResult r = f.get();
///   if (!r.ok()) std::cerr << r.ranks[0].err;    // a failing program is data, not an exception
/// @endcode
///
/// How it runs: the worker that takes the task starts the program's k ranks with one
/// MPI_Comm_spawn (maxprocs = k; no nested mpiexec, so it works inside an allocation wherever the
/// pool itself can spawn), so the program's MPI_COMM_WORLD is exactly those k ranks. Each rank
/// runs under a small launcher (the worker's own executable, started with a marker; it never
/// calls MPI_Init itself) that hands the program the process manager's connection untouched,
/// captures its stdout and stderr, waits for its exit status and reports them to the worker through
/// a private directory, then ends with status 0 (so the MPI launcher never sees a failing rank).
/// The worker is busy until the program has ended; the program's k processes come on top of the
/// pool's workers (on 2 cores, a 2-rank program next to 2 busy workers oversubscribes).
///
/// Limits:
///  - The report directory is made under TMPDIR of the worker: the ranks must run where they see
///    it (the same host, which is where MPICH's hydra starts them unless told otherwise, or a
///    shared file system).
///  - A program that never calls MPI_Init (a missing program, a script that fails first) is
///    detected with MPICH's PMI (PMI_FD): the launcher then completes the spawn in its place. With
///    another process manager such a program leaves the spawn waiting until the spawn timeout
///    (SPAWNPOOL_SPAWN_TIMEOUT, 60 s): SpawnError, and that worker's MPI is left unusable.
///  - Every rank must reach MPI_Init (or end, or run out of its timeout) within the spawn timeout
///    (SPAWNPOOL_SPAWN_TIMEOUT, 60 s): the worker's MPI_Comm_spawn returns only then.
///  - Spawning from workers needs an MPI that can spawn there (spawn mode, or static mode under
///    MPICH's mpiexec).

#include <spawnpool/command.hpp>

#include <cereal/types/vector.hpp>

#include <vector>

namespace spawnpool {

/// What became of an MPI program run on k ranks: one CommandResult per rank, in rank order.
struct MpiProgramResult {
  /// ranks[r]: rank r's exit status, signal, timeout flag, stdout and stderr (see CommandResult).
  std::vector<CommandResult> ranks;

  /// True when every rank exited with status 0 in time.
  bool ok() const noexcept {
    for (const auto& rank : ranks) {
      if (!rank.ok()) return false;
    }
    return !ranks.empty();
  }
  /// True when the timeout ran out (and every rank was killed).
  bool timed_out() const noexcept {
    for (const auto& rank : ranks) {
      if (rank.timed_out) return true;
    }
    return false;
  }
  /// The first non-zero exit code of the ranks (128 + signal for a killed rank), 0 when all were 0.
  int exit_code() const noexcept {
    for (const auto& rank : ranks) {
      if (rank.exit_code != 0) return rank.exit_code;
    }
    return 0;
  }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(ranks);
  }
};

/// Runs `command` as an MPI program on `ranks` processes and waits for all of them (on a worker when
/// submitted: `pool.submit(spawnpool::run_mpi_program, k, cmd)`).
///  - Arguments, environment (added to the one the MPI launcher gives), working directory and
///    timeout mean what they mean for run_command. Each rank reads /dev/null and runs in a process
///    group of its own.
///  - When `command.timeout` runs out, every rank's process group is killed with SIGKILL; the ranks
///    have timed_out set and whatever output came before. A program that exits on some ranks only
///    leaves the others as MPI leaves them (usually ended by the MPI library); set a timeout for
///    programs that may hang.
///  - A non-zero exit status or a signal is reported in the result, never thrown.
///  - If the calling process dies, every rank gets SIGKILL.
/// @throws spawnpool::Error when `ranks` < 1 or the program cannot be started: empty name, not
///         found in PATH, not executable, the working directory does not exist (checked here
///         before anything starts; a rank that still cannot start it reports exit code 127 and the
///         reason in its err). SpawnError when the ranks cannot be spawned, Timeout when the ranks
///         do not report within the timeout plus 30 s (then they are killed). Through an executor
///         these arrive as RemoteError.
/// Thread-safe: calls from several threads run independently.
MpiProgramResult run_mpi_program(int ranks, const Command& command);

namespace detail {
/// Defined next to run_mpi_program's task registration; keeps it linked in (see command.hpp).
extern const int mpi_program_task_anchor;
[[maybe_unused, gnu::used]] static const int* const mpi_program_task_link = &mpi_program_task_anchor;
}  // namespace detail

}  // namespace spawnpool
