#pragma once
// The job keeper: the process between the relaunching parent (relaunch.hpp) and mpiexec, which
// outlives a SIGKILL of that parent to end what the job leaves behind.
//
// The relaunching parent is the subreaper of the job (job_leftovers.hpp): once mpiexec has ended,
// it ends the proxies and workers mpiexec left. Nothing of it runs after a SIGKILL, though, and
// then mpiexec (told by PR_SET_PDEATHSIG) ends the job on its own, which it cannot always do: a
// hydra_pmi_proxy that is stopped or hung keeps mpiexec waiting for ever, and a proxy that mpiexec
// forked while it was ending (the manager spawning a replacement for a worker the ending killed)
// waits for ever for an mpiexec that died before accepting its connection (hydra's proxies
// inherit mpiexec's listening socket, so that connection never fails). Both stayed, orphans of
// init (the second was seen in a CI run). So the relaunching parent starts mpiexec through this
// program's own executable, with a marker before mpiexec's command line:
//     <executable> --spawnpool-keep-job=<parent's pid> <mpiexec> <mpiexec's arguments...>
// A constructor that runs before the executable's static initializers and main sees the marker
// and becomes the keeper (it never returns to them; shared libraries' constructors have run):
//   - it makes itself the subreaper of its descendants and starts mpiexec as its child, with
//     PR_SET_PDEATHSIG=SIGKILL (so the parent's last resort, a SIGKILL of the keeper, ends
//     mpiexec, whose leftovers then go to the parent); mpiexec stays in the program's process
//     group, the keeper then leaves it for one of its own, so that a SIGKILL of that group
//     (`kill -9 -PGID`) does not reach it;
//   - it forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to mpiexec, except those
//     from the terminal (Ctrl-C reaches mpiexec directly, as it shares the process group, and
//     hydra takes a second SIGINT as "force abort"); ignored signals stay ignored, blocked ones
//     are unblocked in the keeper (mpiexec gets the program's mask);
//   - it reaps the adopted children that end while mpiexec runs (a worker's launcher guard);
//   - when its parent dies (even by SIGKILL), mpiexec gets SIGTERM (the parent's death signal
//     for the keeper, forwarded; sent by the keeper when no SIGINT, SIGTERM, SIGHUP or SIGQUIT
//     was), and SIGKILL kLauncherGrace later;
//   - once mpiexec has ended, it ends what the job left behind (end_leftovers_of_the_job, with a
//     line on stderr); if the parent is gone, it removes the run's directory and the exit status
//     file the parent would have removed (run_directory.hpp, exit_status.hpp); then it ends the
//     way mpiexec ended (end_like): to the relaunching parent it is mpiexec. An mpiexec that cannot be executed (found and executable, but not loadable)
//     is said on stderr ("spawnpool: cannot start '<mpiexec>': <reason>") and ends the keeper
//     with status 127.
// Costs: one sleeping process per relaunched program (it wakes once a second to reap adopted
// children), one more exec of the executable at start (about 6 ms here).

#include <string>
#include <vector>

namespace spawnpool::detail {

/// The marker that makes a spawnpool program the job keeper when it is its first argument,
/// followed by "=<the relaunching parent's pid>".
inline constexpr const char* kJobKeeperMarker = "--spawnpool-keep-job";

/// The arguments with which a spawnpool program's executable becomes the job keeper of
/// `mpiexec` (a path) run with `mpiexec_args`, for this process (its parent). Throws only
/// std::bad_alloc.
std::vector<std::string> job_keeper_arguments(const std::string& mpiexec,
                                              const std::vector<std::string>& mpiexec_args);

}  // namespace spawnpool::detail
