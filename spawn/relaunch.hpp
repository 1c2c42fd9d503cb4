// Relaunching a singleton program under `mpiexec -n 1`.
//
// Why this exists: in spawn mode the user runs `./app` by itself and the pool creates its
// workers with MPI_Comm_spawn. MPICH 4.0.2's hydra has no singleton-init support: when a
// program started without mpiexec calls MPI_Comm_spawn, MPICH runs `mpiexec -pmi_args ...`,
// which hydra rejects. So before MPI_Init, a program that was not started by an MPI process
// manager restarts itself as `mpiexec -n 1 <this executable> <same arguments>` and waits for
// that copy. The relaunch is meant to be invisible: the copy gets the same arguments,
// working directory, environment (plus SPAWNPOOL_RELAUNCHED=1), the inherited stdin, and its
// stdout and stderr copied to the original's (without hydra's own lines:
// launcher_output_relay.hpp); signals sent to the original process are forwarded to it; and the
// original process exits with the copy's exit code.
//
// Environment variables read here:
//   SPAWNPOOL_NO_RELAUNCH  set to anything but "" or "0": never relaunch (spawning from the
//                          singleton will then fail with MPICH).
//   SPAWNPOOL_RELAUNCHED   set by the relaunch in the copy's environment; a loop guard.
//   SPAWNPOOL_MPIEXEC      the mpiexec to relaunch with, overriding the built-in default.
//   SLURM_JOB_ID, SLURM_OVERLAP  inside a Slurm allocation the copy gets SLURM_OVERLAP=1
//                          (unless already set), or its later MPI_Comm_spawn would hang.
#pragma once

#include <spawnpool/errors.hpp>

#include <chrono>
#include <string>

namespace spawnpool::detail {

// Relaunching under mpiexec was impossible (for example, mpiexec is missing). A SpawnError, as
// without the relaunch this MPI cannot spawn workers, and so a spawnpool::Error: Runtime's
// constructor lets it through to the user.
class RelaunchError : public SpawnError {
 public:
  using SpawnError::SpawnError;
};

// True when this process was started by an MPI process manager: MPICH's hydra
// (PMI_RANK, PMI_FD, PMI_SIZE, PMI_PORT), Slurm's srun with a PMI plugin (the same PMI_*
// variables, or PMIX_*), Open MPI's mpirun (OMPI_COMM_WORLD_SIZE, PMIX_RANK).
// Only reads the environment; does not throw. Safe to call from any thread as long as no
// thread modifies the environment.
bool started_by_process_manager();

struct RelaunchDecision {
  bool relaunch;       // true: call relaunch_under_mpiexec instead of MPI_Init
  std::string reason;  // human-readable why (or why not), for logs and error messages
};

// Decides, before MPI_Init, whether this process must relaunch itself under mpiexec. It must
// iff all of these hold:
//   - the MPI cannot spawn from a singleton (`mpi_can_spawn_from_singleton` is false; the
//     caller passes kCanSpawnFromSingleton, false for MPICH: spawnpool/detail/mpi_flavor.hpp),
//   - the process was not started by a process manager (started_by_process_manager()),
//   - SPAWNPOOL_NO_RELAUNCH is unset, empty or "0",
//   - SPAWNPOOL_RELAUNCHED is unset (if it is set without a process manager environment, the
//     relaunch already happened and did not give us one; relaunching again would loop).
// Only reads the environment; does not throw. Call once, from the main thread, before MPI_Init.
RelaunchDecision decide_relaunch(bool mpi_can_spawn_from_singleton);

// Runs this executable (/proc/self/exe, resolved) as
// `<mpiexec> -disable-auto-cleanup -n 1 <exe> argv[1..argc-1]` (kRelaunchKeepJobOption, hydra's
// flag that keeps the job alive when a spawned worker dies, so that the pool can report and
// replace it) and waits for it. `mpiexec` is used unless the environment variable
// SPAWNPOOL_MPIEXEC is set (a path, or a bare name looked up in PATH).
//   - stdin is inherited; stdout and stderr are pipes whose contents this process copies to its
//     own as they come, leaving out hydra's Ctrl-C lines and its "YOUR APPLICATION TERMINATED"
//     banner (LauncherOutputRelay; a stream this process has closed is inherited as it is).
//     The working directory is ours.
//   - The child's environment is ours plus SPAWNPOOL_RELAUNCHED=1, SPAWNPOOL_STDERR_TERMINAL
//     (whether our standard error is a terminal: the child's is a pipe), and inside a Slurm
//     allocation (SLURM_JOB_ID set) SLURM_OVERLAP=1 unless SLURM_OVERLAP is already set, and
//     GLIBC_TUNABLES=glibc.malloc.hugetlb=1 unless GLIBC_TUNABLES is set or
//     SPAWNPOOL_MALLOC_HUGEPAGES=0.
//   - SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to this process are
//     forwarded to mpiexec while it runs; the previous handlers are restored afterwards.
//     Signals that were ignored (SIGHUP under nohup) stay ignored. Signals from the terminal
//     (Ctrl-C, Ctrl-\, hangup) are not forwarded: they reach mpiexec directly, as it shares our
//     process group, and hydra takes a second SIGINT as "force abort".
//   - mpiexec runs under the job keeper (job_keeper.hpp: this executable again, between this
//     process and mpiexec, to which it forwards the signals above), which gets
//     PR_SET_PDEATHSIG=SIGTERM: if this process dies, even by SIGKILL, the keeper ends mpiexec
//     (SIGTERM, SIGKILL kLauncherGrace later) and what it leaves. (The death signal follows the
//     calling *thread*: another reason to call this from the main thread.) Below, "mpiexec" is
//     the keeper as this process sees it: its end is mpiexec's.
//   - Once the manager has ended (it reported how, exit_status.hpp, or its process, seen running
//     under mpiexec on this host, is gone: SIGKILL, the OOM killer), mpiexec gets
//     kLauncherGrace to end too; after that it is sent SIGTERM, and SIGKILL kLauncherKillWait
//     later, with a line on stderr. (hydra's mpiexec waits for every proxy it started, and a
//     proxy on a host that was cut off never answers: the program would never end.)
//   - The keeper, and this process after it, are subreapers of mpiexec's descendants: once
//     mpiexec has ended, the proxies, workers and start watchers of the job it left behind are
//     ended (SIGKILL), within kLeftoverLimit, with a line on stderr (job_leftovers.hpp).
// Returns the program's exit status, ready for std::exit(): the one the relaunched manager
// reported (exit_status.hpp, which also prints the one line for an end by a signal); when the
// copy never reached MPI_Init, mpiexec's exit code, or 128+S if it died from signal S. If this
// process received SIGINT, SIGTERM, SIGHUP or SIGQUIT (number S) and mpiexec then exits with 0,
// returns 128+S: hydra reports 0 for ranks it had to signal, which would make an interrupted
// run look successful.
// Throws RelaunchError, naming the path tried and SPAWNPOOL_MPIEXEC, if mpiexec is missing or
// not executable, or if the keeper cannot be started; std::system_error if waiting fails. (An
// mpiexec that passes those checks and still cannot be executed is the keeper's to say: a line
// on stderr and status 127.)
// Call at most once, from the main thread, before MPI_Init and before starting other threads
// (a forwarded signal delivered to another thread before mpiexec is started would be lost).
int relaunch_under_mpiexec(int argc, char** argv, const std::string& mpiexec);

/// How long mpiexec may outlive the manager's reported end before it is ended (see above).
inline constexpr std::chrono::seconds kLauncherGrace{5};
/// Between that SIGTERM and SIGKILL.
inline constexpr std::chrono::seconds kLauncherKillWait{2};
/// How long the processes mpiexec left behind may take to be ended and reaped.
inline constexpr std::chrono::milliseconds kLeftoverLimit{3000};

}  // namespace spawnpool::detail
