#pragma once
// The checks on a process of this host, used by the manager (its workers) and by a worker's
// sentinel (its manager): has it ended, is it stopped, and ending it. Only meaningful for a
// process on the caller's host.

namespace spawnpool::detail {

/// True when the process `pid` on this host is gone or a zombie (it has ended, its parent has not
/// collected it yet). False for pid <= 0 and for a process that exists but is not ours to signal.
/// Does not throw; thread-safe.
bool process_gone(long pid) noexcept;

/// True when the process `pid` on this host is stopped (SIGSTOP, SIGTSTP, a debugger): its state
/// in /proc is 'T' or 't'. Does not throw; thread-safe.
bool process_stopped(long pid) noexcept;

/// Ends the process `pid` on this host with SIGKILL unless it has ended already (SIGKILL ends a
/// stopped process too). Does nothing for pid <= 0. Does not throw; thread-safe.
void end_process(long pid) noexcept;

}  // namespace spawnpool::detail
