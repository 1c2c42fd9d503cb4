#include "log.hpp"

#include "environment.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <atomic>
#include <cctype>

namespace spawnpool::detail {

std::optional<spdlog::level::level_enum> log_level_from(const std::string& value) {
  std::string name;
  for (const char c : value) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  using namespace spdlog::level;
  static const std::pair<const char*, level_enum> kNames[] = {
      {"trace", trace}, {"debug", debug}, {"info", info},         {"warn", warn},
      {"warning", warn}, {"error", err},  {"err", err},           {"critical", critical},
      {"off", off}};
  for (const auto& [known, level] : kNames) {
    if (name == known) return level;
  }
  return std::nullopt;
}

std::string unknown_log_level_message(const std::string& value) {
  return "SPAWNPOOL_LOG='" + value +
         "' is not a log level (accepted, in any case: trace, debug, info, warn, error, "
         "critical, off); using warn";
}

spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto created = std::make_shared<spdlog::logger>(
        "spawnpool", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    created->set_pattern("[spawnpool %l] %v");
    const auto value = env_string("SPAWNPOOL_LOG");
    created->set_level(value ? log_level_from(*value).value_or(spdlog::level::warn)
                             : spdlog::level::warn);
    created->flush_on(spdlog::level::trace);
    return created;
  }();
  return *logger;
}

void warn_about_log_setting() {
  static std::atomic<bool> done{false};
  if (done.exchange(true)) return;
  const auto value = env_string("SPAWNPOOL_LOG");
  if (value && !log_level_from(*value)) log().warn("{}", unknown_log_level_message(*value));
}

void set_log_source(const std::string& source) {
  std::string pattern = "[spawnpool %l] ";
  for (char c : source) pattern += c == '%' ? std::string("%%") : std::string(1, c);
  if (!source.empty()) pattern += ": ";
  log().set_pattern(pattern + "%v");
}

}  // namespace spawnpool::detail
