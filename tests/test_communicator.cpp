// spawnpool::serve over an application's own communicators. Run under `mpiexec -n 4`. The
// application initializes MPI itself (no Runtime), splits the world in two halves and runs one
// pool in each half at the same time; afterwards the communicators are still usable.
#include <spawnpool/spawnpool.hpp>

#include <dirent.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

int rank_in_world(int offset) {
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank + offset;
}
SPAWNPOOL_TASK(rank_in_world);

/// Every rank contributes rank + 1 (its rank in the task): k(k+1)/2 over k ranks.
long sum_over_task(spawnpool::TaskComm comm) {
  long mine = comm.rank() + 1;
  long total = 0;
  MPI_Allreduce(&mine, &total, 1, MPI_LONG, MPI_SUM, comm.mpi());
  return total;
}
SPAWNPOOL_TASK(sum_over_task);

/// The world rank of each rank of the task.
int world_rank_in_task(spawnpool::TaskComm comm) {
  MPI_Barrier(comm.mpi());
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}
SPAWNPOOL_TASK(world_rank_in_task);

namespace {

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

TEST(Communicator, PoolOverEachHalfOfTheWorld) {
  MPI_Comm half;
  const int color = world_rank() % 2;
  MPI_Comm_split(MPI_COMM_WORLD, color, world_rank(), &half);
  int half_size = 0;
  MPI_Comm_size(half, &half_size);
  int bodies_run = 0;
  std::vector<int> ranks_seen;
  spawnpool::serve(half, 0, [&](spawnpool::Executor& pool) {
    ++bodies_run;
    EXPECT_EQ(pool.mode(), spawnpool::Mode::communicator);
    EXPECT_EQ(pool.num_workers(), half_size - 1);
    ranks_seen = pool.map(rank_in_world, std::vector<int>(50, 0)).get();
  });
  int half_rank = 0;
  MPI_Comm_rank(half, &half_rank);
  if (half_rank == 0) {
    EXPECT_EQ(bodies_run, 1);
    ASSERT_EQ(ranks_seen.size(), 50u);
    for (int r : ranks_seen) {
      EXPECT_EQ(r % 2, color) << "a task ran outside this half";
      EXPECT_NE(r, world_rank()) << "the root ran a task";
    }
  } else {
    EXPECT_EQ(bodies_run, 0);
  }
  // The communicators are left usable.
  int sum = 0;
  const int one = 1;
  MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, half);
  EXPECT_EQ(sum, half_size);
  MPI_Comm_free(&half);
}

TEST(Communicator, ExceptionFromTheBodyReachesTheRootAfterTheWorkersAreReleased) {
  bool thrown = false;
  try {
    spawnpool::serve(MPI_COMM_WORLD, 1, [&](spawnpool::Executor& pool) {
      (void)pool.submit(rank_in_world, 0).get();
      throw std::runtime_error("body failed");
    });
  } catch (const std::runtime_error& e) {
    thrown = true;
    EXPECT_STREQ(e.what(), "body failed");
  }
  EXPECT_EQ(thrown, world_rank() == 1);
  MPI_Barrier(MPI_COMM_WORLD);  // every rank got here
}

TEST(Communicator, KRankTasksRunOnGroupsOfTheCommunicatorsRanks) {
  int world = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  const int root = world - 2;  // not rank 0, so that groups are not simply the first ranks
  spawnpool::serve(MPI_COMM_WORLD, root, [&](spawnpool::Executor& pool) {
    const int workers = world - 1;
    for (int k = 1; k <= workers; ++k) {
      EXPECT_EQ(pool.submit(spawnpool::TaskOptions{}.ranks(k), sum_over_task).get(),
                k * (k + 1) / 2);
    }
    std::vector<int> expected;
    for (int r = 0; r < world; ++r) {
      if (r != root) expected.push_back(r);
    }
    EXPECT_EQ(pool.submit_all_ranks(spawnpool::TaskOptions{}.ranks(workers), world_rank_in_task)
                  .get(),
              expected);
    EXPECT_THROW((void)pool.submit(spawnpool::TaskOptions{}.ranks(workers + 1), sum_over_task),
                 spawnpool::Error);
    EXPECT_EQ(pool.submit(rank_in_world, 0).get() == root, false) << "the pool goes on";
  });
  MPI_Barrier(MPI_COMM_WORLD);
}

// A task past its timeout could be ended only with its rank, one of the application's processes:
// refused on the root, and every rank comes back from serve.
TEST(Communicator, ATaskTimeoutIsAConfigErrorOnTheRootAndEveryRankReturns) {
  bool refused = false;
  bool body_ran = false;
  try {
    spawnpool::serve(
        MPI_COMM_WORLD, 0, [&](spawnpool::Executor&) { body_ran = true; },
        spawnpool::Options{}.task_timeout(std::chrono::milliseconds(1000)));
  } catch (const spawnpool::ConfigError& e) {
    refused = true;
    EXPECT_NE(std::string(e.what()).find("task_timeout"), std::string::npos) << e.what();
  }
  EXPECT_EQ(refused, world_rank() == 0);
  EXPECT_FALSE(body_ran);
  MPI_Barrier(MPI_COMM_WORLD);  // every rank got here
}

/// How many file descriptors this process has open.
int open_descriptors() {
  int count = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (readdir(dir) != nullptr) ++count;
    closedir(dir);
  }
  return count;
}

// A long-lived application serves a pool again and again (each time step, say): every call leaves
// the ranks as it found them. Before, each serve() left 4 pipe descriptors open on every worker
// rank (its crash sentinel's), so an application ran out of them after some 250 calls.
TEST(Communicator, ServingAgainAndAgainLeavesNoDescriptorsOpen) {
  const auto serve_once = [] {
    spawnpool::serve(MPI_COMM_WORLD, 0, [](spawnpool::Executor& pool) {
      EXPECT_EQ(pool.submit(rank_in_world, 0).get() > 0, true);
    });
  };
  serve_once();  // what the first call sets up for good (MPI's own, the log) is not counted
  const int before = open_descriptors();
  for (int i = 0; i < 20; ++i) serve_once();
  const int left_open = open_descriptors() - before;
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::vector<int> left_open_by_rank(static_cast<std::size_t>(size));
  MPI_Gather(&left_open, 1, MPI_INT, left_open_by_rank.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (world_rank() == 0) {
    for (int r = 0; r < size; ++r) {
      EXPECT_EQ(left_open_by_rank[static_cast<std::size_t>(r)], 0)
          << "descriptors left open by 20 serve() calls on world rank " << r;
    }
  }
}

TEST(Communicator, TooSmallACommunicatorIsAnError) {
  EXPECT_THROW(spawnpool::serve(MPI_COMM_SELF, 0, [](spawnpool::Executor&) {}), spawnpool::Error);
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  ::testing::InitGoogleTest(&argc, argv);
  if (world_rank() != 0) {
    // Only rank 0 prints the test report.
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int failed = RUN_ALL_TESTS();
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any_failed;
}
