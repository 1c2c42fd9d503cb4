#pragma once
// The launch layer's interface: the one header of spawn/ that the engine (src/) includes.
//
// spawn/ holds everything about starting processes:
//   relaunch.hpp       relaunching a program started alone under `mpiexec -n 1`, before MPI_Init
//                      (started_by_process_manager, decide_relaunch, relaunch_under_mpiexec,
//                      RelaunchError)
//   spawn_workers.hpp  starting workers with MPI_Comm_spawn, with MPI_Info placement (host,
//                      hostfile) and a bounded wait (SpawnRequest, PendingSpawn, start_spawn,
//                      spawn_workers)
//   start_watch.hpp    under MPICH, each spawned worker starts under a watcher that reports a
//                      program ending before MPI_Init, so the pending spawn fails at once (used by
//                      spawn_workers; its constructor is what a watcher process runs)
//   run_directory.hpp  where spawnpool's own temporary files go (temporary_files_directory), and
//                      the relaunch parent's directory for them, removed when the job has ended
//   exit_status.hpp    the manager's own exit status, reported to the relaunch parent
//                      (report_exit_status_to_relaunch_parent, called by the Runtime)
//   launcher_guard.hpp a spawned worker's guard process: hydra sees an orderly end however the
//                      worker ends, and what its tasks left running is ended (start_launcher_guard)
//   mpi_program_launcher.hpp
//                      the launcher of one rank of an MPI program run as a task (run_mpi_program):
//                      its constructor is what a launcher process runs; mpi_launcher_args builds
//                      its arguments
//   worker_main.cpp    the main() of dedicated worker programs (spawnpool_add_worker); compiled
//                      into those programs, not into the library
//
// It depends on spawnpool's public headers only (<spawnpool/...>, including
// <spawnpool/detail/mpi_call.hpp> and <spawnpool/detail/mpi_flavor.hpp>), never on src/. What it
// needs from the engine comes in through arguments:
//   - whether this MPI can spawn from a singleton: decide_relaunch(kCanSpawnFromSingleton);
//   - the mpiexec to relaunch with: relaunch_under_mpiexec(argc, argv, SPAWNPOOL_DEFAULT_MPIEXEC);
//   - the Runtime's "a thread is stuck inside MPI" flag, set when a spawn never returns:
//     SpawnRequest::mpi_stuck;
// and the spawn serializes its MPI calls with the engine's through mpi_lock() (mpi_call.hpp,
// defined by the library).

#include "exit_status.hpp"
#include "launcher_guard.hpp"
#include "mpi_program_launcher.hpp"
#include "relaunch.hpp"
#include "run_directory.hpp"
#include "spawn_workers.hpp"
