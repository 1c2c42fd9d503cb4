#pragma once
// Which worker gets the next message, how many messages a worker may have in flight, and how many
// calls one message carries. No MPI: the pool engine asks, then sends.
//
// It adapts to the measured run time of a call (workers report the time they spent on each
// message). Short calls, well under the cost of a message, are packed several to a message when the
// queue is long enough that every free slot still gets work; long calls (over kLongCallNs) go one at
// a time to whichever worker is free, as with mpi4py.futures, so that no call waits behind a long
// one while another worker idles. Each worker otherwise gets up to `pipeline_depth` messages in
// flight, so that it never waits a round trip for its next message. Towards the end of a long map
// its chunks are taken apart (guided self-scheduling): a message carries at most half a worker's
// fair share of the calls still queued, so that the last messages are small and the workers finish
// at about the same time instead of one running the last large chunk alone.
// Not thread-safe: owned by the pool's engine.

#include <cstddef>
#include <cstdint>
#include <optional>

namespace spawnpool::detail {

class SchedulingPolicy {
 public:
  static constexpr std::size_t kCoalesceLimitBytes = 64 * 1024;  // larger messages travel alone
  static constexpr double kTargetMessageNs = 200e3;  // pack short calls into about this much work
  static constexpr double kLongCallNs = 5e6;         // calls this long are sent one at a time

  /// `pipeline_depth` and `max_batch` below 1 count as 1.
  SchedulingPolicy(int pipeline_depth, std::size_t max_batch);

  /// A worker reported `nanoseconds` of work on a message of `calls` calls (0 calls: ignored).
  void record_busy_time(std::uint64_t nanoseconds, std::uint32_t calls);
  /// Moving average of one call's run time; negative until the first report.
  double mean_call_ns() const noexcept { return mean_call_ns_; }

  /// Messages a worker may have in flight now: the pipeline depth, or 1 for long calls.
  int depth() const noexcept;

  struct Choice {
    std::size_t worker;  // index of the worker to send to
    int free_slots;      // free message slots over all ready workers
  };
  /// The ready worker with the fewest messages in flight, rotating among equals. `in_flight(i)`
  /// gives worker i's messages in flight, or nullopt when it does not take work (not ready).
  /// nullopt when no worker has a free slot.
  template <class InFlight>
  std::optional<Choice> choose(std::size_t workers, InFlight&& in_flight);

  /// How many single calls the next message may carry, with `queued_calls` calls waiting (the
  /// first of them included) and `free_slots` free slots: 1 until calls are known to be short.
  std::size_t calls_per_message(std::size_t queued_calls, int free_slots) const noexcept;

  /// The most calls one message may carry with `queued_calls` calls waiting and `workers` workers
  /// serving: half a worker's share of them (rounded up), but never fewer than fill
  /// kTargetMessageNs of work. Unlimited until calls are known.
  std::size_t most_calls_per_message(std::size_t queued_calls, std::size_t workers) const noexcept;

  /// Whether a message of `bytes` may take another entry of `entry_bytes`.
  static bool fits(std::size_t bytes, std::size_t entry_bytes) noexcept {
    return bytes + entry_bytes <= kCoalesceLimitBytes;
  }

 private:
  int pipeline_depth_;
  std::size_t max_batch_;
  double mean_call_ns_ = -1;
  std::size_t next_worker_ = 0;  // where the rotation starts
};

template <class InFlight>
std::optional<SchedulingPolicy::Choice> SchedulingPolicy::choose(std::size_t workers,
                                                                 InFlight&& in_flight) {
  const int limit = depth();
  std::optional<Choice> best;
  int best_load = 0;
  int free_slots = 0;
  for (std::size_t k = 0; k < workers; ++k) {
    const std::size_t i = (next_worker_ + k) % workers;
    const std::optional<int> load = in_flight(i);
    if (!load || *load >= limit) continue;
    free_slots += limit - *load;
    if (!best || *load < best_load) {
      best = Choice{i, 0};
      best_load = *load;
    }
  }
  if (!best) return std::nullopt;
  best->free_slots = free_slots;
  next_worker_ = (best->worker + 1) % workers;
  return best;
}

}  // namespace spawnpool::detail
