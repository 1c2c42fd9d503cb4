// wait_all, wait_any and as_completed over ThreadExecutor futures: completion order (tasks that
// sleep different times, and tasks the test releases in a chosen order), errors and cancellations
// as completions, invalid futures, timeouts. No MPI processes.
#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int sleepy(int value, int millis) {
  std::this_thread::sleep_for(std::chrono::milliseconds(millis));
  return value;
}
SPAWNPOOL_TASK(sleepy);

int fail_after(int millis) {
  std::this_thread::sleep_for(std::chrono::milliseconds(millis));
  throw std::runtime_error("failed on purpose");
}
SPAWNPOOL_TASK(fail_after);

std::string shout(const std::string& s) { return s + "!"; }
SPAWNPOOL_TASK(shout);

/// Gates the test opens one by one; a task waits at its gate (at most 30 s, so a failing test
/// cannot hang).
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  void pass() {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait_for(lock, 30s, [this] { return open; });
  }
  void set(bool value) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      open = value;
    }
    cv.notify_all();
  }
};
std::array<Gate, 8> gates;
int gated(int index) {
  gates[static_cast<std::size_t>(index)].pass();
  return index;
}
SPAWNPOOL_TASK(gated);

void close_gates() {
  for (auto& g : gates) g.set(false);
}

std::vector<spawnpool::Future<int>> submit_gated(spawnpool::ThreadExecutor& pool, int n) {
  std::vector<spawnpool::Future<int>> futures;
  for (int i = 0; i < n; ++i) futures.push_back(pool.submit(gated, i));
  return futures;
}

// ---------------------------------------------------------------------------------------------
// as_completed

TEST(AsCompleted, YieldsFuturesInTheOrderTheirTasksFinish) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(4));
  const std::vector<int> millis{1300, 100, 900, 500};
  std::vector<spawnpool::Future<int>> futures;
  for (std::size_t i = 0; i < millis.size(); ++i) {
    futures.push_back(pool.submit(sleepy, static_cast<int>(i), millis[i]));
  }
  std::vector<std::size_t> order;
  for (std::size_t i : spawnpool::as_completed(futures)) {
    ASSERT_TRUE(futures[i].ready());
    EXPECT_EQ(futures[i].get(), static_cast<int>(i));
    order.push_back(i);
  }
  EXPECT_EQ(order, (std::vector<std::size_t>{1, 3, 2, 0}));
}

TEST(AsCompleted, FollowsTheOrderInWhichTasksAreReleased) {
  const std::vector<std::vector<int>> orders{{2, 0, 3, 1}, {0, 1, 2, 3}, {3, 2, 1, 0}};
  for (const auto& release_order : orders) {
    close_gates();
    spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(4));
    auto futures = submit_gated(pool, 4);
    auto completed = spawnpool::as_completed(futures);
    EXPECT_EQ(completed.size(), 4u);
    // Release the tasks one at a time, each only once the previous one has come out of the loop.
    std::size_t released = 0;
    gates[static_cast<std::size_t>(release_order[released++])].set(true);
    std::vector<int> seen;
    for (std::size_t i : completed) {
      seen.push_back(static_cast<int>(i));
      if (released < release_order.size()) {
        gates[static_cast<std::size_t>(release_order[released++])].set(true);
      }
    }
    EXPECT_EQ(seen, release_order);
    EXPECT_EQ(completed.remaining(), 0u);
  }
}

TEST(AsCompleted, FuturesAlreadyCompleteComeFirstInIndexOrder) {
  close_gates();
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(3));
  auto futures = submit_gated(pool, 3);
  gates[2].set(true);
  gates[0].set(true);
  futures[2].wait();
  futures[0].wait();
  auto completed = spawnpool::as_completed(futures);
  auto it = completed.begin();
  EXPECT_EQ(*it, 0u);
  ++it;
  EXPECT_EQ(*it, 2u);
  gates[1].set(true);
  ++it;
  EXPECT_EQ(*it, 1u);
  ++it;
  EXPECT_TRUE(it == completed.end());
  EXPECT_EQ(completed.next(), std::nullopt);
}

TEST(AsCompleted, ErrorsAndCancellationsCountAsCompletion) {
  close_gates();
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(1));
  std::vector<spawnpool::Future<int>> futures;
  futures.push_back(pool.submit(gated, 0));      // blocks the only thread
  futures.push_back(pool.submit(fail_after, 0));  // fails
  futures.push_back(pool.submit(sleepy, 2, 0));   // cancelled below
  ASSERT_TRUE(futures[2].cancel());
  auto completed = spawnpool::as_completed(futures);
  auto it = completed.begin();
  EXPECT_EQ(*it, 2u);  // the cancelled one is complete at once
  gates[0].set(true);
  std::vector<std::size_t> rest;
  for (++it; it != completed.end(); ++it) rest.push_back(*it);
  EXPECT_EQ(rest, (std::vector<std::size_t>{0, 1}));  // one thread: in submission order
  EXPECT_EQ(futures[0].get(), 0);
  EXPECT_THROW(futures[1].get(), spawnpool::RemoteError);
  EXPECT_THROW(futures[2].get(), spawnpool::Cancelled);
}

TEST(AsCompleted, SkipsInvalidFuturesAndHandlesEmptyRanges) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  std::vector<spawnpool::Future<int>> futures(4);  // all default-constructed
  futures[1] = pool.submit(sleepy, 1, 10);
  futures[3] = pool.submit(sleepy, 3, 0);
  std::vector<std::size_t> seen;
  auto completed = spawnpool::as_completed(futures);
  EXPECT_EQ(completed.size(), 2u);
  for (std::size_t i : completed) seen.push_back(i);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::size_t>{1, 3}));

  const std::vector<spawnpool::Future<int>> none;
  int iterations = 0;
  for ([[maybe_unused]] std::size_t i : spawnpool::as_completed(none)) ++iterations;
  EXPECT_EQ(iterations, 0);
}

TEST(AsCompleted, TimeoutThrowsThenTheRestStillArrive) {
  close_gates();
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  auto futures = submit_gated(pool, 2);
  gates[1].set(true);
  futures[1].wait();
  auto completed = spawnpool::as_completed(futures, 300ms);
  EXPECT_EQ(completed.next(), std::optional<std::size_t>(1));
  const auto start = Clock::now();
  EXPECT_THROW(completed.next(), spawnpool::Timeout);
  const auto waited = Clock::now() - start;
  EXPECT_LT(waited, 10s);
  gates[0].set(true);
  futures[0].wait();
  EXPECT_EQ(completed.next(), std::optional<std::size_t>(0));  // already there: no wait needed
  EXPECT_EQ(completed.next(), std::nullopt);
}

TEST(AsCompleted, WorksOnAMapResultsFutures) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  auto result = pool.map(spawnpool::MapOptions{}.chunksize(1), sleepy,
                         std::vector<int>{0, 1, 2, 3}, std::vector<int>{600, 0, 0, 0});
  auto& futures = result.futures();
  std::vector<std::size_t> order;
  for (std::size_t i : spawnpool::as_completed(futures)) {
    EXPECT_EQ(futures[i].get(), static_cast<int>(i));
    order.push_back(i);
  }
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order.back(), 0u);  // the slow one
}

TEST(AsCompleted, AbandoningTheIterationIsHarmless) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  std::vector<spawnpool::Future<int>> futures;
  for (int i = 0; i < 4; ++i) futures.push_back(pool.submit(sleepy, i, 50 * i));
  {
    auto completed = spawnpool::as_completed(futures);
    EXPECT_LT(*completed.begin(), 4u);
  }  // destroyed while futures are still running: their callbacks find nothing to do
  spawnpool::wait_all(futures);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(futures[static_cast<std::size_t>(i)].get(), i);
}

// ---------------------------------------------------------------------------------------------
// wait_any

TEST(WaitAny, ReturnsTheFutureThatCompletesFirst) {
  close_gates();
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(4));
  auto futures = submit_gated(pool, 4);
  std::thread releaser([] {
    std::this_thread::sleep_for(50ms);
    gates[2].set(true);
  });
  EXPECT_EQ(spawnpool::wait_any(futures), 2u);
  releaser.join();
  EXPECT_EQ(futures[2].get(), 2);
  for (auto& g : gates) g.set(true);
}

TEST(WaitAny, ReturnsTheLowestIndexAmongCompletedOnes) {
  close_gates();
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(4));
  auto futures = submit_gated(pool, 4);
  gates[3].set(true);
  gates[1].set(true);
  futures[3].wait();
  futures[1].wait();
  EXPECT_EQ(spawnpool::wait_any(futures), 1u);
  for (auto& g : gates) g.set(true);
}

TEST(WaitAny, TimesOutWhenNothingCompletes) {
  close_gates();
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  auto futures = submit_gated(pool, 2);
  const auto start = Clock::now();
  EXPECT_EQ(spawnpool::wait_any_for(futures, 200ms), std::nullopt);
  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, 190ms);
  EXPECT_LT(waited, 10s);
  EXPECT_EQ(spawnpool::wait_any_until(futures, std::chrono::system_clock::now() + 50ms),
            std::nullopt);
  gates[0].set(true);
  EXPECT_EQ(spawnpool::wait_any_for(futures, 30s), std::optional<std::size_t>(0));
  gates[1].set(true);
}

TEST(WaitAny, TakesFuturesOfDifferentTypes) {
  close_gates();
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  auto blocked = pool.submit(gated, 0);
  auto text = pool.submit(shout, std::string("hi"));
  EXPECT_EQ(spawnpool::wait_any(blocked, text), 1u);
  EXPECT_EQ(text.get(), "hi!");
  gates[0].set(true);
  EXPECT_EQ(spawnpool::wait_any(blocked), 0u);
}

TEST(WaitAny, RefusesToWaitForNothing) {
  const std::vector<spawnpool::Future<int>> empty;
  EXPECT_THROW(spawnpool::wait_any(empty), spawnpool::Error);
  const std::vector<spawnpool::Future<int>> invalid(3);
  EXPECT_THROW(spawnpool::wait_any_for(invalid, 1s), spawnpool::Error);
}

TEST(WaitAny, InALoopHandlesEveryFuture) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(3));
  std::vector<spawnpool::Future<int>> futures;
  for (int i = 0; i < 12; ++i) futures.push_back(pool.submit(sleepy, i, (i * 37) % 60));
  std::vector<int> got;
  for (std::size_t n = 0; n < futures.size(); ++n) {
    const std::size_t i = spawnpool::wait_any(futures);  // consumed futures are skipped
    got.push_back(futures[i].get());
  }
  std::sort(got.begin(), got.end());
  for (int i = 0; i < 12; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i);
  EXPECT_THROW(spawnpool::wait_any(futures), spawnpool::Error);  // all consumed now
}

// ---------------------------------------------------------------------------------------------
// wait_all

TEST(WaitAll, BlocksUntilEveryFutureIsComplete) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(3));
  const auto start = Clock::now();
  std::vector<spawnpool::Future<int>> futures;
  futures.push_back(pool.submit(sleepy, 0, 300));
  futures.push_back(pool.submit(fail_after, 100));
  futures.push_back(pool.submit(sleepy, 2, 0));
  futures.emplace_back();  // an invalid one is skipped
  spawnpool::wait_all(futures);
  EXPECT_GE(Clock::now() - start, 300ms);  // the 300 ms task
  for (std::size_t i = 0; i < 3; ++i) EXPECT_TRUE(futures[i].ready());
  EXPECT_THROW(futures[1].get(), spawnpool::RemoteError);  // wait_all itself did not throw
}

TEST(WaitAll, TakesFuturesOfDifferentTypes) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  auto number = pool.submit(sleepy, 5, 100);
  auto text = pool.submit(shout, "hey");
  spawnpool::wait_all(number, text);
  EXPECT_TRUE(number.ready());
  EXPECT_TRUE(text.ready());
  EXPECT_EQ(number.get(), 5);
  EXPECT_EQ(text.get(), "hey!");
}

TEST(WaitAll, TimedVersionsReportWhetherEverythingCompleted) {
  close_gates();
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  auto futures = submit_gated(pool, 2);
  gates[0].set(true);
  const auto start = Clock::now();
  EXPECT_FALSE(spawnpool::wait_all_for(futures, 200ms));
  EXPECT_GE(Clock::now() - start, 190ms);
  EXPECT_TRUE(futures[0].ready());
  EXPECT_FALSE(futures[1].ready());
  gates[1].set(true);
  EXPECT_TRUE(spawnpool::wait_all_until(futures, std::chrono::system_clock::now() + 30s));
  EXPECT_TRUE(spawnpool::wait_all_for(std::vector<spawnpool::Future<int>>{}, 0ms));
}
