#include "backoff.hpp"

#include "environment.hpp"

#include <sched.h>
#include <sys/prctl.h>

#include <algorithm>
#include <thread>

namespace spawnpool::detail {

PollSettings PollSettings::from_environment() {
  PollSettings s;
  s.spin =
      std::chrono::microseconds(env_integer_or_default(env::kPollSpin).value_or(s.spin.count()));
  s.max_sleep = std::chrono::microseconds(
      env_integer_or_default(env::kPollMaxSleep).value_or(s.max_sleep.count()));
  return s;
}

std::chrono::microseconds Backoff::next_pause() {
  using std::chrono::microseconds;
  const auto idle =
      std::chrono::duration_cast<microseconds>(std::chrono::steady_clock::now() - last_activity_);
  if (idle < settings_.spin) return microseconds(0);
  // Sleep at most 1/20 of the time already spent idle: whatever arrives next waits at most ~5 %
  // longer than the quiet period before it, and never more than max_sleep.
  const microseconds cap = std::clamp(idle / 20, microseconds(10), settings_.max_sleep);
  sleep_ = sleep_.count() == 0 ? microseconds(10) : std::min(sleep_ * 2, cap);
  return sleep_;
}

void Backoff::pause() {
  const auto pause = next_pause();
  if (pause.count() == 0) {
    if (yield_due()) sched_yield();
  } else {
    std::this_thread::sleep_for(pause);
  }
}

void set_fine_timer_slack() { prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); }

}  // namespace spawnpool::detail
