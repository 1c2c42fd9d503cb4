#include "process_check.hpp"

#include <signal.h>
#include <sys/types.h>

#include <cerrno>
#include <fstream>
#include <string>

namespace spawnpool::detail {

namespace {

/// The state letter of /proc/PID/stat ('R', 'S', 'T', 'Z', ...), or 0 when it cannot be read.
char process_state(long pid) noexcept {
  try {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');  // the name in parentheses may hold anything
    if (close == std::string::npos || close + 2 >= line.size()) return 0;
    return line[close + 2];
  } catch (...) {
    return 0;
  }
}

}  // namespace

bool process_gone(long pid) noexcept {
  if (pid <= 0) return false;
  if (kill(static_cast<pid_t>(pid), 0) != 0) return errno == ESRCH;
  return process_state(pid) == 'Z';  // a zombie still answers kill(0)
}

bool process_stopped(long pid) noexcept {
  if (pid <= 0) return false;
  const char state = process_state(pid);
  return state == 'T' || state == 't';
}

void end_process(long pid) noexcept {
  if (pid <= 0 || process_gone(pid)) return;
  kill(static_cast<pid_t>(pid), SIGKILL);
}

}  // namespace spawnpool::detail
