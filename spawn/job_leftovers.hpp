#pragma once
// The processes of a relaunched job that its mpiexec leaves behind.
//
// When hydra's mpiexec dies or is ended while it launches or serves a spawned worker (the manager
// gave up on a spawn and ended; mpiexec killed; a proxy stopped or hung when mpiexec went), that
// worker's hydra_pmi_proxy, and the start watchers and workers under it, can outlive it. Their
// parent gone, the kernel gives them to init: orphans that nothing ends. The relaunching parent
// (relaunch.hpp) is mpiexec's parent, so it makes itself their "child subreaper"
// (PR_SET_CHILD_SUBREAPER): orphans among mpiexec's descendants become its children instead, and
// once mpiexec has ended it ends those that belong to the job. A process belongs to the job when
// it is a hydra_pmi_proxy or a spawned MPI process or one of its descendants (PMI_SPAWNED=1 in
// its environment, as hydra sets it for spawned processes); any other adopted process (a daemon
// the program started on purpose) is left alone.

#include <chrono>

namespace spawnpool::detail {

/// Makes this process the subreaper of its descendants. Call before starting mpiexec. Never throws.
void adopt_orphans_of_descendants() noexcept;

/// After mpiexec has ended: SIGKILLs this process's children that belong to the job, and reaps
/// them and any other adopted child that has ended, until none of the job's is left or `limit`
/// has passed (a killed proxy's own children are adopted after it dies, hence the loop). Returns
/// how many it ended. Never throws.
int end_leftovers_of_the_job(std::chrono::milliseconds limit) noexcept;

}  // namespace spawnpool::detail
