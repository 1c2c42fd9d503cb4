#pragma once
// Ending a process the way a child it waited for ended: for the processes that stand between a
// launcher and the program they run (the start watch, the job keeper), whose own end must read
// as the program's.

namespace spawnpool::detail {

/// Ends this process the way the wait status `status` says a child ended: the same exit status,
/// or the same signal (with core files off: the child's crash, not ours; 128 + S when signal S
/// does not end a process by default). Async-signal-safe; never returns.
[[noreturn]] void end_like(int status) noexcept;

}  // namespace spawnpool::detail
