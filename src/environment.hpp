#pragma once
// Reading spawnpool's environment variables.
//
// The rule for spawnpool's integer variables (README, "Environment variables"): unset or empty
// means the default; a value that is not an integer in the variable's range is a ConfigError
// naming the variable, the value and what is accepted, thrown by the call that needs the value
// (an Executor, ThreadExecutor or spawnpool::serve) and only when the program's Options do not set
// that value themselves. Readers that cannot throw (a worker's loop, a process-wide cache) take
// the default instead: the manager's executor has refused the value already.

#include <chrono>
#include <optional>
#include <string>

namespace spawnpool {
class Options;
}

namespace spawnpool::detail {

/// An integer environment variable and the values it accepts.
struct IntegerVariable {
  const char* name;
  long min;
  long max;
  const char* unit;  // what the number counts, for the message: "workers", "seconds", ...
};

/// spawnpool's integer variables, one entry each (the README's table lists the same).
namespace env {
inline constexpr IntegerVariable kMaxWorkers{"SPAWNPOOL_MAX_WORKERS", 1, 2147483647, "workers"};
inline constexpr IntegerVariable kSpawnTimeout{"SPAWNPOOL_SPAWN_TIMEOUT", 1, 2147483647, "seconds"};
inline constexpr IntegerVariable kHeartbeatTimeout{"SPAWNPOOL_HEARTBEAT_TIMEOUT", 1, 2147483647,
                                                   "seconds"};
inline constexpr IntegerVariable kPollSpin{"SPAWNPOOL_POLL_SPIN_US", 0, 2147483647, "microseconds"};
inline constexpr IntegerVariable kPollMaxSleep{"SPAWNPOOL_POLL_MAX_SLEEP_US", 10, 2147483647,
                                               "microseconds"};
inline constexpr IntegerVariable kMaxMessagePart{"SPAWNPOOL_MAX_MESSAGE_PART", 64, 2147483647,
                                                 "bytes"};
inline constexpr IntegerVariable kBufferCacheMb{"SPAWNPOOL_BUFFER_CACHE_MB", 0, 2147483647, "MiB"};
}  // namespace env

/// The variable's value, or nullopt when unset or empty.
std::optional<std::string> env_string(const char* name);

/// The variable's value; nullopt when unset or empty.
/// @throws ConfigError when it is set to anything but an integer from v.min to v.max (blanks
///         around the number are allowed), e.g. "spawnpool: SPAWNPOOL_MAX_WORKERS='0' is invalid:
///         expected an integer number of workers from 1 to 2147483647; unset it for the default"
std::optional<long> env_integer(const IntegerVariable& v);

/// A duration in seconds from the options when they set it (`from_options`), else from the
/// variable `v`, else `fallback_seconds`. The variable is read only when the options leave it.
/// @throws ConfigError as env_integer
std::chrono::milliseconds seconds_setting(
    const std::optional<std::chrono::milliseconds>& from_options,
    const IntegerVariable& v, long fallback_seconds);

/// As env_integer, but an invalid value gives nullopt: for readers that cannot throw. Never throws.
std::optional<long> env_integer_or_default(const IntegerVariable& v) noexcept;

/// Checks every integer variable an Executor (spawn, static, service client) or spawnpool::serve
/// with these options will read, skipping those the options set themselves; `needs_max_workers`
/// says whether the worker count comes from the environment at all (not for a service client).
/// Called before anything starts, so an invalid value starts no process.
/// @throws ConfigError as env_integer
void check_executor_environment(const Options& options, bool needs_max_workers);

/// True for "1", "yes", "true", "on" (any case); false when unset, empty or "0"/"no"/"false"/"off".
bool env_flag(const char* name);

/// This machine's host name.
std::string host_name();

}  // namespace spawnpool::detail
