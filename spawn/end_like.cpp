#include "end_like.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace spawnpool::detail {

void end_like(int status) noexcept {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(sig, SIG_DFL);
    sigset_t just_that;
    sigemptyset(&just_that);
    sigaddset(&just_that, sig);
    sigprocmask(SIG_UNBLOCK, &just_that, nullptr);
    raise(sig);
    _exit(128 + sig);  // a signal whose default is to be ignored
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

}  // namespace spawnpool::detail
