// The map family against both executors (spawn-mode Executor with two workers, ThreadExecutor with
// two threads): map_unordered in completion order, MapOptions::timeout, starmap, ready()/wait(),
// and the progress line (its text, its throttling, silence when stderr is not a terminal).
#include "pools_for_tests.hpp"

#include <spawnpool/detail/map_progress.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace {

int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
SPAWNPOOL_TASK(sleep_ms);

int add(int a, int b) { return a + b; }
SPAWNPOOL_TASK(add);

int square(int x) { return x * x; }
SPAWNPOOL_TASK(square);

int fail_on_7(int x) {
  if (x == 7) throw std::invalid_argument("seven");
  return x;
}
SPAWNPOOL_TASK(fail_on_7);

// Packed chunks (detail/packed_chunk.hpp): trivially copyable types travel as one array per chunk.
struct Point {
  double x = 0;
  float y = 0;
  std::int16_t tag = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, y, tag);
  }
};

Point shift(Point p, std::int16_t by, double scale) {
  return Point{p.x * scale, p.y + 1.0f, static_cast<std::int16_t>(p.tag + by)};
}
SPAWNPOOL_TASK(shift);

std::atomic<int> g_touched{0};
void touch(int x) {
  if (x == 3) throw std::runtime_error("three");
  g_touched += x;
}
SPAWNPOOL_TASK(touch);

std::string label(int x) { return "#" + std::to_string(x); }
SPAWNPOOL_TASK(label);

bool is_even(int x) { return x % 2 == 0; }
SPAWNPOOL_TASK(is_even);

double scaled_sum(int k, const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return k * sum;
}
SPAWNPOOL_TASK(scaled_sum);

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

template <class Pool>
class MapFamily : public ::testing::Test {
 protected:
  Pool& pool() { return test_pools::get<Pool>(); }
};
TYPED_TEST_SUITE(MapFamily, test_pools::Both);

TYPED_TEST(MapFamily, UnorderedYieldsInCompletionOrder) {
  // One call per worker: the short one finishes first and must come first.
  const std::vector<int> sleeps{600, 30};
  std::vector<std::size_t> order;
  for (auto [i, ms] : this->pool().map_unordered(spawnpool::MapOptions{}.chunksize(1), sleep_ms,
                                                 sleeps)) {
    EXPECT_EQ(ms, sleeps[i]);
    order.push_back(i);
  }
  EXPECT_EQ(order, (std::vector<std::size_t>{1, 0}));
}

TYPED_TEST(MapFamily, UnorderedYieldsEveryIndexOnce) {
  std::vector<int> sleeps;
  for (int i = 0; i < 60; ++i) sleeps.push_back((i * 7) % 5);
  auto results = this->pool().map_unordered(spawnpool::MapOptions{}.chunksize(2), sleep_ms, sleeps);
  EXPECT_EQ(results.size(), sleeps.size());
  std::set<std::size_t> seen;
  for (auto [i, ms] : results.get()) {
    EXPECT_TRUE(seen.insert(i).second) << "index " << i << " twice";
    EXPECT_EQ(ms, sleeps[i]);
  }
  EXPECT_EQ(seen.size(), sleeps.size());
}

TYPED_TEST(MapFamily, UnorderedErrorIsThrownForItsCallAndIterationGoesOn) {
  std::vector<int> xs(10);
  for (int i = 0; i < 10; ++i) xs[i] = i;
  auto results = this->pool().map_unordered(fail_on_7, xs);
  std::set<std::size_t> seen;
  int errors = 0;
  for (;;) {
    try {
      auto item = results.next();
      if (!item) break;
      seen.insert(item->first);
    } catch (const spawnpool::RemoteError& e) {
      ++errors;
      EXPECT_EQ(e.type_name(), "std::invalid_argument");
    }
  }
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(seen.size(), 9u);
  EXPECT_EQ(seen.count(7), 0u);
}

TYPED_TEST(MapFamily, TimeoutRaisesTimeoutForASlowMap) {
  const std::vector<int> sleeps{500, 500, 500, 500, 500, 500};
  const auto start = Clock::now();
  auto results =
      this->pool().map(spawnpool::MapOptions{}.chunksize(1).timeout(milliseconds(150)), sleep_ms,
                       sleeps);
  EXPECT_THROW(results.get(), spawnpool::Timeout);
  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, milliseconds(140));
  EXPECT_LT(waited, milliseconds(450));
  // The calls not yet sent were cancelled; everything completes soon.
  results.wait();
  std::size_t cancelled = 0;
  for (auto& f : results.futures()) cancelled += f.valid() && f.cancelled() ? 1 : 0;
  EXPECT_GE(cancelled, 1u);
}

TYPED_TEST(MapFamily, TimeoutKeepsResultsThatCameInTime) {
  const std::vector<int> sleeps{0, 700};
  auto results = this->pool().map(
      spawnpool::MapOptions{}.chunksize(1).timeout(milliseconds(250)), sleep_ms, sleeps);
  auto it = results.begin();
  EXPECT_EQ(*it, 0);
  ++it;
  try {
    (void)*it;
    FAIL() << "expected Timeout";
  } catch (const spawnpool::Timeout& e) {
    EXPECT_NE(std::string(e.what()).find("sleep_ms"), std::string::npos) << e.what();
  }
  results.wait();
}

TYPED_TEST(MapFamily, TimeoutMessageCountsOnlyResultsNotYetTaken) {
  // Four quick results are taken, then the two slow ones miss the deadline: "0 of 2", not "of 6".
  const std::vector<int> sleeps{0, 0, 0, 0, 2000, 2000};
  auto results = this->pool().map(
      spawnpool::MapOptions{}.chunksize(1).timeout(milliseconds(800)), sleep_ms, sleeps);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(results.take(i), 0);
  try {
    (void)results.take(4);
    ADD_FAILURE() << "expected Timeout";
  } catch (const spawnpool::Timeout& e) {
    EXPECT_STREQ(e.what(),
                 "spawnpool: map of task \"sleep_ms\" did not finish within its timeout (0 of 2 "
                 "results not yet taken were ready); the calls not yet sent were cancelled");
  }
  results.wait();
}

TYPED_TEST(MapFamily, UnorderedTimeout) {
  const std::vector<int> sleeps{0, 700};
  auto results = this->pool().map_unordered(
      spawnpool::MapOptions{}.chunksize(1).timeout(milliseconds(250)), sleep_ms, sleeps);
  auto first = results.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->first, 0u);
  EXPECT_THROW(results.next(), spawnpool::Timeout);
  results.wait();
}

TYPED_TEST(MapFamily, NoTimeoutWhenInTime) {
  const std::vector<int> xs{1, 2, 3};
  EXPECT_EQ(this->pool().map(spawnpool::MapOptions{}.timeout(std::chrono::seconds(30)), square, xs)
                .get(),
            (std::vector<int>{1, 4, 9}));
}

TYPED_TEST(MapFamily, StarmapEqualsMap) {
  std::vector<int> a, b;
  std::vector<std::tuple<int, int>> tuples;
  std::vector<std::pair<int, int>> pairs;
  std::vector<std::array<int, 2>> arrays;
  for (int i = 0; i < 100; ++i) {
    a.push_back(i);
    b.push_back(3 * i - 50);
    tuples.emplace_back(i, 3 * i - 50);
    pairs.emplace_back(i, 3 * i - 50);
    arrays.push_back({i, 3 * i - 50});
  }
  const std::vector<int> expected = this->pool().map(add, a, b).get();
  EXPECT_EQ(this->pool().starmap(add, tuples).get(), expected);
  EXPECT_EQ(this->pool().starmap(spawnpool::MapOptions{}.chunksize(7), add, pairs).get(), expected);
  EXPECT_EQ(this->pool().starmap(add, arrays).get(), expected);
  // One-parameter tasks take one-element tuples or the values themselves.
  std::vector<std::tuple<int>> singles;
  for (int x : a) singles.emplace_back(x);
  EXPECT_EQ(this->pool().starmap(square, singles).get(), this->pool().map(square, a).get());
  EXPECT_EQ(this->pool().starmap(square, a).get(), this->pool().map(square, a).get());
  EXPECT_TRUE(this->pool().starmap(add, std::vector<std::tuple<int, int>>{}).get().empty());
}

TEST(PackedChunks, OnlyTriviallyCopyableTasksHaveAPackedTwin) {
  using spawnpool::detail::find_task;
  EXPECT_NE(find_task("square[packed]"), nullptr);
  EXPECT_NE(find_task("add[packed]"), nullptr);
  EXPECT_NE(find_task("shift[packed]"), nullptr);
  EXPECT_NE(find_task("touch[packed]"), nullptr);   // void result
  EXPECT_EQ(find_task("label[packed]"), nullptr);   // std::string result
  EXPECT_EQ(find_task("is_even[packed]"), nullptr);  // bool result: std::vector<bool> is no array
  EXPECT_EQ(find_task("scaled_sum[packed]"), nullptr);  // one std::vector parameter
}

TYPED_TEST(MapFamily, PackedResultsInInputOrder) {
  std::vector<int> xs(10007);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<int>(i) - 5000;
  std::vector<int> expected;
  for (int x : xs) expected.push_back(x * x);
  EXPECT_EQ(this->pool().map(square, xs).get(), expected);
  // An uneven last chunk, and one call per chunk.
  EXPECT_EQ(this->pool().map(spawnpool::MapOptions{}.chunksize(1000), square, xs).get(), expected);
  const std::vector<int> few{4, -2, 9};
  EXPECT_EQ(this->pool().map(spawnpool::MapOptions{}.chunksize(1), square, few).get(),
            (std::vector<int>{16, 4, 81}));
  // Iterated one by one, taken at random.
  auto results = this->pool().map(spawnpool::MapOptions{}.chunksize(64), square, xs);
  EXPECT_EQ(results.take(9000), expected[9000]);
  EXPECT_EQ(results.take(3), expected[3]);
  EXPECT_THROW(results.take(3), spawnpool::Error);  // taken once, as a future
  EXPECT_TRUE(this->pool().map(square, std::vector<int>{}).get().empty());
}

TYPED_TEST(MapFamily, PackedStructsAndConvertedArguments) {
  std::vector<Point> points;
  std::vector<long> bys;  // converted to the parameter's std::int16_t
  std::vector<std::tuple<Point, std::int16_t, double>> tuples;
  for (int i = 0; i < 300; ++i) {
    points.push_back(Point{i * 0.5, static_cast<float>(-i), static_cast<std::int16_t>(i)});
    bys.push_back(i % 7);
    tuples.emplace_back(points.back(), static_cast<std::int16_t>(i % 7), 2.0);
  }
  const std::vector<double> scales(points.size(), 2.0);
  const std::vector<Point> mapped = this->pool().map(shift, points, bys, scales).get();
  const std::vector<Point> starmapped =
      this->pool().starmap(spawnpool::MapOptions{}.chunksize(13), shift, tuples).get();
  ASSERT_EQ(mapped.size(), points.size());
  ASSERT_EQ(starmapped.size(), points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    const Point want = shift(points[i], static_cast<std::int16_t>(i % 7), 2.0);
    EXPECT_EQ(mapped[i].x, want.x);
    EXPECT_EQ(mapped[i].y, want.y);
    EXPECT_EQ(mapped[i].tag, want.tag);
    EXPECT_EQ(starmapped[i].x, want.x);
    EXPECT_EQ(starmapped[i].tag, want.tag);
  }
}

TYPED_TEST(MapFamily, PackedChunkWithAFailingCall) {
  std::vector<int> xs(20);
  for (int i = 0; i < 20; ++i) xs[static_cast<std::size_t>(i)] = i;
  // get(): the first error in input order, with the worker's type and message.
  try {
    (void)this->pool().map(spawnpool::MapOptions{}.chunksize(4), fail_on_7, xs).get();
    ADD_FAILURE() << "expected RemoteError";
  } catch (const spawnpool::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::invalid_argument");
    EXPECT_EQ(e.message(), "seven");
    EXPECT_EQ(e.task_name(), "fail_on_7");
    EXPECT_GT(e.worker_pid(), 0);
    EXPECT_GE(e.worker_id(), 0);
  }
  // One by one: only call 7 fails, its chunk's other calls have their results.
  auto results = this->pool().map(spawnpool::MapOptions{}.chunksize(4), fail_on_7, xs);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (i == 7) {
      EXPECT_THROW(results.take(i), spawnpool::RemoteError);
    } else {
      EXPECT_EQ(results.take(i), xs[i]);
    }
  }
  // The same through the futures, made from the chunks.
  auto again = this->pool().map(spawnpool::MapOptions{}.chunksize(4), fail_on_7, xs);
  std::vector<spawnpool::Future<int>>& futures = again.futures();
  ASSERT_EQ(futures.size(), xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (i == 7) {
      EXPECT_THROW(futures[i].get(), spawnpool::RemoteError);
    } else {
      EXPECT_EQ(futures[i].get(), xs[i]);
    }
  }
  // A void task: its failing call is reported.
  try {
    this->pool().map(spawnpool::MapOptions{}.chunksize(8), touch, std::vector<int>{1, 2, 3, 4}).get();
    ADD_FAILURE() << "expected RemoteError";
  } catch (const spawnpool::RemoteError& e) {
    EXPECT_EQ(e.message(), "three");
  }
}

TYPED_TEST(MapFamily, TypesThatCannotBePackedStillMap) {
  const std::vector<int> xs{1, 2, 3};
  EXPECT_EQ(this->pool().map(label, xs).get(), (std::vector<std::string>{"#1", "#2", "#3"}));
  EXPECT_EQ(this->pool().map(is_even, xs).get(), (std::vector<bool>{false, true, false}));
  const std::vector<std::vector<double>> vs{{1, 2}, {3}, {}};
  EXPECT_EQ(this->pool().map(scaled_sum, xs, vs).get(), (std::vector<double>{3, 6, 0}));
  // A progress line counts calls: that map takes the per-call path, with the same results.
  EXPECT_EQ(this->pool().map(spawnpool::MapOptions{}.progress(true), square, xs).get(),
            (std::vector<int>{1, 4, 9}));
}

TYPED_TEST(MapFamily, PackedBatchYieldsEveryInputOnce) {
  long next = 0;
  auto inputs = [&]() -> std::optional<int> {
    if (next == 5000) return std::nullopt;
    return static_cast<int>(next++);
  };
  std::vector<int> seen(5000, 0);
  std::size_t errors = 0;
  auto batch = this->pool().submit_batch(spawnpool::MapOptions{}.chunksize(100), fail_on_7, inputs);
  for (;;) {
    try {
      auto item = batch.next();
      if (!item) break;
      EXPECT_EQ(item->second, static_cast<int>(item->first));
      ++seen[item->first];
    } catch (const spawnpool::RemoteError& e) {
      EXPECT_EQ(e.message(), "seven");
      ++errors;
    }
  }
  EXPECT_EQ(errors, 1u);
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i == 7 ? 0 : 1) << i;
  // The default chunk of a packed batch, and get() in input order.
  std::vector<int> xs(3000);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<int>(i);
  std::vector<int> expected;
  for (int x : xs) expected.push_back(x * x);
  EXPECT_EQ(this->pool().submit_batch(square, xs.begin(), xs.end()).get(), expected);
}

TYPED_TEST(MapFamily, PackedUnorderedYieldsEveryInputOnce) {
  std::vector<int> xs(3001);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<int>(i);
  auto results = this->pool().map_unordered(spawnpool::MapOptions{}.chunksize(64), fail_on_7, xs);
  EXPECT_EQ(results.size(), xs.size());
  std::vector<int> seen(xs.size(), 0);
  std::size_t errors = 0;
  for (;;) {
    try {
      auto item = results.next();
      if (!item) break;
      EXPECT_EQ(item->second, xs[item->first]);
      ++seen[item->first];
    } catch (const spawnpool::RemoteError& e) {
      EXPECT_EQ(e.message(), "seven");
      ++errors;
    }
  }
  EXPECT_EQ(errors, 1u);
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i == 7 ? 0 : 1) << i;
  // A void task yields the indices; futures() asked first gives one future per input.
  auto touched = this->pool().map_unordered(touch, std::vector<int>{1, 2, 4, 5}).get();
  std::sort(touched.begin(), touched.end());
  EXPECT_EQ(touched, (std::vector<std::size_t>{0, 1, 2, 3}));
  auto squares = this->pool().map_unordered(spawnpool::MapOptions{}.chunksize(3), square, xs);
  std::vector<spawnpool::Future<int>>& futures = squares.futures();
  ASSERT_EQ(futures.size(), xs.size());
  EXPECT_EQ(futures[2999].get(), 2999 * 2999);
  std::size_t rest = 0;  // next() now reads the futures, the one taken above not among them
  while (auto item = squares.next()) {
    EXPECT_NE(item->first, 2999u);
    EXPECT_EQ(item->second, xs[item->first] * xs[item->first]);
    ++rest;
  }
  EXPECT_EQ(rest, xs.size() - 1);
}

TYPED_TEST(MapFamily, ReadyAndWait) {
  const std::vector<int> sleeps{200, 200};
  auto results = this->pool().map(spawnpool::MapOptions{}.chunksize(1), sleep_ms, sleeps);
  EXPECT_FALSE(results.ready());
  results.wait();
  EXPECT_TRUE(results.ready());
  EXPECT_EQ(results.get(), sleeps);
  auto unordered = this->pool().map_unordered(sleep_ms, sleeps);
  unordered.wait();
  EXPECT_TRUE(unordered.ready());
}

TYPED_TEST(MapFamily, ProgressIsSilentWhenStderrIsNotATerminal) {
  char path[] = "/tmp/spawnpool_progress_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::fflush(stderr);
  const int saved = dup(2);
  dup2(fd, 2);
  std::vector<int> xs(200, 1);
  const auto results =
      this->pool().map(spawnpool::MapOptions{}.progress(true).chunksize(3), square, xs).get();
  this->pool().map_unordered(spawnpool::MapOptions{}.progress(true), square, xs).get();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path);
  EXPECT_EQ(results.size(), xs.size());
  EXPECT_EQ(text.str(), "");
}

TEST(MapProgress, Format) {
  EXPECT_EQ(spawnpool::detail::format_map_progress("calc_primes", 523, 0, 1000, 2.1),
            "map calc_primes: 523/1000 done, 0 failed, 2.1 s");
  EXPECT_EQ(spawnpool::detail::format_map_progress("f", 0, 0, 0, 0.0), "map f: 0/0 done, 0 failed, 0.0 s");
  EXPECT_EQ(spawnpool::detail::format_map_progress("g", 10, 3, 10, 65.04),
            "map g: 10/10 done, 3 failed, 65.0 s");
}

TEST(MapProgress, ThrottledLineWithFinalNewline) {
  using spawnpool::detail::TaskState;
  std::vector<std::shared_ptr<TaskState>> states;
  for (int i = 0; i < 1000; ++i) states.push_back(std::make_shared<TaskState>("calc"));
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  auto progress = spawnpool::detail::MapProgress::watch(states, out);
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (i % 100 == 0) {
      states[i]->set_error(std::make_exception_ptr(std::runtime_error("x")));
    } else {
      states[i]->set_value({});
    }
    if (i == 500) std::this_thread::sleep_for(milliseconds(120));  // one more draw allowed
  }
  std::rewind(out);
  std::string text;
  for (int c; (c = std::fgetc(out)) != EOF;) text += static_cast<char>(c);
  std::fclose(out);
  EXPECT_LE(progress->draws(), 3u) << text;  // the first, one after the pause, the final one
  EXPECT_GE(progress->draws(), 2u) << text;
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.front(), '\r');
  EXPECT_EQ(text.back(), '\n');
  EXPECT_NE(text.find("\rmap calc: 1000/1000 done, 10 failed, "), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
}

TEST(MapProgress, NoneWhenNotATerminal) {
  using spawnpool::detail::TaskState;
  std::vector<std::shared_ptr<TaskState>> states{std::make_shared<TaskState>("t")};
  std::FILE* out = std::tmpfile();
  EXPECT_EQ(spawnpool::detail::MapProgress::watch_if_terminal(states, out), nullptr);
  std::fclose(out);
}

static_assert(spawnpool::is_executor_v<spawnpool::Executor>);
static_assert(spawnpool::is_executor_v<spawnpool::ThreadExecutor>);

}  // namespace

int main(int argc, char** argv) { return test_pools::run_all(argc, argv); }
