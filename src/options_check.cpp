#include "options_check.hpp"

#include <spawnpool/errors.hpp>

#include <chrono>
#include <string>

namespace spawnpool::detail {
namespace {

[[noreturn]] void out_of_range(const std::string& setting, const std::string& accepted,
                               const std::string& got) {
  throw ConfigError("spawnpool::Options::" + setting + " must be " + accepted + ", got " + got);
}

/// The longest time accepted: what the environment variables accept (2^31 - 1 s), far from the
/// steady clock's overflow (a deadline of now + 292 years wrapped, and a spawn timeout of
/// milliseconds::max() expired at once).
constexpr std::chrono::seconds kLongestTime{2147483647};

template <class Rep, class Period>
void check_at_most_longest(const std::chrono::duration<Rep, Period>& value,
                           const std::string& setting, const char* unit) {
  if (value > kLongestTime) {
    out_of_range(setting, "at most " + std::to_string(kLongestTime.count()) + " s",
                 std::to_string(value.count()) + " " + unit);
  }
}

template <class Rep, class Period>
void check_positive(const std::optional<std::chrono::duration<Rep, Period>>& value,
                    const std::string& setting, const char* unit) {
  if (!value) return;
  if (value->count() <= 0) out_of_range(setting, "positive", std::to_string(value->count()) + " " + unit);
  check_at_most_longest(*value, setting, unit);
}

}  // namespace

void check_options(const Options& options) {
  if (options.max_workers() && *options.max_workers() < 1) {
    out_of_range("max_workers", "at least 1", std::to_string(*options.max_workers()));
  }
  if (options.rank_groups() && *options.rank_groups() < 1) {
    out_of_range("rank_groups", "at least 1", std::to_string(*options.rank_groups()));
  }
  if (options.min_workers() && *options.min_workers() < 1) {
    out_of_range("min_workers", "at least 1", std::to_string(*options.min_workers()));
  }
  if (options.min_workers() && options.max_workers() &&
      *options.min_workers() > *options.max_workers()) {
    out_of_range("min_workers", "at most max_workers (" + std::to_string(*options.max_workers()) + ")",
                 std::to_string(*options.min_workers()));
  }
  if (options.pipeline_depth() < 1) {
    out_of_range("pipeline_depth", "at least 1", std::to_string(options.pipeline_depth()));
  }
  if (options.max_batch() < 1) {
    out_of_range("max_batch", "at least 1", std::to_string(options.max_batch()));
  }
  check_positive(options.spawn_timeout(), "spawn_timeout", "ms");
  check_positive(options.heartbeat_timeout(), "heartbeat_timeout", "ms");
  if (options.task_timeout().count() < 0) {
    out_of_range("task_timeout", "0 (no limit) or more",
                 std::to_string(options.task_timeout().count()) + " ms");
  }
  check_at_most_longest(options.task_timeout(), "task_timeout", "ms");
  if (options.shutdown_timeout().count() < 0) {
    out_of_range("shutdown_timeout", "0 or more",
                 std::to_string(options.shutdown_timeout().count()) + " ms");
  }
  check_at_most_longest(options.shutdown_timeout(), "shutdown_timeout", "ms");
  if (options.poll_spin() && options.poll_spin()->count() < 0) {
    out_of_range("poll_spin", "0 or more", std::to_string(options.poll_spin()->count()) + " us");
  }
  if (options.poll_spin()) check_at_most_longest(*options.poll_spin(), "poll_spin", "us");
  check_positive(options.poll_max_sleep(), "poll_max_sleep", "us");
}

void check_min_workers(const Options& options, int workers) {
  if (options.min_workers() && *options.min_workers() > workers) {
    out_of_range("min_workers",
                 "at most the pool's " + std::to_string(workers) + " workers (max_workers' default here)",
                 std::to_string(*options.min_workers()));
  }
}

}  // namespace spawnpool::detail
