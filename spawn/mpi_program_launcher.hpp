#pragma once
// The launcher of MPI programs run as tasks (include/spawnpool/mpi_program.hpp).
//
// run_mpi_program spawns k copies of its own executable (linked with spawnpool) with a marker and
// the real command after it:
//     <executable> --spawnpool-mpi-launcher=<directory> <watched pid> <watched host> <timeout ms>
//                  <working directory or "-"> <n> NAME=VALUE... (n of them) <program> <args...>
// A constructor that runs before anything else of that program (as the start watch's does,
// start_watch.hpp) sees the marker and becomes the launcher of one rank, without MPI_Init:
//   - it forks and execs the program with the environment (plus the NAME=VALUE entries) and the
//     descriptors hydra gave, so the PROGRAM's MPI_Init is the spawned rank's PMI handshake: the
//     spawn completes and the program's MPI_COMM_WORLD has the k ranks of the spawn. The program
//     leads a process group of its own, gets SIGKILL when the launcher dies, reads /dev/null and
//     writes to <directory>/<rank>.out and <rank>.err;
//   - with MPICH's PMI (PMI_FD set), the launcher relays the PMI socket between hydra and the
//     program, so it knows whether the program ever spoke to the process manager. A program that
//     ends without doing so (missing, not executable, exits or is killed before MPI_Init) would
//     leave the spawn waiting for ever: the launcher then does MPI_Init and MPI_Finalize itself, in
//     the program's place, and the spawn completes;
//   - when the timeout runs out, it kills the program's process group (SIGKILL); when the watched
//     process (the worker that spawned it) ends, it kills the program and ends without a report;
//   - when the program has ended, it writes <directory>/<rank>.status, whole or not at all (a
//     rename): "<exit code> <signal> <timed out 0|1>" and, on a second line, why the program could
//     not be started; then it exits 0, so that hydra never sees a failing process.
// Its pid is in <directory>/<rank>.pid from the start: the spawning worker checks that launchers
// are still alive, and kills them if they outlive their timeout.
// Limit: the directory must be one that every rank and the spawning worker see (one host, or a
// shared file system; TMPDIR decides where it is made).

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace spawnpool::detail {

/// The first argument that makes a spawnpool program an MPI program launcher ("<marker>=<dir>").
inline constexpr const char* kMpiLauncherMarker = "--spawnpool-mpi-launcher";

/// What one launcher runs, and where it reports.
struct MpiLaunch {
  std::string directory;
  long watched_pid = 0;
  std::string watched_host;
  std::chrono::milliseconds timeout{0};  // 0: none
  std::string working_directory;         // "": the launcher's
  std::map<std::string, std::string> env;
  std::string program;  // a path (resolved beforehand)
  std::vector<std::string> args;
};

/// The arguments that follow the executable for `launch` (the marker first).
std::vector<std::string> mpi_launcher_args(const MpiLaunch& launch);

}  // namespace spawnpool::detail
