#pragma once
// Values of Options that no pool can use (a spawn timeout of 0, min_workers above max_workers, a
// pipeline depth of 0, ...) fail the executor's constructor before anything starts, naming the
// setting and the value, rather than being clamped silently or failing later and elsewhere (a
// spawn timeout of 0 left hydra launching workers for a manager that had given up on them).

#include <spawnpool/options.hpp>

namespace spawnpool::detail {

/// Checks the settings of `options` that do not depend on the pool's size.
/// @throws ConfigError naming the first setting out of its range
void check_options(const Options& options);

/// Checks Options::min_workers against the pool's size, `workers` (max_workers, or its default).
/// @throws ConfigError when min_workers is set and above `workers`
void check_min_workers(const Options& options, int workers);

}  // namespace spawnpool::detail
