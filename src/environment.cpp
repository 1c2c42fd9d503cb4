#include "environment.hpp"

#include <spawnpool/errors.hpp>
#include <spawnpool/options.hpp>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace spawnpool::detail {

namespace {

/// The value as a long, when it is an integer within [v.min, v.max] (blanks around it allowed).
std::optional<long> parse_integer(const IntegerVariable& v, const std::string& text) {
  const auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
  const auto first = std::find_if_not(text.begin(), text.end(), blank);
  const auto last = std::find_if_not(text.rbegin(), text.rend(), blank).base();
  if (first >= last) return std::nullopt;
  const std::string digits(first, last);
  errno = 0;
  char* end = nullptr;
  const long parsed = std::strtol(digits.c_str(), &end, 10);
  if (errno != 0 || end == digits.c_str() || *end != '\0') return std::nullopt;
  if (parsed < v.min || parsed > v.max) return std::nullopt;
  return parsed;
}

}  // namespace

std::optional<std::string> env_string(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

std::optional<long> env_integer(const IntegerVariable& v) {
  const auto value = env_string(v.name);
  if (!value) return std::nullopt;
  if (const auto parsed = parse_integer(v, *value)) return parsed;
  throw ConfigError(std::string("spawnpool: ") + v.name + "='" + *value +
                    "' is invalid: expected an integer number of " + v.unit + " from " +
                    std::to_string(v.min) + " to " + std::to_string(v.max) +
                    "; unset it for the default");
}

std::chrono::milliseconds seconds_setting(
    const std::optional<std::chrono::milliseconds>& from_options,
    const IntegerVariable& v, long fallback_seconds) {
  if (from_options) return *from_options;
  return std::chrono::seconds(env_integer(v).value_or(fallback_seconds));
}

std::optional<long> env_integer_or_default(const IntegerVariable& v) noexcept {
  try {
    const auto value = env_string(v.name);
    if (!value) return std::nullopt;
    return parse_integer(v, *value);
  } catch (...) {
    return std::nullopt;
  }
}

void check_executor_environment(const Options& options, bool needs_max_workers) {
  if (needs_max_workers && !options.max_workers()) env_integer(env::kMaxWorkers);
  if (!options.spawn_timeout()) env_integer(env::kSpawnTimeout);
  if (!options.heartbeat_timeout()) env_integer(env::kHeartbeatTimeout);
  if (!options.poll_spin()) env_integer(env::kPollSpin);
  if (!options.poll_max_sleep()) env_integer(env::kPollMaxSleep);
  env_integer(env::kMaxMessagePart);
  env_integer(env::kBufferCacheMb);
}

bool env_flag(const char* name) {
  auto value = env_string(name);
  if (!value) return false;
  std::transform(value->begin(), value->end(), value->begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return !(*value == "0" || *value == "no" || *value == "false" || *value == "off");
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

}  // namespace spawnpool::detail
