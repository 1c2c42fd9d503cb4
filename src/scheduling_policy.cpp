#include "scheduling_policy.hpp"

#include <algorithm>
#include <cstdint>

namespace spawnpool::detail {

SchedulingPolicy::SchedulingPolicy(int pipeline_depth, std::size_t max_batch)
    : pipeline_depth_(std::max(1, pipeline_depth)), max_batch_(std::max<std::size_t>(1, max_batch)) {}

void SchedulingPolicy::record_busy_time(std::uint64_t nanoseconds, std::uint32_t calls) {
  if (calls == 0) return;
  const double per_call = static_cast<double>(nanoseconds) / calls;
  mean_call_ns_ = mean_call_ns_ < 0 ? per_call : 0.8 * mean_call_ns_ + 0.2 * per_call;
}

int SchedulingPolicy::depth() const noexcept {
  return mean_call_ns_ >= kLongCallNs ? 1 : pipeline_depth_;
}

std::size_t SchedulingPolicy::calls_per_message(std::size_t queued_calls,
                                                int free_slots) const noexcept {
  if (mean_call_ns_ < 0) return 1;
  const double fit = kTargetMessageNs / std::max(mean_call_ns_, 1.0);
  const std::size_t limit = std::clamp<std::size_t>(static_cast<std::size_t>(fit), 1, max_batch_);
  return std::max<std::size_t>(
      1, std::min(limit, queued_calls / static_cast<std::size_t>(std::max(1, free_slots))));
}

std::size_t SchedulingPolicy::most_calls_per_message(std::size_t queued_calls,
                                                     std::size_t workers) const noexcept {
  if (mean_call_ns_ < 0) return SIZE_MAX;
  const std::size_t parts = 2 * std::max<std::size_t>(1, workers);
  const std::size_t share = (queued_calls + parts - 1) / parts;
  const auto worth_a_message = static_cast<std::size_t>(kTargetMessageNs / std::max(mean_call_ns_, 1.0));
  return std::max<std::size_t>({1, share, worth_a_message});
}

}  // namespace spawnpool::detail
