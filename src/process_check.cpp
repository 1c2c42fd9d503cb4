#include "process_check.hpp"

#include <signal.h>
#include <sys/types.h>

#include <cerrno>
#include <fstream>
#include <string>

namespace spawnpool::detail {

bool process_gone(long pid) noexcept {
  if (pid <= 0) return false;
  if (kill(static_cast<pid_t>(pid), 0) != 0) return errno == ESRCH;
  try {
    // A zombie still answers kill(0): its state in /proc/PID/stat is 'Z'.
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
  } catch (...) {
    return false;
  }
}

}  // namespace spawnpool::detail
