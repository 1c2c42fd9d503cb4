#pragma once
// spawnpool's log: spdlog's "spawnpool" logger on stderr. Level from SPAWNPOOL_LOG: trace, debug,
// info, warn (default), error, critical, off. Lines read "[spawnpool warning] ...".

#include <spdlog/spdlog.h>

#include <string>

namespace spawnpool::detail {

/// The logger, created on first use.
spdlog::logger& log();

/// Names the process that logs: lines read "[spawnpool warning] <source>: ..." from then on (a
/// worker's, "worker 3 (pid 4711): ..."); "" goes back to plain lines. Thread-safe.
void set_log_source(const std::string& source);

}  // namespace spawnpool::detail
