#pragma once
// Reading /proc/PID/stat of a process of this host: its state and its parent. The name in it, in
// parentheses, may hold blanks and parentheses, so the fields are read after its last ')'.

namespace spawnpool::detail {

/// The state letter of `pid` ('R', 'S', 'T', 'Z', ...), or 0 when it cannot be read (gone).
/// Does not throw; thread-safe.
char process_state(long pid) noexcept;

/// The pid of the parent of `pid`, or 0 when it cannot be read (gone). Does not throw;
/// thread-safe.
long parent_pid(long pid) noexcept;

}  // namespace spawnpool::detail
