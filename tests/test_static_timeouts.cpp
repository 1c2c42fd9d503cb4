// Tasks that never end in static mode: Options::task_timeout and the stuck clock of a k-rank
// task's group. Run under `mpiexec -n 4` (ctest), rank 0 the manager, ranks 1..3 the
// workers, one test per job (each loses ranks for the rest of its job: a static rank that ends is
// not replaced). A rank that ends here reports its end and exits 0, so the job goes on (Open MPI's
// mpirun needs orte_allowed_exit_without_sync for that: tests/CMakeLists.txt sets it).
#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

using namespace std::chrono_literals;

long multiply(long a, long b) { return a * b; }
SPAWNPOOL_TASK(multiply);

int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
SPAWNPOOL_TASK(sleep_ms);

/// Every rank contributes rank + 1.
long sum_of_ranks(spawnpool::TaskComm comm) {
  long mine = comm.rank() + 1;
  long total = 0;
  MPI_Allreduce(&mine, &total, 1, MPI_LONG, MPI_SUM, comm.mpi());
  return total;
}
SPAWNPOOL_TASK(sum_of_ranks);

/// A deadlock: rank 0 waits for a message rank 1 never sends; rank 1 returns.
int rank_zero_waits_for_nothing(spawnpool::TaskComm comm) {
  int value = 0;
  if (comm.rank() == 0) MPI_Recv(&value, 1, MPI_INT, 1, 99, comm.mpi(), MPI_STATUS_IGNORE);
  return value;
}
SPAWNPOOL_TASK(rank_zero_waits_for_nothing);

/// Rank `thrower` throws before a barrier the others wait in.
int throws_before_barrier(spawnpool::TaskComm comm, int thrower) {
  if (comm.rank() == thrower) throw std::runtime_error("rank " + std::to_string(thrower) + " gives up");
  MPI_Barrier(comm.mpi());
  return comm.rank();
}
SPAWNPOOL_TASK(throws_before_barrier);

namespace {

spawnpool::TaskOptions ranks(int k) { return spawnpool::TaskOptions{}.ranks(k); }

/// Waits (at most 30 s) until `pool` has `expected` workers; returns how many it has.
int workers_settle_at(spawnpool::Executor& pool, int expected) {
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (pool.num_workers() > expected && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(20ms);
  }
  return pool.num_workers();
}

TEST(StaticTimeouts, AnOrdinaryTaskPastTheTimeoutFailsWithTimeoutAndThePoolGoesOn) {
  spawnpool::Executor pool(spawnpool::Options{}.task_timeout(1000ms));
  const int before = pool.num_workers();
  // 60 s: on a pool that does not enforce the timeout, get() returns the value and the test fails.
  auto stuck = pool.submit(sleep_ms, 60000);
  try {
    (void)stuck.get();
    FAIL() << "expected Timeout";
  } catch (const spawnpool::Timeout& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("ran longer than the task timeout (1000 ms)"), std::string::npos) << what;
    EXPECT_NE(what.find("sleep_ms"), std::string::npos) << what;
  }
  EXPECT_EQ(workers_settle_at(pool, before - 1), before - 1) << "its rank ends";
  EXPECT_EQ(pool.submit(multiply, 6L, 7L).get(), 42);
  EXPECT_EQ(pool.submit(sleep_ms, 10).get(), 10) << "a task within the timeout";
  EXPECT_EQ(pool.submit(ranks(before - 1), sum_of_ranks).get(), (before - 1) * before / 2);
}

TEST(StaticTimeouts, ADeadlockedTaskOfTwoRanksFailsWithTimeoutAndBothRanksEnd) {
  spawnpool::Executor pool(spawnpool::Options{}.task_timeout(1000ms));
  const int before = pool.num_workers();
  try {
    (void)pool.submit(ranks(2), rank_zero_waits_for_nothing).get();
    FAIL() << "expected Timeout";
  } catch (const spawnpool::Timeout& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("ran longer than the task timeout (1000 ms)"), std::string::npos) << what;
  }
  EXPECT_EQ(workers_settle_at(pool, before - 2), before - 2) << "every rank of the group ends";
  EXPECT_EQ(pool.submit(multiply, 6L, 7L).get(), 42) << "the pool goes on";
}

/// The stuck clock: `thrower`'s part failed, the others wait for it in a barrier for ever.
void expect_stuck_group_ends(int thrower) {
  spawnpool::Executor pool;  // no task timeout
  const int before = pool.num_workers();
  try {
    (void)pool.submit(ranks(2), throws_before_barrier, thrower).get();
    FAIL() << "expected WorkerLost";
  } catch (const spawnpool::WorkerLost& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("rank " + std::to_string(thrower) +
                        " of its group's task failed and the other ranks did not finish within"),
              std::string::npos)
        << what;
  }
  EXPECT_EQ(workers_settle_at(pool, before - 2), before - 2) << "every rank of the group ends";
  EXPECT_EQ(pool.submit(multiply, 6L, 7L).get(), 42) << "the pool goes on";
}

TEST(StaticTimeouts, AFollowerThatThrowsBeforeABarrierEndsItsGroupWithWorkerLost) {
  expect_stuck_group_ends(1);
}

TEST(StaticTimeouts, ALeaderThatThrowsBeforeABarrierEndsItsGroupWithWorkerLost) {
  expect_stuck_group_ends(0);
}

}  // namespace

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);  // ranks 1..N-1 serve here and exit
  if (runtime.mode() != spawnpool::Mode::static_world) {
    std::fprintf(stderr, "test_static_timeouts must run under mpiexec -n 4\n");
    return 1;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
