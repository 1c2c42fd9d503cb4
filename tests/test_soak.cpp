// Soak: a million tiny tasks and a hundred executor create/destroy cycles in one process, with
// resident memory (VmRSS) and open file descriptors flat and no worker process left behind.
// Started alone (spawn mode, relaunches itself). Counts can be lowered for a quick run:
//   SPAWNPOOL_SOAK_TASKS (default 1000000), SPAWNPOOL_SOAK_CYCLES (default 100).
#include <spawnpool/spawnpool.hpp>

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

namespace soak {
std::int64_t add_one(std::int64_t x) { return x + 1; }
int worker_pid() { return static_cast<int>(::getpid()); }
}  // namespace soak
SPAWNPOOL_TASK(soak::add_one);
SPAWNPOOL_TASK(soak::worker_pid);

namespace {

// Under AddressSanitizer, freed memory sits in its quarantine (256 MiB by default) and RSS says
// nothing about leaks (LeakSanitizer does that job): the RSS bound is checked in normal builds only.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCheckRss = false;
#else
constexpr bool kCheckRss = true;
#endif

using Clock = std::chrono::steady_clock;

long count_from_env(const char* name, long fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::atol(text) : fallback;
}

/// Resident set size of a process in MiB (VmRSS from /proc/<pid>/status); -1 when unreadable.
double rss_mib(const std::string& pid = "self") {
  std::ifstream status("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  }
  return -1;
}

/// Number of open file descriptors (entries of /proc/self/fd, minus the one opendir holds).
int open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n - 1;
}

bool process_exists(long pid) {
  return ::access(("/proc/" + std::to_string(pid)).c_str(), F_OK) == 0;
}

std::string this_host() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TEST(Soak, MillionTinyTasksKeepMemoryAndDescriptorsFlat) {
  const long total = count_from_env("SPAWNPOOL_SOAK_TASKS", 1000000);
  const long per_round = std::min<long>(total, 100000);
  const long rounds = total / per_round;
  std::vector<std::int64_t> inputs(static_cast<std::size_t>(per_round));
  std::iota(inputs.begin(), inputs.end(), 0);
  const std::int64_t expected_sum = per_round * (per_round - 1) / 2 + per_round;

  spawnpool::Executor pool;
  const std::vector<spawnpool::WorkerInfo> workers = pool.workers();
  auto worker_rss = [&] {  // summed over the workers (they run on this host)
    double sum = 0;
    for (const auto& w : workers) sum += rss_mib(std::to_string(w.pid));
    return sum;
  };
  const auto start = Clock::now();
  double rss_warm = 0, workers_rss_warm = 0;
  int fds_warm = 0;
  std::string trail;  // manager VmRSS after each round, MiB
  for (long round = 0; round < rounds; ++round) {
    const std::vector<std::int64_t> results =
        pool.map(spawnpool::MapOptions{}.chunksize(100), soak::add_one, inputs).get();
    ASSERT_EQ(results.size(), inputs.size());
    ASSERT_EQ(std::accumulate(results.begin(), results.end(), std::int64_t{0}), expected_sum);
    trail += " " + std::to_string(static_cast<int>(rss_mib() + 0.5));
    if (round == std::min<long>(1, rounds - 1)) {  // warm-up: allocator arenas, message buffers, MPI caches
      rss_warm = rss_mib();
      workers_rss_warm = worker_rss();
      fds_warm = open_fds();
    }
  }
  const double elapsed = seconds_since(start);
  const double rss_end = rss_mib();
  const double workers_rss_end = worker_rss();
  const int fds_end = open_fds();
  std::printf("[soak] %ld tasks (chunks of 100) on %d workers in %.1f s (%.0f tasks/s); manager "
              "VmRSS after round 2 %.1f MiB, at the end %.1f MiB (%+.1f); workers' VmRSS (sum) "
              "%.1f -> %.1f MiB (%+.1f); open fds %d -> %d\n",
              rounds * per_round, pool.num_workers(), elapsed, rounds * per_round / elapsed,
              rss_warm, rss_end, rss_end - rss_warm, workers_rss_warm, workers_rss_end,
              workers_rss_end - workers_rss_warm, fds_warm, fds_end);
  std::printf("[soak] manager VmRSS after each round of %ld tasks (MiB):%s\n", per_round,
              trail.c_str());
  if (kCheckRss) {
    EXPECT_LT(workers_rss_end - workers_rss_warm, 30.0) << "workers' memory grew by more than 30 MiB";
  }
  if (kCheckRss) {
    EXPECT_LT(rss_end - rss_warm, 30.0) << "resident memory grew by more than 30 MiB";
  }
  EXPECT_NEAR(fds_end, fds_warm, 2) << "open file descriptors are not flat";
}

TEST(Soak, ExecutorCyclesLeaveNoProcessesMemoryOrDescriptors) {
  const long cycles = count_from_env("SPAWNPOOL_SOAK_CYCLES", 100);
  const long warm_up = std::min<long>(5, cycles);
  const std::string host = this_host();
  const auto start = Clock::now();
  double rss_warm = rss_mib();
  int fds_warm = open_fds();
  const int fds_before = open_fds();
  double slowest_exit = 0;
  for (long cycle = 0; cycle < cycles; ++cycle) {
    std::vector<spawnpool::WorkerInfo> workers;
    {
      spawnpool::Executor pool(spawnpool::Options{}.max_workers(1));
      workers = pool.workers();
      ASSERT_EQ(workers.size(), 1u);
      ASSERT_EQ(pool.submit(soak::worker_pid).get(), workers[0].pid);
    }
    // Destroyed: every worker process must be gone (allowing it a moment to finish exiting).
    const auto destroyed = Clock::now();
    for (const spawnpool::WorkerInfo& w : workers) {
      ASSERT_EQ(w.host, host);
      while (process_exists(w.pid) && seconds_since(destroyed) < 10) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      ASSERT_FALSE(process_exists(w.pid))
          << "worker pid " << w.pid << " still exists 10 s after its executor was destroyed"
          << " (cycle " << cycle << ")";
    }
    slowest_exit = std::max(slowest_exit, seconds_since(destroyed));
    if (cycle + 1 == warm_up) {
      rss_warm = rss_mib();
      fds_warm = open_fds();
    }
  }
  const double elapsed = seconds_since(start);
  const double rss_end = rss_mib();
  const int fds_end = open_fds();
  std::printf("[soak] %ld executor cycles (1 worker each) in %.1f s (%.2f s per cycle); slowest "
              "worker exit after destruction %.3f s; VmRSS after %ld cycles %.1f MiB, at the end "
              "%.1f MiB (%+.1f); open fds before %d, after warm-up %d, at the end %d\n",
              cycles, elapsed, elapsed / cycles, slowest_exit, warm_up, rss_warm, rss_end,
              rss_end - rss_warm, fds_before, fds_warm, fds_end);
  if (kCheckRss) {
    EXPECT_LT(rss_end - rss_warm, 30.0) << "resident memory grew by more than 30 MiB";
  }
  EXPECT_NEAR(fds_end, fds_warm, 2) << "open file descriptors are not flat";
  EXPECT_NEAR(fds_end, fds_before, 2) << "open file descriptors are not back to their start value";
}

}  // namespace

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);  // workers serve here and exit
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
