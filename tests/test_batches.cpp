// submit_batch against both executors (spawn-mode Executor with two workers, ThreadExecutor with two
// threads): lazy inputs from a generator or an iterator pair, every index once, errors, the window
// that bounds what is out at once, and 10 million generated inputs with flat manager memory.
#include "pools_for_tests.hpp"

#include <gtest/gtest.h>
#if defined(__SANITIZE_ADDRESS__)
// From ASan's runtime (sanitizer/allocator_interface.h, which GCC does not install).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace {

std::int64_t twice(std::int64_t x) { return 2 * x; }
SPAWNPOOL_TASK(twice);

int add(int a, int b) { return a + b; }
SPAWNPOOL_TASK(add);

int fail_on_7(int x) {
  if (x == 7) throw std::invalid_argument("seven");
  return x;
}
SPAWNPOOL_TASK(fail_on_7);

/// Memory this process uses, in bytes: its resident set (VmRSS); under AddressSanitizer the
/// heap's live bytes instead, since ASan keeps freed blocks in a quarantine of up to 256 MB that
/// the resident set counts (it grew by 255 MB over 9 M inputs of packed chunks, all of it freed).
long memory_in_use() {
#if defined(__SANITIZE_ADDRESS__)
  return static_cast<long>(__sanitizer_get_current_allocated_bytes());
#else
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) * 1024;
  }
  return -1;
#endif
}

template <class Pool>
class Batches : public ::testing::Test {
 protected:
  Pool& pool() { return test_pools::get<Pool>(); }
};
TYPED_TEST_SUITE(Batches, test_pools::Both);

TYPED_TEST(Batches, GeneratorEveryIndexOnce) {
  std::int64_t next = 0;
  auto inputs = [&]() -> std::optional<std::int64_t> {
    if (next == 1000) return std::nullopt;
    return next++;
  };
  std::set<std::size_t> seen;
  std::int64_t sum = 0;
  for (auto [i, y] : this->pool().submit_batch(spawnpool::MapOptions{}.chunksize(16), twice,
                                               inputs)) {
    EXPECT_TRUE(seen.insert(i).second);
    EXPECT_EQ(y, 2 * static_cast<std::int64_t>(i));
    sum += y;
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(sum, 999 * 1000);
}

TYPED_TEST(Batches, IteratorPairOfTuplesAndGet) {
  std::vector<std::tuple<int, int>> pairs;
  for (int i = 0; i < 300; ++i) pairs.emplace_back(i, -2 * i);
  std::vector<int> expected;
  for (auto [a, b] : pairs) expected.push_back(a + b);
  EXPECT_EQ(this->pool().submit_batch(add, pairs.begin(), pairs.end()).get(), expected);
  // Generator of tuples; empty input.
  int i = 0;
  auto gen = [&]() -> std::optional<std::tuple<int, int>> {
    if (i == 50) return std::nullopt;
    ++i;
    return std::make_tuple(i, i);
  };
  EXPECT_EQ(this->pool().submit_batch(add, gen).get().size(), 50u);
  std::vector<std::tuple<int, int>> none;
  EXPECT_FALSE(this->pool().submit_batch(add, none.begin(), none.end()).next());
}

TYPED_TEST(Batches, ErrorIsThrownForItsCallAndTheRestFollows) {
  std::vector<int> xs;
  for (int i = 0; i < 40; ++i) xs.push_back(i);
  auto batch = this->pool().submit_batch(spawnpool::MapOptions{}.chunksize(4), fail_on_7,
                                         xs.begin(), xs.end());
  std::size_t results = 0, errors = 0;
  for (;;) {
    try {
      if (!batch.next()) break;
      ++results;
    } catch (const spawnpool::RemoteError& e) {
      EXPECT_EQ(e.message(), "seven");
      ++errors;
    }
  }
  EXPECT_EQ(results, 39u);
  EXPECT_EQ(errors, 1u);
}

TYPED_TEST(Batches, PullsOnlyWhatTheWindowAllows) {
  std::size_t pulled = 0;
  auto inputs = [&]() -> std::optional<std::int64_t> {
    if (pulled == 5000) return std::nullopt;
    return static_cast<std::int64_t>(pulled++);
  };
  const std::size_t chunk = 10, window = 3;
  auto batch = this->pool().submit_batch(
      spawnpool::MapOptions{}.chunksize(chunk).window(window), twice, inputs);
  EXPECT_EQ(pulled, chunk * window);  // submit_batch queued the first window
  std::size_t taken = 0;
  while (auto item = batch.next()) {
    ++taken;
    EXPECT_LE(pulled, taken + chunk * window);
    EXPECT_LE(batch.chunks_out(), window);
  }
  EXPECT_EQ(taken, 5000u);
  EXPECT_EQ(batch.submitted(), 5000u);
}

TYPED_TEST(Batches, TenMillionInputsInFlatMemory) {
  // Tiny tasks, generated lazily, reduced as they arrive. The manager's memory must not grow with
  // the number of inputs: RSS after 10 M minus RSS after 1 M stays under 50 MB.
  const std::int64_t n = 10'000'000;
  std::int64_t next = 0;
  auto inputs = [&]() -> std::optional<std::int64_t> {
    if (next == n) return std::nullopt;
    return next++;
  };
  const auto start = std::chrono::steady_clock::now();
  auto batch = this->pool().submit_batch(spawnpool::MapOptions{}.chunksize(2000), twice, inputs);
  std::int64_t sum = 0, count = 0;
  long in_use_at_1m = -1;
  while (auto item = batch.next()) {
    sum += item->second;
    if (++count == 1'000'000) in_use_at_1m = memory_in_use();
  }
  const long in_use_at_end = memory_in_use();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("10M inputs in %.1f s; memory in use after 1M %.1f MB, after 10M %.1f MB\n", seconds,
              in_use_at_1m / 1e6, in_use_at_end / 1e6);
  EXPECT_EQ(count, n);
  EXPECT_EQ(sum, n * (n - 1));
  ASSERT_GT(in_use_at_1m, 0);
  EXPECT_LT(in_use_at_end - in_use_at_1m, 50L * 1000 * 1000);
}

}  // namespace

int main(int argc, char** argv) { return test_pools::run_all(argc, argv); }
