#pragma once
// The signals that a process standing between a launcher and the program it runs (the start
// watch, start_watch.hpp; the job keeper, job_keeper.hpp) passes on to that program, and their
// set-up around the fork that makes it. Async-signal-safe system calls only: both run before the
// executable's static initializers.

#include <signal.h>

#include <cstddef>

namespace spawnpool::detail {

/// Forwarded: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2.
inline constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
inline constexpr std::size_t kForwardedCount =
    sizeof kForwardedSignals / sizeof kForwardedSignals[0];

/// The forwarded signals' handlers and the signal mask as they were before forwarding began.
/// Not thread-safe (one per process, in its only thread).
class ForwardedSignals {
 public:
  /// Blocks the forwarded signals (none is lost before the child's pid is known) and installs
  /// `handler` for each that is not ignored (an ignored signal stays ignored).
  explicit ForwardedSignals(void (*handler)(int, siginfo_t*, void*)) noexcept {
    sigemptyset(&set_);
    for (int sig : kForwardedSignals) sigaddset(&set_, sig);
    sigprocmask(SIG_BLOCK, &set_, &previous_mask_);
    struct sigaction forward {};
    forward.sa_sigaction = handler;
    forward.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&forward.sa_mask);
    for (std::size_t i = 0; i < kForwardedCount; ++i) {
      sigaction(kForwardedSignals[i], nullptr, &previous_[i]);
      installed_[i] = previous_[i].sa_handler != SIG_IGN;
      if (installed_[i]) sigaction(kForwardedSignals[i], &forward, nullptr);
    }
  }
  ForwardedSignals(const ForwardedSignals&) = delete;
  ForwardedSignals& operator=(const ForwardedSignals&) = delete;

  /// In the child, before its exec: the handlers and the mask from before.
  void restore() const noexcept {
    for (std::size_t i = 0; i < kForwardedCount; ++i) {
      if (installed_[i]) sigaction(kForwardedSignals[i], &previous_[i], nullptr);
    }
    sigprocmask(SIG_SETMASK, &previous_mask_, nullptr);
  }

  /// The mask from before.
  const sigset_t& previous_mask() const noexcept { return previous_mask_; }
  /// The forwarded signals as a set.
  const sigset_t& set() const noexcept { return set_; }

 private:
  sigset_t set_{};
  sigset_t previous_mask_{};
  struct sigaction previous_[kForwardedCount] {};
  bool installed_[kForwardedCount] = {};
};

}  // namespace spawnpool::detail
