#pragma once
// The processes of a relaunched job that its mpiexec leaves behind.
//
// When hydra's mpiexec dies or is ended while it launches or serves a spawned worker (the manager
// gave up on a spawn and ended; mpiexec killed; a proxy stopped or hung when mpiexec went), that
// worker's hydra_pmi_proxy, and the start watchers and workers under it, can outlive it. Their
// parent gone, the kernel gives them to init: orphans that nothing ends. The job keeper
// (job_keeper.hpp) is mpiexec's parent, and the relaunching parent (relaunch.hpp) the keeper's,
// so both make themselves "child subreapers" (PR_SET_CHILD_SUBREAPER): orphans among mpiexec's
// descendants become the keeper's children instead (the relaunching parent's, should the keeper
// be killed), and once mpiexec has ended it ends those that belong to the job. A process belongs to the job when
// it is a hydra_pmi_proxy, a spawned MPI process or one of its descendants (PMI_SPAWNED=1 in its
// environment, as hydra sets it for spawned processes), as a Slurm job's end ends every process
// of the job, those its tasks started included, or the relaunched manager itself when its proxy
// is gone. Proxies get a second to end their own processes first (a proxy killed at once left
// its manager running). Any other adopted process is left alone: a daemon the manager started
// on purpose, and a worker's launcher guard, which ends by itself after ending what its worker's
// tasks left.

#include <sys/types.h>

#include <chrono>

namespace spawnpool::detail {

/// Makes this process the subreaper of its descendants. Call before starting mpiexec. Never throws.
void adopt_orphans_of_descendants() noexcept;

/// While mpiexec (`keep`) runs: reaps the adopted children that have ended (a worker's launcher
/// guard ends after its worker, a child of this process by then), so that they do not pile up
/// as zombies in a long run. Never reaps `keep`; returns true when `keep` has ended (it is left
/// to be reaped by its owner). Never throws.
bool reap_adopted_children(pid_t keep) noexcept;

/// After mpiexec has ended: SIGKILLs this process's children that belong to the job, and reaps
/// them and any other adopted child that has ended, until none of the job's is left or `limit`
/// has passed (a killed proxy's own children are adopted after it dies, hence the loop). When it
/// ended any, says how many in one line on stderr. Returns how many it ended. Never throws.
int end_leftovers_of_the_job(std::chrono::milliseconds limit) noexcept;

}  // namespace spawnpool::detail
