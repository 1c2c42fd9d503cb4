#pragma once
// Reading spawnpool's environment variables.

#include <optional>
#include <string>

namespace spawnpool::detail {

/// The variable's value, or nullopt when unset or empty.
std::optional<std::string> env_string(const char* name);

/// The variable as an integer; `fallback` when unset or empty. Throws spawnpool::Error naming the
/// variable when it is set to something that is not an integer.
long env_long(const char* name, long fallback);

/// True for "1", "yes", "true", "on" (any case); false when unset, empty or "0"/"no"/"false"/"off".
bool env_flag(const char* name);

/// This machine's host name.
std::string host_name();

}  // namespace spawnpool::detail
