#include "log.hpp"

#include "environment.hpp"

#include <spdlog/sinks/stdout_sinks.h>

namespace spawnpool::detail {

spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto created = std::make_shared<spdlog::logger>(
        "spawnpool", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    created->set_pattern("[spawnpool %l] %v");
    const auto level = env_string("SPAWNPOOL_LOG").value_or("warn");
    created->set_level(spdlog::level::from_str(level));
    created->flush_on(spdlog::level::trace);
    return created;
  }();
  return *logger;
}

void set_log_source(const std::string& source) {
  std::string pattern = "[spawnpool %l] ";
  for (char c : source) pattern += c == '%' ? std::string("%%") : std::string(1, c);
  if (!source.empty()) pattern += ": ";
  log().set_pattern(pattern + "%v");
}

}  // namespace spawnpool::detail
