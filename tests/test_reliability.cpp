// Failures that must end in clear errors, never in hangs: tasks that crash, exit, are killed or run
// forever. In spawn mode the pool fails only the task that was running, re-sends the ones queued
// behind it, and replaces the worker, keeping its size. (The manager's own death: test_manager_death.)
#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <vector>

// A real null-pointer store (not UBSan's report of it) is the point of case 3.
__attribute__((no_sanitize("undefined"))) int crash(int how) {
  switch (how) {
    case 1: std::abort();
    case 2: std::exit(3);
    case 3: { volatile int* p = nullptr; *p = 1; break; }
    case 4: raise(SIGKILL); break;
    case 5: for (;;) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return how;
}
SPAWNPOOL_TASK(crash);

int nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
SPAWNPOOL_TASK(nap);

long pid_of_worker() { return static_cast<long>(getpid()); }
SPAWNPOOL_TASK(pid_of_worker);

// A worker that dies part-way through sending a result's out-of-band bytes. The test binary
// interposes MPI_Isend through MPI's profiling interface (PMPI, the same on MPICH and Open MPI):
// sends from the doomed result's memory are made blocking, so each one has reached the manager
// when it returns, and before the ninth the process kills itself. The manager then holds the
// result message and 8 of its parts (the test runs with SPAWNPOOL_MAX_MESSAGE_PART=1 MiB) and is
// receiving the rest from a dead process. No timing, no transport assumptions.
namespace {
std::atomic<const char*> doomed_begin{nullptr};
std::atomic<const char*> doomed_end{nullptr};
std::atomic<int> doomed_parts_sent{0};
constexpr int kPartsBeforeDeath = 8;
}  // namespace

extern "C" int MPI_Isend(const void* buf, int count, MPI_Datatype type, int dest, int tag,
                         MPI_Comm comm, MPI_Request* request) {
  const char* p = static_cast<const char*>(buf);
  const char* begin = doomed_begin.load();
  if (begin == nullptr || p < begin || p >= doomed_end.load()) {
    return PMPI_Isend(buf, count, type, dest, tag, comm, request);
  }
  if (doomed_parts_sent.fetch_add(1) == kPartsBeforeDeath) raise(SIGKILL);
  const int rc = PMPI_Isend(buf, count, type, dest, tag, comm, request);
  if (rc != MPI_SUCCESS) return rc;
  return PMPI_Wait(request, MPI_STATUS_IGNORE);  // leaves MPI_REQUEST_NULL: already complete
}

// Returns a 64 MiB result (64 out-of-band parts of 1 MiB) and dies after sending 8 of them.
std::vector<double> large_result_then_die() {
  std::vector<double> result(std::size_t{1} << 23, 1.0);
  doomed_end = reinterpret_cast<const char*>(result.data() + result.size());
  doomed_begin = reinterpret_cast<const char*>(result.data());  // moved, not copied, from here
  return result;
}
SPAWNPOOL_TASK(large_result_then_die);

namespace {

using namespace std::chrono_literals;

bool alive(long pid) { return kill(static_cast<pid_t>(pid), 0) == 0; }

struct CrashCase {
  int how;
  const char* expected_text;
};

class WorkerDeath : public ::testing::TestWithParam<CrashCase> {};

TEST_P(WorkerDeath, FailsOnlyItsTaskAndTheWorkerIsReplaced) {
  const CrashCase c = GetParam();
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(2));
  const auto before = pool.workers();
  ASSERT_EQ(before.size(), 2u);
  auto long_task = pool.submit(nap, 400);  // on the other worker: must complete
  const auto start = std::chrono::steady_clock::now();
  auto doomed = pool.submit(crash, c.how);
  std::vector<spawnpool::Future<int>> later;
  for (int i = 0; i < 6; ++i) later.push_back(pool.submit(nap, 5));
  try {
    doomed.get();
    FAIL() << "expected WorkerLost";
  } catch (const spawnpool::WorkerLost& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(c.expected_text), std::string::npos) << what;
    EXPECT_NE(what.find("task \"crash\""), std::string::npos) << what;
    EXPECT_NE(what.find("host "), std::string::npos) << what;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("detection_seconds", std::to_string(seconds));
  std::printf("detected in %.3f s\n", seconds);
  EXPECT_EQ(long_task.get(), 400);
  for (auto& f : later) EXPECT_EQ(f.get(), 5);
  // The replacement starts beside the work (the other worker kept serving meanwhile): wait for it,
  // at most as long as the pool allows a start to take (SPAWNPOOL_SPAWN_TIMEOUT, 60 s).
  for (int i = 0; i < 6000 && pool.num_workers() < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(pool.num_workers(), 2) << "the lost worker was not replaced";
  const auto after = pool.workers();
  ASSERT_EQ(after.size(), 2u);
  for (const auto& w : after) EXPECT_TRUE(alive(w.pid));
  std::vector<long> pids;
  for (int i = 0; i < 20; ++i) pids.push_back(pool.submit(pid_of_worker).get());
  for (long pid : pids) EXPECT_TRUE(alive(pid));
}

std::string crash_name(const ::testing::TestParamInfo<CrashCase>& info) {
  static const char* const names[] = {"", "Abort", "Exit3", "Segfault", "SigKill"};
  return names[info.param.how];
}

INSTANTIATE_TEST_SUITE_P(Kinds, WorkerDeath,
                         ::testing::Values(CrashCase{1, "killed by signal 6 (SIGABRT)"},
                                           CrashCase{2, "the task called exit(3)"},
                                           CrashCase{3, "killed by signal 11 (SIGSEGV)"},
                                           CrashCase{4, "ended without a report"}),
                         crash_name);

TEST(WorkerDeath, WhileSendingALargeResultIsWorkerLostAndTheWorkerIsReplaced) {
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(1));
  const auto start = std::chrono::steady_clock::now();
  auto doomed = pool.submit(large_result_then_die);
  try {
    doomed.get();
    FAIL() << "expected WorkerLost (did the result leave from its own memory, out of band?)";
  } catch (const spawnpool::WorkerLost& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("ended while sending a result's out-of-band bytes"), std::string::npos)
        << what;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("detected in %.3f s\n", seconds);
  EXPECT_LT(seconds, 30.0) << "not the 120 s stall timeout of a receive from a dead worker";
  // The pool itself is not broken: the worker is replaced and serves.
  EXPECT_EQ(pool.submit(nap, 1).get(), 1);
}

// A replacement that takes long to start (here 12 s, as a spawn under a sanitizer or on a busy node
// can) must not stop the pool: the surviving worker keeps running tasks and keeps hearing from the
// manager (its heartbeat timeout, 5 s, is far shorter than the start), and the replacement joins
// when it is up.
TEST(SlowReplacement, TheOtherWorkersKeepServingMeanwhile) {
  char mark[] = "/tmp/spawnpool_slow_start_XXXXXX";
  const int fd = mkstemp(mark);
  ASSERT_GE(fd, 0);
  close(fd);
  std::remove(mark);  // first workers: fast
  char self[4096] = {};
  ASSERT_GT(readlink("/proc/self/exe", self, sizeof self - 1), 0);
  spawnpool::Executor pool(spawnpool::Options{}
                               .max_workers(2)
                               .heartbeat_timeout(5s)
                               .worker_program(SLOW_START_PATH)
                               .worker_args({mark, "12", self}));
  ASSERT_EQ(pool.num_workers(), 2);
  std::ofstream(mark).put('x');  // replacements: slow
  auto doomed = pool.submit(crash, 1);
  EXPECT_THROW(doomed.get(), spawnpool::WorkerLost);
  const long survivor = pool.workers().at(0).pid;
  // While the replacement starts: 20 tasks of 0.5 s, one after the other, on the survivor.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(pool.submit(nap, 500).get(), 500);
  EXPECT_TRUE(alive(survivor)) << "the surviving worker gave up on its manager";
  for (int i = 0; i < 6000 && pool.num_workers() < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(pool.num_workers(), 2) << "the slow replacement never joined";
  std::remove(mark);
  std::vector<spawnpool::Future<long>> pids;
  for (int i = 0; i < 20; ++i) pids.push_back(pool.submit(pid_of_worker));
  for (auto& f : pids) EXPECT_TRUE(alive(f.get()));
  EXPECT_EQ(pool.stats().workers_lost, 1u);
}

TEST(TaskTimeout, FailsWithTimeoutAndReplacesTheWorker) {
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(1).task_timeout(500ms));
  const long first_pid = pool.workers().at(0).pid;
  auto forever = pool.submit(crash, 5);
  auto queued = pool.submit(nap, 1);  // behind the endless task: must still run, elsewhere
  try {
    forever.get();
    ADD_FAILURE() << "expected Timeout";
  } catch (const spawnpool::Timeout& e) {
    EXPECT_STREQ(e.what(),
                 "spawnpool: task \"crash\" ran longer than the task timeout (500 ms); its "
                 "worker was ended and replaced");
  }
  EXPECT_EQ(queued.get(), 1);
  EXPECT_EQ(pool.num_workers(), 1);
  EXPECT_NE(pool.workers().at(0).pid, first_pid);
  for (int i = 0; i < 50 && alive(first_pid); ++i) std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(alive(first_pid)) << "the timed-out worker is still running";
}

}  // namespace

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
