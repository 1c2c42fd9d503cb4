// Static mode: run under `mpiexec -n N` (ctest: N = 2, 3, 5). Rank 0 is the manager and runs these
// tests; ranks 1..N-1 serve inside spawnpool::Runtime and exit 0 when rank 0's Runtime ends.
#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <set>
#include <stdexcept>
#include <vector>

int world_rank_of_worker(int) {
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}
SPAWNPOOL_TASK(world_rank_of_worker);

long multiply(long a, long b) { return a * b; }
SPAWNPOOL_TASK(multiply);

int fail_on_purpose(int) { throw std::out_of_range("index 7 out of range"); }
SPAWNPOOL_TASK(fail_on_purpose);

namespace {

int world_size() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

std::set<int> ranks_used(spawnpool::Executor& pool, int tasks) {
  std::vector<int> dummy(static_cast<std::size_t>(tasks), 0);
  std::set<int> ranks;
  for (int r : pool.map(spawnpool::MapOptions{}.chunksize(1), world_rank_of_worker, dummy).get()) {
    ranks.insert(r);
  }
  return ranks;
}

TEST(Static, UsesTheOtherRanksAsWorkers) {
  spawnpool::Executor pool;
  EXPECT_EQ(pool.mode(), spawnpool::Mode::static_world);
  ASSERT_EQ(pool.num_workers(), world_size() - 1);
  for (const auto& w : pool.workers()) {
    EXPECT_GE(w.rank, 1);
    EXPECT_EQ(w.id, w.rank);  // a static worker's id is its rank
    EXPECT_NE(w.pid, static_cast<long>(getpid()));
  }
  const std::set<int> ranks = ranks_used(pool, 200);
  EXPECT_EQ(ranks.count(0), 0u) << "rank 0 is the manager and must not run tasks";
  for (int r : ranks) {
    EXPECT_GE(r, 1);
    EXPECT_LT(r, world_size());
  }
}

TEST(Static, ResultsAndErrors) {
  spawnpool::Executor pool;
  std::vector<spawnpool::Future<long>> futures;
  for (long i = 0; i < 2000; ++i) futures.push_back(pool.submit(multiply, i, 3L));
  for (long i = 0; i < 2000; ++i) ASSERT_EQ(futures[i].get(), 3 * i);
  try {
    pool.submit(fail_on_purpose, 1).get();
    FAIL() << "expected RemoteError";
  } catch (const spawnpool::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::out_of_range");
    EXPECT_GE(e.worker_id(), 1);
    EXPECT_LT(e.worker_id(), world_size());
    int matches = 0;
    for (const auto& w : pool.workers()) {
      if (w.id == e.worker_id()) {
        ++matches;
        EXPECT_EQ(w.pid, e.worker_pid());
      }
    }
    EXPECT_EQ(matches, 1);
  }
}

TEST(Static, TooManyWorkersIsClampedAndFewerAreHonoured) {
  spawnpool::Executor big(spawnpool::Options{}.max_workers(world_size() + 10));
  EXPECT_EQ(big.num_workers(), world_size() - 1);
  big.shutdown();
  spawnpool::Executor one(spawnpool::Options{}.max_workers(1));
  EXPECT_EQ(one.num_workers(), 1);
  EXPECT_EQ(ranks_used(one, 20), std::set<int>{1});
}

TEST(Static, ExecutorsInSequenceReuseTheWorkers) {
  for (int round = 0; round < 10; ++round) {
    spawnpool::Executor pool;
    ASSERT_EQ(pool.submit(multiply, round, 2L).get(), 2L * round) << "round " << round;
  }
}

TEST(Static, TwoExecutorsAtOnceDoNotMixMessages) {
  spawnpool::Executor a;
  spawnpool::Executor b;
  std::vector<spawnpool::Future<long>> fa, fb;
  for (long i = 0; i < 1000; ++i) {
    fa.push_back(a.submit(multiply, i, 5L));
    fb.push_back(b.submit(multiply, i, 7L));
  }
  for (long i = 0; i < 1000; ++i) {
    ASSERT_EQ(fa[i].get(), 5 * i);
    ASSERT_EQ(fb[i].get(), 7 * i);
  }
}

}  // namespace

int rank_count(spawnpool::TaskComm comm) {
  int size = 0;
  MPI_Comm_size(comm.mpi(), &size);
  return comm.rank() * 10 + size;
}
SPAWNPOOL_TASK(rank_count);

TEST(Static, KRankTasksRunOnGroupsOfRanksAndRefuseMoreThanThePoolHas) {
  spawnpool::Executor pool;
  // k = 1: one worker rank, over MPI_COMM_SELF (not the job's world).
  EXPECT_EQ(pool.submit(spawnpool::TaskOptions{}.ranks(1), rank_count).get(), 1);
  // k = 2 on a group of two idle ranks (test_static_ranks.cpp has the rest) when there are two.
  if (pool.num_workers() >= 2) {
    EXPECT_EQ(pool.submit(spawnpool::TaskOptions{}.ranks(2), rank_count).get(), 2);
  }
  const int too_many = pool.num_workers() + 1;
  try {
    (void)pool.submit(spawnpool::TaskOptions{}.ranks(too_many), rank_count);
    FAIL() << "expected an error at submit";
  } catch (const spawnpool::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot run on this static-mode pool of " +
                                         std::to_string(pool.num_workers()) + " worker ranks"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(pool.submit(rank_count).get(), 1) << "the pool goes on";
}

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);  // ranks 1..N-1 serve here and exit
  if (runtime.mode() != spawnpool::Mode::static_world) {
    std::fprintf(stderr, "test_static must run under mpiexec -n N with N >= 2\n");
    return 1;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
