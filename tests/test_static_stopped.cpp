// A static rank that is stopped (SIGSTOP, Ctrl-Z on its terminal, a job-control accident) while it
// runs a task. Run under `mpiexec -n 3` (ctest), rank 0 the manager, ranks 1 and 2 the workers.
// The task's future fails with WorkerLost after the heartbeat timeout, the pool goes on with the
// other rank, and the job ends with main's exit status: the manager ends the stopped rank (on its
// host) so that it exits 0. ctest's timeout fails a job that never ends, and a nonzero status
// from mpiexec (hydra's 9 for a rank it saw killed) fails the test.
#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

using namespace std::chrono_literals;

int square(int x) { return x * x; }
SPAWNPOOL_TASK(square);

/// Stops the process that runs it; returns its pid when continued.
long stop_here() {
  ::raise(SIGSTOP);
  return static_cast<long>(::getpid());
}
SPAWNPOOL_TASK(stop_here);

// Before: the future failed with WorkerLost, main returned, and mpiexec waited for the stopped
// rank for ever. The cause names the timeout as set: it said "no heartbeat for 2 s" for 2.5 s.
TEST(StaticStopped, AStoppedRankIsLostAndTheJobStillEnds) {
  spawnpool::Executor pool(spawnpool::Options{}.heartbeat_timeout(2500ms));
  ASSERT_EQ(pool.num_workers(), 2);
  auto stopped = pool.submit(stop_here);
  try {
    (void)stopped.get();
    FAIL() << "expected WorkerLost";
  } catch (const spawnpool::WorkerLost& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("stop_here"), std::string::npos) << what;
    EXPECT_NE(what.find("no heartbeat for 2.5 s"), std::string::npos) << what;
  }
  EXPECT_EQ(pool.submit(square, 9).get(), 81) << "the other rank serves";
}

/// Rank 1 of the task's ranks stops; rank 0 waits for it in a barrier.
int follower_stops(spawnpool::TaskComm comm) {
  if (comm.rank() == 1) ::raise(SIGSTOP);
  MPI_Barrier(comm.mpi());
  return comm.rank();
}
SPAWNPOOL_TASK(follower_stops);

// A k-rank task whose follower stops: its leader ends on the task timeout (Timeout), the stopped
// follower is lost to silence and ended. Before: mpiexec waited for the follower for ever.
TEST(StaticStopped, AStoppedFollowerOfAKRankTaskIsLostAndTheJobStillEnds) {
  spawnpool::Executor pool(spawnpool::Options{}.heartbeat_timeout(3s).task_timeout(2s));
  ASSERT_EQ(pool.num_workers(), 2);
  auto stuck = pool.submit(spawnpool::TaskOptions{}.ranks(2), follower_stops);
  EXPECT_THROW((void)stuck.get(), spawnpool::Timeout);
  // Both ranks go: the leader on its clock, the follower once it is silent.
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (pool.num_workers() > 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(pool.num_workers(), 0);
}

long own_pid() { return static_cast<long>(::getpid()); }
SPAWNPOOL_TASK(own_pid);

/// True once the process `pid` is stopped (its state in /proc is 'T'), within 5 s.
bool becomes_stopped(long pid) {
  for (int i = 0; i < 500; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'T') return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

// An idle rank stopped from outside just before main returns: no executor is left to notice its
// silence. Before: mpiexec waited for the stopped rank for ever.
TEST(StaticStopped, AnIdleRankStoppedWhenMainEndsDoesNotHoldTheJob) {
  long pid = 0;
  {
    spawnpool::Executor pool(spawnpool::Options{}.max_workers(1));
    pid = pool.submit(own_pid).get();
  }
  ASSERT_GT(pid, 0);
  ::kill(static_cast<pid_t>(pid), SIGSTOP);
  EXPECT_TRUE(becomes_stopped(pid));
}

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);  // ranks 1 and 2 serve here and exit
  if (runtime.mode() != spawnpool::Mode::static_world) {
    std::fprintf(stderr, "test_static_stopped must run under mpiexec -n 3\n");
    return 1;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
