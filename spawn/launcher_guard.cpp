#include "launcher_guard.hpp"
#include "pidfd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace spawnpool::detail {

namespace {

// Everything below the fork runs in a copy of a process that may have had threads: system calls
// only (no allocation, no locks, no C++ library), and _exit, never exit.

constexpr int kFinalizeAckWaitMs = 1000;

/// The worker's end of the lifeline pipe (only without pidfd), closed in its forked children.
int g_lifeline_write_end = -1;
/// A static worker's end of the permission pipe (permit_orderly_end); -1 for a spawned worker,
/// whose guard always says finalize.
int g_permission_write_end = -1;

void close_lifeline_in_child() {
  if (g_lifeline_write_end >= 0) close(g_lifeline_write_end);
  g_lifeline_write_end = -1;
}
constexpr int kPollStepMs = 50;

void sleep_ms(int ms) {
  timespec pause{ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

void close_range_of(unsigned first, unsigned last) {
  if (first > last) return;
#ifdef SYS_close_range
  if (syscall(SYS_close_range, first, last, 0) == 0) return;
#endif
  long limit = sysconf(_SC_OPEN_MAX);
  if (limit < 0 || limit > 65536) limit = 65536;
  for (long fd = first; fd <= static_cast<long>(last) && fd < limit; ++fd) close(static_cast<int>(fd));
}

/// Leaves descriptors 0-2 on /dev/null and keeps only `kept` (each > 2, or -1: none) besides.
void keep_only(int a, int b, int c) {
  const int null_fd = open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    for (int fd = 0; fd < 3; ++fd) dup2(null_fd, fd);
    if (null_fd > 2 && null_fd != a && null_fd != b && null_fd != c) close(null_fd);
  }
  int kept[3] = {a, b, c};
  // Sort the three (c may be -1, which sorts first and is skipped).
  for (int i = 0; i < 3; ++i) {
    for (int j = i + 1; j < 3; ++j) {
      if (kept[j] < kept[i]) {
        const int t = kept[i];
        kept[i] = kept[j];
        kept[j] = t;
      }
    }
  }
  unsigned next = 3;
  for (int fd : kept) {
    if (fd < 3) continue;
    close_range_of(next, static_cast<unsigned>(fd) - 1);
    next = static_cast<unsigned>(fd) + 1;
  }
  close_range_of(next, ~0U);
}

/// True when the worker wrote its permission byte (permit_orderly_end) before it ended.
bool permitted(int permission_fd) {
  if (permission_fd < 0) return true;  // a spawned worker: always
  pollfd readable{permission_fd, POLLIN, 0};
  char byte = 0;
  return poll(&readable, 1, 0) > 0 && read(permission_fd, &byte, 1) == 1;
}

/// Blocks until the worker has ended: its pidfd becomes readable, or (without pidfd) the last
/// write end of the lifeline pipe closes.
void wait_for_worker_end(int watch_fd) {
  pollfd watched{watch_fd, POLLIN, 0};
  while (poll(&watched, 1, -1) < 0 && errno == EINTR) {
  }
}

/// Says `cmd=finalize` for the worker and waits (bounded) for hydra's `cmd=finalize_ack`. When
/// the worker finalized itself, the proxy has closed its end and the write fails: nothing to do.
void say_finalize(int pmi_fd) {
  static const char kFinalize[] = "cmd=finalize\n";
  if (write(pmi_fd, kFinalize, sizeof kFinalize - 1) != static_cast<ssize_t>(sizeof kFinalize - 1)) {
    return;
  }
  char answer[512];
  for (int waited = 0; waited < kFinalizeAckWaitMs; waited += kPollStepMs) {
    pollfd readable{pmi_fd, POLLIN, 0};
    if (poll(&readable, 1, kPollStepMs) <= 0) continue;
    const ssize_t got = read(pmi_fd, answer, sizeof answer - 1);
    if (got <= 0) return;
    answer[got] = '\0';
    if (strstr(answer, "finalize_ack") != nullptr) return;
  }
}

/// SIGTERM to what is left of the worker's process group, SIGKILL after kLeftoverGraceMs.
void end_process_group(pid_t group) {
  if (kill(-group, SIGTERM) != 0) return;  // nothing left
  for (int waited = 0; waited < kLeftoverGraceMs; waited += kPollStepMs) {
    sleep_ms(kPollStepMs);
    if (kill(-group, 0) != 0) return;
  }
  kill(-group, SIGKILL);
}

[[noreturn]] void run_guard(pid_t worker, bool worker_leads_group, int pmi_fd, int watch_fd,
                           int permission_fd) {
  setpgid(0, 0);  // out of the worker's group: spared when it is ended, and by hydra's signals
  if (watch_fd < 3) {
    // The program had closed a standard stream, and the watch descriptor took its number:
    // keep_only puts /dev/null there, so move it up first.
    const int moved = fcntl(watch_fd, F_DUPFD, 3);
    if (moved < 0) _exit(0);
    watch_fd = moved;
  }
  if (permission_fd >= 0 && permission_fd < 3) {
    const int moved = fcntl(permission_fd, F_DUPFD, 3);
    if (moved < 0) _exit(0);
    permission_fd = moved;
  }
  prctl(PR_SET_NAME, "spawnpool-guard", 0, 0, 0);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGUSR1, SIG_IGN);
  signal(SIGUSR2, SIG_IGN);
  keep_only(pmi_fd, watch_fd, permission_fd);
  wait_for_worker_end(watch_fd);
  // A static worker that ended without permission (its death not reported to the manager, or
  // not a spawnpool worker's end at all) is left to hydra, which then ends the job: better than a
  // manager waiting for a rank it does not know is gone.
  if (permitted(permission_fd)) say_finalize(pmi_fd);
  close(pmi_fd);
  if (worker_leads_group) end_process_group(worker);
  _exit(0);
}

/// hydra's PMI_FD as a descriptor, or -1 when it is not set or not open, or not hydra's (Slurm's
/// pmi2 plugin sets PMI_FD too, for another wire protocol; MPI_LOCALNRANKS is hydra's own).
int pmi_fd_from_environment() {
  if (!std::getenv("MPI_LOCALNRANKS")) return -1;
  const char* text = std::getenv("PMI_FD");
  if (!text) return -1;
  char* end = nullptr;
  const long fd = std::strtol(text, &end, 10);
  if (*end != '\0' || fd < 3 || fd > 1 << 20 || fcntl(static_cast<int>(fd), F_GETFD) < 0) return -1;
  return static_cast<int>(fd);
}

}  // namespace

void permit_orderly_end() noexcept {
  if (g_permission_write_end < 0) return;
  const char byte = 1;
  (void)!write(g_permission_write_end, &byte, 1);
}

void tell_launcher_finalized() noexcept {
  const int pmi_fd = pmi_fd_from_environment();
  if (pmi_fd >= 0) say_finalize(pmi_fd);
}

void start_launcher_guard() noexcept {
  const char* spawned = std::getenv("PMI_SPAWNED");
  const char* rank = std::getenv("PMI_RANK");
  const bool spawned_worker = spawned && std::strcmp(spawned, "1") == 0;
  // A rank other than 0 of a job started by mpiexec: a static worker, whose death must not end the
  // manager either (rank 0 runs main and gets no guard: its end is the job's end).
  const bool static_worker = !spawned_worker && rank && std::strcmp(rank, "0") != 0;
  if (!(spawned_worker || static_worker)) return;
  const int pmi_fd = pmi_fd_from_environment();
  if (pmi_fd < 0) return;

  const pid_t worker = getpid();
  const bool worker_leads_group = getpgrp() == worker;
  // What tells the guard the worker ended: a pidfd of the worker, or else a pipe whose write end
  // only the worker holds (close-on-exec, so programs its tasks start do not keep it open).
  int watch_fd = open_pidfd(worker);
  int lifeline[2] = {-1, -1};
  if (watch_fd < 0) {
    if (pipe2(lifeline, O_CLOEXEC) != 0) return;
    watch_fd = lifeline[0];
    g_lifeline_write_end = lifeline[1];
    // A task's fork() without exec must not keep the worker "alive" for the guard.
    static bool at_fork_installed = false;
    if (!at_fork_installed) {
      pthread_atfork(nullptr, nullptr, close_lifeline_in_child);
      at_fork_installed = true;
    }
  }

  // A static worker's guard says finalize only with permission (permit_orderly_end).
  int permission[2] = {-1, -1};
  if (static_worker && pipe2(permission, O_CLOEXEC) != 0) {
    if (lifeline[1] >= 0) close(lifeline[1]);
    close(watch_fd);
    g_lifeline_write_end = -1;
    return;  // no guard: hydra behaves as before
  }

  // Fork twice, so that the guard is not the worker's child (a task's wait() must never find
  // it), and reap the middle process at once.
  const pid_t middle = fork();
  if (middle == 0) {
    if (lifeline[1] >= 0) close(lifeline[1]);
    if (permission[1] >= 0) close(permission[1]);
    const pid_t guard = fork();
    if (guard == 0) run_guard(worker, worker_leads_group, pmi_fd, watch_fd, permission[0]);
    _exit(0);
  }
  close(watch_fd);  // the worker's copy (pidfd, or the pipe's read end)
  if (permission[0] >= 0) close(permission[0]);
  g_permission_write_end = middle > 0 ? permission[1] : -1;
  if (middle <= 0 && permission[1] >= 0) close(permission[1]);
  if (middle > 0) {
    int ignored = 0;
    while (waitpid(middle, &ignored, 0) < 0 && errno == EINTR) {
    }
  } else if (lifeline[1] >= 0) {
    close(lifeline[1]);  // no guard: nothing to tell
    g_lifeline_write_end = -1;
  }
}

}  // namespace spawnpool::detail
