#include "process_check.hpp"

#include "spawn/proc_stat.hpp"

#include <signal.h>
#include <sys/types.h>

#include <cerrno>

namespace spawnpool::detail {

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
