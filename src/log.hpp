#pragma once
// spawnpool's log: spdlog's "spawnpool" logger on stderr. Level from SPAWNPOOL_LOG: trace, debug,
// info, warn (default), error, critical, off. Lines read "[spawnpool warning] ...".

#include <spdlog/spdlog.h>

namespace spawnpool::detail {

/// The logger, created on first use.
spdlog::logger& log();

}  // namespace spawnpool::detail
