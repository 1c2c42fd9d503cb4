#pragma once
// A pidfd: a descriptor that becomes readable when a process ends (Linux 5.3 and later).

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>

namespace spawnpool::detail {

/// A pidfd of `pid` (readable, for poll(), once it ends), or -1 with errno set where the kernel
/// has none. The caller closes it. Async-signal-safe (one system call); does not throw.
inline int open_pidfd(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

}  // namespace spawnpool::detail
