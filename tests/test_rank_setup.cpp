// The start of the groups for k-rank tasks (task_comm.hpp) in spawn mode, when it goes wrong: a
// rank that stops or dies while it applies the worker set-up (Options::initializer runs on every
// rank), and a start that runs out of the spawn timeout. The first k-rank submit fails with a
// SpawnError that says what happened, the group's processes end, and the pool goes on. Started
// without mpiexec (it relaunches itself), like the ranks suite.
#include "process_checks.hpp"

#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <mpi.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

long sum_of_ranks(spawnpool::TaskComm comm, long scale) {
  long mine = (comm.rank() + 1) * scale;
  long total = 0;
  MPI_Allreduce(&mine, &total, 1, MPI_LONG, MPI_SUM, comm.mpi());
  return total;
}
SPAWNPOOL_TASK(sum_of_ranks);

int plain_square(int x) { return x * x; }
SPAWNPOOL_TASK(plain_square);

/// The initializer: in a member of a group of `size` processes (hydra's PMI_SIZE and PMI_RANK, or
/// Open MPI's OMPI_COMM_WORLD_SIZE and OMPI_COMM_WORLD_RANK),
/// leaves its pid in `dir/<rank>`; then rank `victim` stops itself (`how` 0: SIGSTOP) or dies
/// (1: SIGKILL), once per `dir` (the first to create `dir/tripped`). Ordinary workers (a world of
/// one) do nothing.
void trip_rank(std::string dir, int size, int victim, int how) {
  const char* world = std::getenv("PMI_SIZE");
  const char* rank = std::getenv("PMI_RANK");
  if (world == nullptr || rank == nullptr) {
    world = std::getenv("OMPI_COMM_WORLD_SIZE");
    rank = std::getenv("OMPI_COMM_WORLD_RANK");
  }
  if (world == nullptr || rank == nullptr || std::atoi(world) != size) return;
  std::ofstream(dir + "/" + rank) << ::getpid();
  if (std::atoi(rank) != victim) return;
  const int once = ::open((dir + "/tripped").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
  if (once < 0) return;
  ::close(once);
  ::raise(how == 0 ? SIGSTOP : SIGKILL);
}
SPAWNPOOL_TASK(trip_rank);

namespace {

spawnpool::TaskOptions ranks(int k) { return spawnpool::TaskOptions{}.ranks(k); }

std::string fresh_directory(const std::string& name) {
  const std::string dir = std::filesystem::temp_directory_path().string() +
                          "/spawnpool_rank_setup_" + name + "_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

/// The pids the members of a group of `size` left in `dir` (trip_rank).
std::vector<long> member_pids(const std::string& dir, int size) {
  std::vector<long> pids;
  for (int r = 0; r < size; ++r) {
    long pid = 0;
    std::ifstream(dir + "/" + std::to_string(r)) >> pid;
    EXPECT_GT(pid, 0) << "rank " << r << " left no pid";
    if (pid > 0) pids.push_back(pid);
  }
  return pids;
}

bool all_end(const std::vector<long>& pids) {
  bool ended = true;
  for (long pid : pids) {
    const bool gone = test_processes::ends_within(pid, std::chrono::seconds(20));
    EXPECT_TRUE(gone) << "pid " << pid << " outlived its group";
    ended = ended && gone;
  }
  return ended;
}

/// The message of the SpawnError the first k-rank submit (and its get) throws, or "".
template <class Submit>
std::string start_failure(Submit submit) {
  try {
    (void)submit().get();
  } catch (const spawnpool::SpawnError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a SpawnError, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected a SpawnError";
  return "";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

// A follower stopped in its initializer: rank 0 waited for it without a bound; the submit failed
// only after the spawn timeout, with "did not answer ... must create a spawnpool::Runtime", the
// stopped process stayed, and the program spun in MPI_Finalize at its end.
TEST(RankSetUp, AFollowerStoppedInItsSetUpFailsTheStartNamingItAndEveryMemberEnds) {
  const std::string dir = fresh_directory("stopped");
  spawnpool::Executor executor(spawnpool::Options{}
                                   .max_workers(1)
                                   .rank_groups(1)
                                   .spawn_timeout(std::chrono::seconds(8))
                                   .initializer(trip_rank, dir, 3, 2, 0));
  const std::string what =
      start_failure([&] { return executor.submit(ranks(3), sum_of_ranks, 1L); });
  EXPECT_TRUE(has(what, "rank 2 of its group")) << what;
  EXPECT_TRUE(has(what, "did not finish the worker set-up")) << what;
  EXPECT_TRUE(has(what, "k-rank tasks")) << what;
  EXPECT_FALSE(has(what, "must create a spawnpool::Runtime")) << what;
  EXPECT_TRUE(all_end(member_pids(dir, 3))) << "the stopped rank too";
  // The pool goes on: ordinary tasks, and a new start of the groups (the rank stops only once).
  EXPECT_EQ(executor.submit(plain_square, 3).get(), 9);
  EXPECT_EQ(executor.submit(ranks(3), sum_of_ranks, 1L).get(), 6);
  executor.shutdown();
  std::filesystem::remove_all(dir);
}

// A follower killed in its initializer: the submit waited out the whole spawn timeout and failed
// with the same wrong message, though rank 0 knew within 20 ms.
TEST(RankSetUp, AFollowerKilledInItsSetUpFailsTheStartNamingIt) {
  const std::string dir = fresh_directory("killed");
  spawnpool::Executor executor(spawnpool::Options{}
                                   .max_workers(1)
                                   .rank_groups(1)
                                   .spawn_timeout(std::chrono::seconds(30))
                                   .initializer(trip_rank, dir, 3, 1, 1));
  const std::string what =
      start_failure([&] { return executor.submit(ranks(3), sum_of_ranks, 1L); });
  EXPECT_TRUE(has(what, "rank 1 of its group of processes ended")) << what;
  EXPECT_FALSE(has(what, "must create a spawnpool::Runtime")) << what;
  EXPECT_TRUE(all_end(member_pids(dir, 3)));
  EXPECT_EQ(executor.submit(ranks(3), sum_of_ranks, 2L).get(), 12);
  EXPECT_EQ(executor.submit(plain_square, 4).get(), 16);
  executor.shutdown();
  std::filesystem::remove_all(dir);
}

// 1000 groups cannot start in 3 s: the message said "did not return within 0 s" (what was left
// of the pool's spawn timeout for the last spawn) and named only SPAWNPOOL_SPAWN_TIMEOUT.
TEST(RankStart, GroupsThatOutlastTheSpawnTimeoutNameItAndItsOption) {
  spawnpool::Executor executor(spawnpool::Options{}.max_workers(1).rank_groups(1000).spawn_timeout(
      std::chrono::seconds(3)));
  const std::string what =
      start_failure([&] { return executor.submit(ranks(2), sum_of_ranks, 1L); });
  EXPECT_TRUE(has(what, "Options::spawn_timeout")) << what;
  EXPECT_TRUE(has(what, "(3 s")) << what;
  EXPECT_FALSE(has(what, "within 0 s")) << what;
  EXPECT_FALSE(has(what, "SPAWNPOOL_SPAWN_TIMEOUT")) << what;
  EXPECT_EQ(executor.submit(plain_square, 5).get(), 25);
  executor.shutdown();
}

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);  // workers and group members serve here and exit
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
