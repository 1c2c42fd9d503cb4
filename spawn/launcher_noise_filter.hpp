#pragma once
// Takes MPICH hydra's own lines out of what the relaunched program writes.
//
// After a relaunch (relaunch.hpp) the program's stdout and stderr reach the user through mpiexec,
// which adds lines of its own that mean nothing to a user of spawnpool:
//   - on Ctrl-C:  "[mpiexec@HOST] Sending Ctrl-C to processes as requested"
//                 "[mpiexec@HOST] Press Ctrl-C again to force abort"
//   - when a rank ended by a signal (an uncaught exception: SIGABRT):
//                 "YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Aborted (signal 6)"
//                 "This typically refers to a problem with your application."
//                 "Please see the FAQ page for debugging suggestions"
//     (the last two only directly after the first).
// The relaunching parent reads mpiexec's output through pipes and passes it through this filter,
// which drops exactly those lines and passes every other byte through unchanged, in order.
// spawnpool says what happened itself, in one line (exit_status.hpp).
//
// Promptness: a complete line is decided at once. An unfinished line (no '\n' yet) is passed on
// at once too, unless what has arrived of it could still become one of hydra's lines (hydra
// writes "[mpiexec@HOST] " and the rest in two writes); only such a line is held, and the caller
// releases it (release()) when nothing more arrived within kHoldMs, or at the end of the stream.
// Binary-safe: bytes are bytes ('\n' is the only one looked at; NULs pass).
//
// Not thread-safe: one filter per stream, used by one thread.

#include <string>
#include <string_view>

namespace spawnpool::detail {

class LauncherNoiseFilter {
 public:
  /// How long the caller may hold an unfinished line that looks like hydra's before release().
  static constexpr int kHoldMs = 200;

  /// Takes the next bytes of the stream; returns the bytes to write now (possibly none), which
  /// are the input minus hydra's complete lines and minus a held unfinished line.
  std::string feed(std::string_view bytes);

  /// True when an unfinished line is held back (the caller should call release() after kHoldMs
  /// without new bytes, and at the end of the stream).
  bool holding() const noexcept { return !pending_.empty(); }

  /// Gives up on the held unfinished line: returns it unchanged (the rest of that line then
  /// passes unfiltered). Empty when nothing is held.
  std::string release();

  /// True when `line` (without its '\n') is one of hydra's lines that a filter drops in any
  /// context (the Ctrl-C lines and the "YOUR APPLICATION TERMINATED" line).
  static bool is_launcher_line(std::string_view line);

  /// From now on every line hydra writes under its own name ("[mpiexec@HOST] ...",
  /// "[proxy:...] ...") is dropped too: spawnpool is ending mpiexec (it outstayed the program, and
  /// spawnpool said so), and hydra's complaints about its own end ("HYDU_sock_write ... write
  /// error", six lines) tell the user nothing.
  void drop_all_launcher_lines() noexcept { launcher_ending_ = true; }

 private:
  enum class After { kOther, kTerminated, kTypically };

  // Whether `start`, the beginning of an unfinished line, could still become a dropped line.
  bool could_become_dropped(std::string_view start) const;
  // Whether the complete `line` is dropped here (updates after_).
  bool drop(std::string_view line);

  std::string pending_;        // the held start of the current line
  bool line_passing_ = false;  // part of the current line was passed on: pass the rest
  After after_ = After::kOther;
  bool launcher_ending_ = false;  // drop_all_launcher_lines
};

}  // namespace spawnpool::detail
