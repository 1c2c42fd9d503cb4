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

template <class Rep, class Period>
void check_positive(const std::optional<std::chrono::duration<Rep, Period>>& value,
                    const std::string& setting, const char* unit) {
  if (value && value->count() <= 0) {
    out_of_range(setting, "positive", std::to_string(value->count()) + " " + unit);
  }
}

}  // namespace

void check_options(const Options& options) {
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
  if (options.shutdown_timeout().count() < 0) {
    out_of_range("shutdown_timeout", "0 or more",
                 std::to_string(options.shutdown_timeout().count()) + " ms");
  }
  if (options.poll_spin() && options.poll_spin()->count() < 0) {
    out_of_range("poll_spin", "0 or more", std::to_string(options.poll_spin()->count()) + " us");
  }
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
