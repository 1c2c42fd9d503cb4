#pragma once
// spawnpool's log: spdlog's "spawnpool" logger on stderr. Level from SPAWNPOOL_LOG, in any case:
// trace, debug, info, warn (default; also "warning"), error (also "err"), critical, off. Lines
// read "[spawnpool warning] ...". An unknown value keeps the default level, and
// warn_about_log_setting() says so in one line.

#include <spdlog/spdlog.h>

#include <optional>
#include <string>

namespace spawnpool::detail {

/// The level a SPAWNPOOL_LOG value asks for (any case, blanks around it ignored); nullopt for a
/// value that names no level.
std::optional<spdlog::level::level_enum> log_level_from(const std::string& value);

/// The line warn_about_log_setting() writes for an unknown SPAWNPOOL_LOG value, e.g.
/// "SPAWNPOOL_LOG='verbose' is not a log level (accepted, in any case: trace, debug, info, warn,
/// error, critical, off); using warn".
std::string unknown_log_level_message(const std::string& value);

/// The logger, created on first use (its level from SPAWNPOOL_LOG, warn when unset or unknown).
/// Thread-safe.
spdlog::logger& log();

/// Warns once per process, at warn level, when SPAWNPOOL_LOG names no level. Called where the
/// program's own code starts (the manager's Runtime, a ThreadExecutor, spawnpool::serve), not in
/// workers, so that a program says it once, not once per worker. Thread-safe.
void warn_about_log_setting();
/// Names the process that logs: lines read "[spawnpool warning] <source>: ..." from then on (a
/// worker's, "worker 3 (pid 4711): ..."); "" goes back to plain lines. Thread-safe.
void set_log_source(const std::string& source);

}  // namespace spawnpool::detail
