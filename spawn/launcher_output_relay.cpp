#include "launcher_output_relay.hpp"
#include "pidfd.hpp"

#include "launcher_noise_filter.hpp"
#include "relaunch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <string_view>

namespace spawnpool::detail {

namespace {

using Clock = std::chrono::steady_clock;

// Without a pidfd (kernels before 5.3) the relay looks for mpiexec's end this often.
constexpr int kExitCheckMs = 50;

/// Writes all of `bytes` to `fd` (waiting when it is non-blocking and full); false on an error
/// (EPIPE: the reader is gone).
bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t wrote = ::write(fd, bytes.data(), bytes.size());
    if (wrote >= 0) {
      bytes.remove_prefix(static_cast<std::size_t>(wrote));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd writable{fd, POLLOUT, 0};
      ::poll(&writable, 1, 100);
    } else if (errno != EINTR) {
      return false;
    }
  }
  return true;
}

bool ended(pid_t child) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == child;
}

int milliseconds_until(Clock::time_point when, Clock::time_point now) {
  if (when <= now) return 0;
  return static_cast<int>(
      std::chrono::ceil<std::chrono::milliseconds>(when - now).count());
}

}  // namespace

LauncherOutputRelay::LauncherOutputRelay() {
  for (int i = 0; i < 2; ++i) {
    const int target = i + 1;  // stdout, stderr
    if (::fcntl(target, F_GETFD) < 0) continue;  // closed: mpiexec inherits that
    int ends[2] = {-1, -1};
    const char* failed = ::pipe2(ends, O_CLOEXEC) != 0 ? "pipe2" : nullptr;
    // Above 0-2, so that making them the child's stdout and stderr never overwrites one.
    for (int& end : ends) {
      if (failed || end > 2) continue;
      const int moved = ::fcntl(end, F_DUPFD_CLOEXEC, 3);
      ::close(end);
      end = moved;
      if (moved < 0) failed = "fcntl(F_DUPFD_CLOEXEC)";
    }
    if (failed) {
      const std::string reason = std::strerror(errno);
      for (int end : ends)
        if (end >= 0) ::close(end);
      close_all();
      throw RelaunchError(std::string("spawnpool: cannot relaunch under mpiexec: ") + failed +
                          ": " + reason);
    }
    streams_[i] = Stream{target, ends[0], ends[1]};
  }
}

LauncherOutputRelay::~LauncherOutputRelay() { close_all(); }

void LauncherOutputRelay::close_all() noexcept {
  for (Stream& s : streams_) {
    if (s.read_end >= 0) ::close(s.read_end);
    if (s.write_end >= 0) ::close(s.write_end);
    s.read_end = s.write_end = -1;
  }
}

void LauncherOutputRelay::attach_child() const noexcept {
  for (const Stream& s : streams_)
    if (s.write_end >= 0) ::dup2(s.write_end, s.target);  // the copy is not close-on-exec
}

void LauncherOutputRelay::child_started() noexcept {
  for (Stream& s : streams_) {
    if (s.write_end >= 0) ::close(s.write_end);
    s.write_end = -1;
  }
}

void LauncherOutputRelay::relay_until_exit(pid_t child) noexcept {
  struct sigaction ignore {}, previous {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGPIPE, &ignore, &previous);  // a gone reader is an EPIPE, not our death
  const int pidfd = open_pidfd(child);
  LauncherNoiseFilter filters[2];
  Clock::time_point last_data[2] = {Clock::now(), Clock::now()};
  bool child_ended = false;
  Clock::time_point drain_deadline{};
  auto stop = [&](int i) {
    Stream& s = streams_[i];
    write_all(s.target, filters[i].release());
    ::close(s.read_end);
    s.read_end = -1;
  };
  try {
    char buffer[1 << 16];
    for (;;) {
      Clock::time_point now = Clock::now();
      if (!child_ended && ended(child)) {
        child_ended = true;
        drain_deadline = now + std::chrono::milliseconds(kDrainMs);
      }
      const bool any_open = streams_[0].read_end >= 0 || streams_[1].read_end >= 0;
      if (child_ended && (!any_open || now >= drain_deadline)) break;

      pollfd watched[3];
      int stream_of[3] = {-1, -1, -1};
      nfds_t count = 0;
      int timeout = -1;
      for (int i = 0; i < 2; ++i) {
        if (streams_[i].read_end < 0) continue;
        watched[count] = pollfd{streams_[i].read_end, POLLIN, 0};
        stream_of[count++] = i;
        if (filters[i].holding()) {
          const int wait = milliseconds_until(
              last_data[i] + std::chrono::milliseconds(LauncherNoiseFilter::kHoldMs), now);
          timeout = timeout < 0 ? wait : std::min(timeout, wait);
        }
      }
      if (!child_ended) {
        if (pidfd >= 0) {
          watched[count++] = pollfd{pidfd, POLLIN, 0};
        } else {
          timeout = timeout < 0 ? kExitCheckMs : std::min(timeout, kExitCheckMs);
        }
      } else {
        const int wait = milliseconds_until(drain_deadline, now);
        timeout = timeout < 0 ? wait : std::min(timeout, wait);
      }

      if (::poll(watched, count, timeout) < 0) {
        if (errno == EINTR) continue;  // a forwarded signal
        break;
      }
      now = Clock::now();
      for (nfds_t k = 0; k < count; ++k) {
        const int i = stream_of[k];
        if (i < 0 || (watched[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        Stream& s = streams_[i];
        const ssize_t got = ::read(s.read_end, buffer, sizeof buffer);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) {  // the end of the stream: every writer is gone
          stop(i);
          continue;
        }
        last_data[i] = now;
        if (launcher_ending_.load()) filters[i].drop_all_launcher_lines();
        const std::string out = filters[i].feed(std::string_view(buffer, static_cast<std::size_t>(got)));
        if (!write_all(s.target, out)) {
          ::close(s.read_end);  // our reader is gone: let mpiexec's next write fail as it would
          s.read_end = -1;
        }
      }
      // An unfinished line that looked like hydra's and got no more bytes in time is the
      // program's after all.
      for (int i = 0; i < 2; ++i) {
        if (streams_[i].read_end >= 0 && filters[i].holding() &&
            now - last_data[i] >= std::chrono::milliseconds(LauncherNoiseFilter::kHoldMs)) {
          write_all(streams_[i].target, filters[i].release());
        }
      }
    }
    for (int i = 0; i < 2; ++i)
      if (streams_[i].read_end >= 0) stop(i);
  } catch (...) {
    // Out of memory: stop reading, so that mpiexec's writes fail instead of blocking forever.
    for (Stream& s : streams_) {
      if (s.read_end >= 0) ::close(s.read_end);
      s.read_end = -1;
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  ::sigaction(SIGPIPE, &previous, nullptr);
}

}  // namespace spawnpool::detail
