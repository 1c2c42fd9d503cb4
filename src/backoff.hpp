#pragma once
// Adaptive polling. MPICH's blocking calls busy-poll a whole core, which on an oversubscribed node
// (a manager and four workers on two cores) starves the processes doing real work. So spawnpool
// polls with MPI_Improbe and, when nothing happens, first spins briefly (yielding the core), then
// sleeps for doubling intervals, each at most 1/20 of the time spent idle so far and at most
// max_sleep: a busy pool answers in microseconds, an idle pool costs almost no CPU, and a message
// after a quiet period of T waits at most about T/20 longer. While spinning it yields the core after
// every kPollsPerYield-th empty poll, not after each: a yield costs more than the poll itself (on the
// project's VMs a quarter of a round trip's CPU time went to it), and a peer waiting for this core
// still gets it within a few polls.

#include <chrono>

namespace spawnpool::detail {

struct PollSettings {
  std::chrono::microseconds spin{200};        // keep polling this long after the last activity
  std::chrono::microseconds max_sleep{10000};  // longest sleep between two polls

  /// Defaults overridden by SPAWNPOOL_POLL_SPIN_US and SPAWNPOOL_POLL_MAX_SLEEP_US.
  static PollSettings from_environment();
};

class Backoff {
 public:
  explicit Backoff(PollSettings settings) : settings_(settings) { activity(); }

  /// Something happened: poll eagerly again.
  void activity() {
    last_activity_ = std::chrono::steady_clock::now();
    sleep_ = std::chrono::microseconds(0);
  }

  /// While spinning, one empty poll in this many is followed by a yield.
  static constexpr unsigned kPollsPerYield = 4;

  /// How long to pause after a poll that found nothing; zero means "poll again" (yielding first
  /// when yield_due()).
  std::chrono::microseconds next_pause();

  /// Counts an empty poll while spinning: true for every kPollsPerYield-th.
  bool yield_due() { return ++empty_polls_ % kPollsPerYield == 0; }

  /// Pauses for next_pause() (for zero, sched_yield when yield_due()).
  void pause();

 private:
  PollSettings settings_;
  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::microseconds sleep_{0};
  unsigned empty_polls_ = 0;
};

/// Makes short sleeps of the calling thread precise (Linux timer slack defaults to 50 us).
void set_fine_timer_slack();

}  // namespace spawnpool::detail
