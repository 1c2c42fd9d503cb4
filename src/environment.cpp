#include "environment.hpp"

#include <spawnpool/errors.hpp>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace spawnpool::detail {

std::optional<std::string> env_string(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

long env_long(const char* name, long fallback) {
  const auto value = env_string(name);
  if (!value) return fallback;
  char* end = nullptr;
  const long parsed = std::strtol(value->c_str(), &end, 10);
  if (end == value->c_str() || *end != '\0') {
    throw Error(std::string("spawnpool: environment variable ") + name + "='" + *value +
                "' is not an integer");
  }
  return parsed;
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
