#include "proc_stat.hpp"

#include <cstdlib>
#include <fstream>
#include <string>

namespace spawnpool::detail {
namespace {

/// The fields of /proc/PID/stat after the name, from the state on ("S 1234 ..."); "" when the
/// file cannot be read.
std::string fields_after_name(long pid) noexcept {
  try {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos || close + 2 >= line.size()) return {};
    return line.substr(close + 2);
  } catch (...) {
    return {};
  }
}

}  // namespace

char process_state(long pid) noexcept {
  const std::string fields = fields_after_name(pid);
  return fields.empty() ? 0 : fields[0];
}

long parent_pid(long pid) noexcept {
  const std::string fields = fields_after_name(pid);
  return fields.size() > 2 ? std::strtol(fields.c_str() + 2, nullptr, 10) : 0;
}

}  // namespace spawnpool::detail
