// Whether the user sees this process's standard error on a terminal.
#pragma once

namespace spawnpool::detail {

/// The environment variable through which the relaunch (spawn/relaunch.cpp) tells the relaunched
/// copy whether the user's standard error was a terminal ("1") or not ("0"): under mpiexec the
/// copy's standard error is a pipe from hydra, so it cannot tell by itself.
inline constexpr const char kStderrTerminalVariable[] = "SPAWNPOOL_STDERR_TERMINAL";

/// True when standard error reaches the user's terminal: in a relaunched copy, what the relaunching
/// process saw (read before main, then removed from the environment, so that workers and the
/// program's own child processes do not inherit it); otherwise isatty(2) now.
/// Does not throw; thread-safe.
bool stderr_is_terminal() noexcept;

}  // namespace spawnpool::detail
