#pragma once
// The one check whether a process on this host has ended, used by the manager (its workers) and by
// a worker's sentinel (its manager). Only meaningful for a process on the caller's host.

namespace spawnpool::detail {

/// True when the process `pid` on this host is gone or a zombie (it has ended, its parent has not
/// collected it yet). False for pid <= 0 and for a process that exists but is not ours to signal.
/// Does not throw; thread-safe.
bool process_gone(long pid) noexcept;

}  // namespace spawnpool::detail
