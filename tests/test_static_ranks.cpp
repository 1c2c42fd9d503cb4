// k-rank tasks (task_comm.hpp) in static mode: run under `mpiexec -n 5` (ctest), rank 0 the
// manager, ranks 1..4 the workers. Each k-rank call gets a group of k idle ranks, its communicator
// made with MPI_Comm_create_group: k = 1, 2, 3 each rank contributing, every rank's result in rank
// order, mixed with ordinary tasks, two groups side by side, a rank that throws, a k-rank task not
// starved by a stream of ordinary ones, more ranks than the pool has refused at submit, and a rank
// that dies (last: its group's ranks are gone for the rest of the job).
#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

/// Every rank contributes rank + 1: the sum over k ranks is k(k+1)/2, times `scale`.
long sum_of_ranks(spawnpool::TaskComm comm, long scale) {
  long mine = (comm.rank() + 1) * scale;
  long total = 0;
  MPI_Allreduce(&mine, &total, 1, MPI_LONG, MPI_SUM, comm.mpi());
  return total;
}
SPAWNPOOL_TASK(sum_of_ranks);

/// rank * 10 + size (the communicator's own), after a barrier over the task's ranks.
int rank_and_size(spawnpool::TaskComm comm) {
  MPI_Barrier(comm.mpi());
  int size = 0;
  MPI_Comm_size(comm.mpi(), &size);
  return comm.rank() * 10 + size;
}
SPAWNPOOL_TASK(rank_and_size);

/// The job's world rank of each of the task's ranks.
int world_rank(spawnpool::TaskComm comm) {
  MPI_Barrier(comm.mpi());
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}
SPAWNPOOL_TASK(world_rank);

long multiply(long a, long b) { return a * b; }
SPAWNPOOL_TASK(multiply);

int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
SPAWNPOOL_TASK(sleep_ms);

/// Rank 1 throws; no collective follows, so the others finish.
int rank_one_throws(spawnpool::TaskComm comm) {
  if (comm.rank() == 1) throw std::out_of_range("rank one is out of range");
  return comm.rank();
}
SPAWNPOOL_TASK(rank_one_throws);

/// Rank 1 dies (SIGABRT) while rank 0 waits for it in a barrier.
int rank_one_dies(spawnpool::TaskComm comm) {
  if (comm.rank() == 1) std::abort();
  MPI_Barrier(comm.mpi());
  return comm.rank();
}
SPAWNPOOL_TASK(rank_one_dies);

/// Rank 0 leaves a mark `dir/me` and waits (at most 60 s) for the mark of `other`: true only when
/// both tasks ran at the same time. The other ranks wait for rank 0 at the barrier.
bool meet(spawnpool::TaskComm comm, std::string dir, int me, int other) {
  bool met = false;
  if (comm.rank() == 0) {
    std::ofstream(dir + "/" + std::to_string(me)) << "here";
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!met && std::chrono::steady_clock::now() < give_up) {
      met = std::filesystem::exists(dir + "/" + std::to_string(other));
      if (!met) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  MPI_Barrier(comm.mpi());
  return met;
}
SPAWNPOOL_TASK(meet);

namespace {

spawnpool::TaskOptions ranks(int k) { return spawnpool::TaskOptions{}.ranks(k); }

spawnpool::Executor& pool() {
  static spawnpool::Executor executor;
  return executor;
}

TEST(StaticRanks, EveryRankContributesForOneTwoAndThreeRanks) {
  for (int k = 1; k <= 3; ++k) {
    EXPECT_EQ(pool().submit(ranks(k), sum_of_ranks, 1L).get(), k * (k + 1) / 2) << "k = " << k;
  }
}

TEST(StaticRanks, AllRanksGivesEveryRanksResultInRankOrder) {
  EXPECT_EQ(pool().submit_all_ranks(ranks(3), rank_and_size).get(), (std::vector<int>{3, 13, 23}));
  EXPECT_EQ(pool().submit_all_ranks(ranks(2), sum_of_ranks, 5L).get(),
            (std::vector<long>{15, 15}));
}

TEST(StaticRanks, AGroupIsMadeOfDistinctWorkerRanks) {
  int world = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  for (int round = 0; round < 5; ++round) {
    const std::vector<int> used = pool().submit_all_ranks(ranks(world - 1), world_rank).get();
    const std::set<int> distinct(used.begin(), used.end());
    EXPECT_EQ(distinct.size(), used.size());
    EXPECT_EQ(distinct.count(0), 0u) << "the manager is never in a group";
    EXPECT_EQ(*distinct.rbegin(), world - 1);
  }
}

TEST(StaticRanks, MixedWithOrdinaryTasksInOnePool) {
  std::vector<spawnpool::Future<long>> products, sums;
  for (int i = 0; i < 24; ++i) {
    products.push_back(pool().submit(multiply, static_cast<long>(i), static_cast<long>(i)));
    sums.push_back(pool().submit(ranks(1 + i % 3), sum_of_ranks, static_cast<long>(i)));
  }
  for (int i = 0; i < 24; ++i) {
    const int k = 1 + i % 3;
    EXPECT_EQ(products[static_cast<std::size_t>(i)].get(), static_cast<long>(i) * i);
    EXPECT_EQ(sums[static_cast<std::size_t>(i)].get(), static_cast<long>(i) * k * (k + 1) / 2);
  }
  EXPECT_EQ(pool().map(multiply, std::vector<long>{1, 2, 3}, std::vector<long>{4, 5, 6}).get(),
            (std::vector<long>{4, 10, 18}));
}

TEST(StaticRanks, TwoTasksOfTwoRanksRunSideBySide) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("spawnpool_static_meet_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto first = pool().submit(ranks(2), meet, dir, 1, 2);
  auto second = pool().submit(ranks(2), meet, dir, 2, 1);
  EXPECT_TRUE(first.get());
  EXPECT_TRUE(second.get());
  std::filesystem::remove_all(dir);
}

TEST(StaticRanks, ARankThatThrowsFailsTheFutureNamingItsRankAndThePoolGoesOn) {
  try {
    (void)pool().submit(ranks(2), rank_one_throws).get();
    FAIL() << "expected the task to fail";
  } catch (const spawnpool::RemoteError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("rank 1 of the task's 2 ranks failed"), std::string::npos) << what;
    EXPECT_NE(what.find("rank one is out of range"), std::string::npos) << what;
  }
  EXPECT_EQ(pool().submit(ranks(3), sum_of_ranks, 1L).get(), 6);
  EXPECT_EQ(pool().num_workers(), 4);
}

TEST(StaticRanks, AStreamOfOrdinaryTasksDoesNotStarveATaskOfEveryRank) {
  const int all = pool().num_workers();
  std::vector<spawnpool::Future<int>> before, after;
  for (int i = 0; i < 40; ++i) before.push_back(pool().submit(sleep_ms, 5));
  auto everyone = pool().submit(ranks(all), sum_of_ranks, 1L);
  for (int i = 0; i < 200; ++i) after.push_back(pool().submit(sleep_ms, 5));
  EXPECT_EQ(everyone.get(), static_cast<long>(all) * (all + 1) / 2);
  // Ordinary tasks queued after it start only once its group is done: most are still to come.
  const auto done_after =
      std::count_if(after.begin(), after.end(), [](auto& f) { return f.ready(); });
  EXPECT_LT(done_after, 100) << "ordinary tasks submitted later overtook the k-rank task";
  for (auto& f : before) EXPECT_EQ(f.get(), 5);
  for (auto& f : after) EXPECT_EQ(f.get(), 5);
}

TEST(StaticRanks, MoreRanksThanThePoolHasIsAnErrorAtSubmit) {
  const int too_many = pool().num_workers() + 1;
  try {
    (void)pool().submit(ranks(too_many), sum_of_ranks, 1L);
    FAIL() << "expected an error at submit";
  } catch (const spawnpool::Error& e) {
    EXPECT_NE(std::string(e.what()).find("start the job with at least " +
                                         std::to_string(too_many + 1) + " ranks"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(pool().submit(ranks(2), sum_of_ranks, 1L).get(), 3) << "the pool goes on";
}

TEST(StaticRanks, TwoExecutorsFormGroupsOnTheSameRanks) {
  spawnpool::Executor other;
  std::vector<spawnpool::Future<long>> mine, theirs;
  for (int i = 0; i < 10; ++i) {
    mine.push_back(pool().submit(ranks(3), sum_of_ranks, 1L));
    theirs.push_back(other.submit(ranks(3), sum_of_ranks, 2L));
  }
  for (auto& f : mine) EXPECT_EQ(f.get(), 6);
  for (auto& f : theirs) EXPECT_EQ(f.get(), 12);
}

// Last (and run alone by ctest, MPICH only): it loses two of the job's ranks for good. The rank that died reports its end (a static
// rank that did exits 0, so the job goes on); rank 0, stuck in the barrier, sees its process gone
// and ends too. The call fails with WorkerLost naming rank 1; the pool goes on with the others.
TEST(StaticRanks, ZARankThatDiesFailsTheTaskWithWorkerLostNamingItAndThePoolGoesOn) {
  const int before = pool().num_workers();
  try {
    (void)pool().submit(ranks(2), rank_one_dies).get();
    FAIL() << "expected WorkerLost";
  } catch (const spawnpool::WorkerLost& e) {
    EXPECT_NE(std::string(e.what()).find("rank 1 of"), std::string::npos) << e.what();
  }
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (pool().num_workers() > before - 2 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(pool().num_workers(), before - 2) << "both ranks of the group end";
  EXPECT_EQ(pool().submit(ranks(before - 2), sum_of_ranks, 1L).get(),
            (before - 2) * (before - 1) / 2);
  EXPECT_EQ(pool().submit(multiply, 6L, 7L).get(), 42);
  EXPECT_THROW((void)pool().submit(ranks(before - 1), sum_of_ranks, 1L), spawnpool::Error);
}

}  // namespace

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);  // ranks 1..N-1 serve here and exit
  if (runtime.mode() != spawnpool::Mode::static_world) {
    std::fprintf(stderr, "test_static_ranks must run under mpiexec -n 5\n");
    return 1;
  }
  ::testing::InitGoogleTest(&argc, argv);
  const int status = RUN_ALL_TESTS();
  pool().shutdown();
  return status;
}
