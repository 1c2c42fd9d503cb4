#pragma once
// The relaunching parent's copy of mpiexec's stdout and stderr to its own, without hydra's lines.
//
// relaunch_under_mpiexec (relaunch.hpp) gives mpiexec a pipe for its stdout and one for its
// stderr instead of the parent's own, and copies what comes out of them to the parent's stdout
// and stderr through a LauncherNoiseFilter (launcher_noise_filter.hpp): the program's output
// arrives unchanged and as soon as it is read (an unfinished line is held only while it could
// still become one of hydra's lines, at most LauncherNoiseFilter::kHoldMs), hydra's Ctrl-C and
// "YOUR APPLICATION TERMINATED" lines do not. stdin is not touched (mpiexec inherits it).
//
// A stream that the parent does not have open is not relayed (mpiexec inherits it as it is).
// When the parent's stdout or stderr is closed by its reader (`./app | head -1`), the relay stops
// reading that pipe, so that mpiexec's next write there fails as it would have (EPIPE).
// After mpiexec has ended, what is left in the pipes is copied; a pipe that a process mpiexec
// left behind still holds open is given up after kDrainMs.
//
// Not thread-safe, apart from launcher_is_being_ended; one relay per relaunch.

#include <sys/types.h>

#include <atomic>

namespace spawnpool::detail {

class LauncherOutputRelay {
 public:
  /// How long the relay goes on copying after mpiexec has ended while a pipe stays open.
  static constexpr int kDrainMs = 1000;

  /// Makes the pipes (close-on-exec, above the standard descriptors).
  /// @throws RelaunchError when a pipe cannot be made
  LauncherOutputRelay();
  /// Closes whatever pipe ends are still open.
  ~LauncherOutputRelay();
  LauncherOutputRelay(const LauncherOutputRelay&) = delete;
  LauncherOutputRelay& operator=(const LauncherOutputRelay&) = delete;

  /// In the child, between fork and exec: makes the pipes its stdout and stderr.
  /// Async-signal-safe.
  void attach_child() const noexcept;

  /// In the parent, once the child is started (or failed to start): closes the pipes' write ends,
  /// so that the relay sees the end of the stream when mpiexec and its processes are gone.
  void child_started() noexcept;

  /// Copies until `child` has ended (seen with waitid(WNOWAIT): it is left to the caller to reap)
  /// and its output is drained. SIGPIPE is ignored meanwhile and restored afterwards. Never
  /// throws; a failing read or write ends the relay of that stream only.
  void relay_until_exit(pid_t child) noexcept;

  /// Says that spawnpool is ending mpiexec: from now on the relay drops every line hydra writes
  /// under its own name (LauncherNoiseFilter::drop_all_launcher_lines). Thread-safe: called while
  /// another thread runs relay_until_exit.
  void launcher_is_being_ended() noexcept { launcher_ending_ = true; }

 private:
  struct Stream {
    int target = -1;      // our descriptor to copy to (1 or 2); -1: not relayed
    int read_end = -1;    // the pipe's end we read from
    int write_end = -1;   // the pipe's end mpiexec writes to
  };
  void close_all() noexcept;

  Stream streams_[2];
  std::atomic<bool> launcher_ending_{false};
};

}  // namespace spawnpool::detail
