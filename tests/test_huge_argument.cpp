// One argument larger than 2 GiB (more than an MPI count of int can describe) goes to a spawned
// worker and comes back intact: the end-to-end test of the multi-part wire format (parts of
// SPAWNPOOL_MAX_MESSAGE_PART bytes, default 1 GiB, so each way travels in three parts). The
// argument is passed as an lvalue, so it is copied into the message and travels inline, as one
// multi-part message; the result travels out of band (wire_format.hpp), from the worker's result
// straight into the manager's decoded vector, as a stream cut into the same parts.
//
// Needs several GiB of memory at its peak (printed at the end), so it is skipped when less than
// 16 GiB is available.
#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

// 2.2 GiB: past INT_MAX bytes (2 GiB - 1), and not a multiple of the part size.
constexpr std::size_t kHugeBytes = std::size_t{2} * 1024 * 1024 * 1024 + 200 * 1024 * 1024 + 7;
constexpr long kNeededKiB = 16L * 1024 * 1024;

/// A field of /proc/meminfo or /proc/self/status, in kB; -1 when missing.
long proc_field_kib(const char* file, const std::string& field) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, field.size() + 1, field + ":") == 0) {
      std::istringstream rest(line.substr(field.size() + 1));
      long kib = -1;
      rest >> kib;
      return kib;
    }
  }
  return -1;
}

/// Byte i of the pattern. 251 is prime and no power of two divides it, so a part that lands at the
/// wrong offset, a dropped or repeated byte, or a truncated 32-bit length shows up as a mismatch.
char pattern_byte(std::size_t i) { return static_cast<char>(i % 251); }

}  // namespace

// By value, and returned: the worker moves the argument into its result instead of copying it.
std::vector<char> echo_bytes(std::vector<char> data) { return data; }
SPAWNPOOL_TASK(echo_bytes);

/// The worker's peak resident memory so far (kB).
long worker_peak_rss_kib() { return proc_field_kib("/proc/self/status", "VmHWM"); }
SPAWNPOOL_TASK(worker_peak_rss_kib);

namespace {

TEST(HugeArgument, MoreThanTwoGiBGoesThereAndBackIntact) {
  const long available = proc_field_kib("/proc/meminfo", "MemAvailable");
  if (available < kNeededKiB) {
    GTEST_SKIP() << "needs 16 GiB of available memory for a 2.2 GiB argument sent there and back; "
                 << "MemAvailable is " << available / 1024 << " MiB";
  }
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(1));
  spawnpool::Future<std::vector<char>> back;
  {
    std::vector<char> data(kHugeBytes);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = pattern_byte(i);
    back = pool.submit(echo_bytes, data);  // encoded before submit returns: `data` may go now
  }
  const std::vector<char> result = back.get();
  ASSERT_EQ(result.size(), kHugeBytes);
  std::size_t wrong = 0, first_wrong = result.size();
  for (std::size_t i = 0; i < result.size(); ++i) {
    if (result[i] != pattern_byte(i)) {
      if (wrong++ == 0) first_wrong = i;
    }
  }
  EXPECT_EQ(wrong, 0u) << "first wrong byte at offset " << first_wrong;

  const long manager_peak = proc_field_kib("/proc/self/status", "VmHWM");
  const long worker_peak = pool.submit(worker_peak_rss_kib).get();
  RecordProperty("manager_peak_rss_mib", std::to_string(manager_peak / 1024));
  RecordProperty("worker_peak_rss_mib", std::to_string(worker_peak / 1024));
  std::printf("%zu bytes there and back; peak RSS: manager %ld MiB, worker %ld MiB\n", kHugeBytes,
              manager_peak / 1024, worker_peak / 1024);
}

}  // namespace

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);  // the worker serves here and exits
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
