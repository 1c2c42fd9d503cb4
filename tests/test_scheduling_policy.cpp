// The scheduling policy without MPI: which worker gets the next message, how deep each worker's
// pipeline is, and how many short calls are packed into one message.
#include "src/scheduling_policy.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <vector>

using spawnpool::detail::SchedulingPolicy;

namespace {

/// Messages in flight per worker; -1: the worker does not take work.
std::optional<SchedulingPolicy::Choice> choose(SchedulingPolicy& policy, const std::vector<int>& load) {
  return policy.choose(load.size(), [&](std::size_t i) -> std::optional<int> {
    if (load[i] < 0) return std::nullopt;
    return load[i];
  });
}

TEST(SchedulingPolicy, PicksTheLeastBusyReadyWorker) {
  SchedulingPolicy policy(4, 16);
  const auto choice = choose(policy, {3, -1, 1, 2});
  ASSERT_TRUE(choice);
  EXPECT_EQ(choice->worker, 2u);
  EXPECT_EQ(choice->free_slots, 1 + 3 + 2);  // the worker that takes no work has no slots
}

TEST(SchedulingPolicy, RotatesAmongEquallyBusyWorkers) {
  SchedulingPolicy policy(2, 16);
  std::vector<std::size_t> picked;
  for (int i = 0; i < 6; ++i) picked.push_back(choose(policy, {0, 0, 0})->worker);
  EXPECT_EQ(picked, (std::vector<std::size_t>{0, 1, 2, 0, 1, 2}));
}

TEST(SchedulingPolicy, NoChoiceWhenEveryPipelineIsFull) {
  SchedulingPolicy policy(2, 16);
  EXPECT_FALSE(choose(policy, {2, 2, -1}));
  EXPECT_FALSE(choose(policy, {}));
}

TEST(SchedulingPolicy, LongCallsGoOneAtATime) {
  SchedulingPolicy policy(4, 16);
  EXPECT_EQ(policy.depth(), 4);
  policy.record_busy_time(50'000'000, 1);  // 50 ms a call
  EXPECT_EQ(policy.depth(), 1);
  EXPECT_FALSE(choose(policy, {1, 1}));
  EXPECT_EQ(choose(policy, {1, 0})->worker, 1u);
  EXPECT_EQ(policy.calls_per_message(100, 1), 1u);
}

TEST(SchedulingPolicy, ShortCallsArePackedOnlyWhenEverySlotStillGetsWork) {
  SchedulingPolicy policy(2, 16);
  EXPECT_EQ(policy.calls_per_message(1000, 4), 1u);  // unknown duration: one call a message
  policy.record_busy_time(10'000, 1);  // 10 us a call: 20 fit in the target message
  EXPECT_EQ(policy.calls_per_message(1000, 4), 16u);  // limited by max_batch
  EXPECT_EQ(policy.calls_per_message(40, 4), 10u);    // 40 calls over 4 free slots
  EXPECT_EQ(policy.calls_per_message(3, 4), 1u);      // fewer calls than slots: one each
}

TEST(SchedulingPolicy, DurationIsAMovingAverageOverCalls) {
  SchedulingPolicy policy(2, 64);
  policy.record_busy_time(0, 0);  // ignored: no calls
  EXPECT_LT(policy.mean_call_ns(), 0);
  policy.record_busy_time(1000, 10);
  EXPECT_DOUBLE_EQ(policy.mean_call_ns(), 100);
  policy.record_busy_time(600, 1);
  EXPECT_DOUBLE_EQ(policy.mean_call_ns(), 0.8 * 100 + 0.2 * 600);
}

TEST(SchedulingPolicy, LargeEntriesTravelAlone) {
  EXPECT_TRUE(SchedulingPolicy::fits(1000, 2000));
  EXPECT_FALSE(SchedulingPolicy::fits(SchedulingPolicy::kCoalesceLimitBytes - 10, 11));
}

TEST(SchedulingPolicy, DepthAndBatchBelowOneCountAsOne) {
  SchedulingPolicy policy(0, 0);
  EXPECT_EQ(policy.depth(), 1);
  policy.record_busy_time(1, 1);
  EXPECT_EQ(policy.calls_per_message(100, 1), 1u);
}

}  // namespace

TEST(SchedulingPolicy, TheTailOfAMapIsHandedOutInSmallerMessages) {
  SchedulingPolicy policy(2, 16);
  EXPECT_EQ(policy.most_calls_per_message(1000, 2), SIZE_MAX);  // unknown duration: whole chunks
  policy.record_busy_time(250'000'000, 125);  // 2 ms a call (seed 001's primes)
  EXPECT_EQ(policy.most_calls_per_message(1000, 2), 250u);  // half a worker's share of 1000
  EXPECT_EQ(policy.most_calls_per_message(250, 2), 63u);
  EXPECT_EQ(policy.most_calls_per_message(3, 2), 1u);
  EXPECT_EQ(policy.most_calls_per_message(3, 0), 2u);  // no worker counted: as if one
}

TEST(SchedulingPolicy, ShortCallsAreNotTakenApartBelowAMessagesWorth) {
  SchedulingPolicy policy(2, 16);
  policy.record_busy_time(1'024'000, 1024);  // 1 us a call: 200 fill the target message
  EXPECT_EQ(policy.most_calls_per_message(400, 2), 200u);
  EXPECT_EQ(policy.most_calls_per_message(100'000, 2), 25'000u);
}
