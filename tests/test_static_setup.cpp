// The worker set-up (Options::initializer) going wrong on one rank of a static pool. Run under
// `mpiexec -n 3` (ctest), rank 0 the manager, ranks 1 and 2 the workers, one test per job (the
// rank that fails is lost for the rest of its job). The Executor's constructor throws a
// SpawnError naming the rank and what happened, the rank ends (it reports its end and exits 0, so
// the job goes on without it), a later Executor runs on the ranks left, and the job ends with
// main's exit status: ctest's timeout fails a job that never ends.
#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

using namespace std::chrono_literals;

int square(int x) { return x * x; }
SPAWNPOOL_TASK(square);

/// This rank of MPI_COMM_WORLD, from the launcher's environment (hydra or Open MPI).
int launcher_rank() {
  const char* rank = std::getenv("PMI_RANK");
  if (rank == nullptr) rank = std::getenv("OMPI_COMM_WORLD_RANK");
  return rank == nullptr ? -1 : std::atoi(rank);
}

/// The initializer: hangs for an hour on rank `victim`.
void hang_on(int victim) {
  if (launcher_rank() == victim) std::this_thread::sleep_for(std::chrono::hours(1));
}
SPAWNPOOL_TASK(hang_on);

/// The initializer: hangs for an hour on every rank.
void hang_everywhere() { std::this_thread::sleep_for(std::chrono::hours(1)); }
SPAWNPOOL_TASK(hang_everywhere);

/// The initializer: stops rank `victim` (SIGSTOP).
void stop_on(int victim) {
  if (launcher_rank() == victim) ::raise(SIGSTOP);
}
SPAWNPOOL_TASK(stop_on);

/// The initializer: aborts on rank `victim` (SIGABRT).
void abort_on(int victim) {
  if (launcher_rank() == victim) std::abort();
}
SPAWNPOOL_TASK(abort_on);

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// The SpawnError an Executor with `options` throws at construction, and how long it took.
std::pair<std::string, std::chrono::milliseconds> start_failure(const spawnpool::Options& options) {
  const auto start = std::chrono::steady_clock::now();
  std::string what;
  try {
    spawnpool::Executor pool(options);
    ADD_FAILURE() << "expected a SpawnError; the pool has " << pool.num_workers() << " workers";
  } catch (const spawnpool::SpawnError& e) {
    what = e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a SpawnError, got: " << e.what();
  }
  return {what, std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - start)};
}

/// A pool without the failing set-up runs on the ranks left: rank 1 alone.
void the_ranks_left_serve() {
  spawnpool::Executor pool;
  EXPECT_EQ(pool.num_workers(), 1);
  EXPECT_EQ(pool.submit(square, 7).get(), 49);
}

}  // namespace

// Before: the constructor threw at the spawn timeout ("did not answer ... must create a
// spawnpool::Runtime"), and rank 2 stayed in its initializer: the job never ended.
TEST(StaticSetUp, AnInitializerThatHangsOnOneRankEndsThatRankAndTheJobGoesOn) {
  const auto [what, took] =
      start_failure(spawnpool::Options{}.spawn_timeout(8s).initializer(hang_on, 2));
  EXPECT_TRUE(has(what, "rank 2")) << what;
  EXPECT_TRUE(has(what, "initializer \"hang_on\"")) << what;
  EXPECT_TRUE(has(what, "ran longer than")) << what;
  EXPECT_FALSE(has(what, "must create a spawnpool::Runtime")) << what;
  EXPECT_LT(took, 8s) << "the rank's report arrives before the manager's own deadline";
  the_ranks_left_serve();
}

// Before: rank 2's report was read past, the constructor waited out the spawn timeout and threw
// "did not answer ... must create a spawnpool::Runtime".
TEST(StaticSetUp, AnInitializerThatCrashesOnOneRankFailsTheStartAtOnceNamingIt) {
  const auto [what, took] =
      start_failure(spawnpool::Options{}.spawn_timeout(30s).initializer(abort_on, 2));
  EXPECT_TRUE(has(what, "rank 2")) << what;
  EXPECT_TRUE(has(what, "SIGABRT")) << what;
  EXPECT_FALSE(has(what, "must create a spawnpool::Runtime")) << what;
  EXPECT_LT(took, 10s);
  the_ranks_left_serve();
}

// Before: the constructor named rank 1 alone, rank 2 was not known lost, and the next Executor
// waited out its spawn timeout for it ("did not answer ... must create a spawnpool::Runtime").
TEST(StaticSetUp, AnInitializerThatHangsOnEveryRankNamesThemAllAndNoneIsLeft) {
  const auto [what, took] =
      start_failure(spawnpool::Options{}.spawn_timeout(6s).initializer(hang_everywhere));
  EXPECT_TRUE(has(what, "ranks 1 and 2")) << what;
  EXPECT_TRUE(has(what, "initializer \"hang_everywhere\"")) << what;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(spawnpool::Executor{}, spawnpool::SpawnError) << "no rank is left";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

// A rank that stops in its initializer cannot report: the constructor fails at the spawn timeout.
// Before: the stopped rank was not known lost (the next Executor waited for it too) and the job
// never ended (mpiexec waited for the stopped rank).
TEST(StaticSetUp, AnInitializerThatStopsItsRankFailsTheStartAndTheJobStillEnds) {
  const auto [what, took] =
      start_failure(spawnpool::Options{}.spawn_timeout(3s).initializer(stop_on, 2));
  EXPECT_TRUE(has(what, "did not answer within the spawn timeout")) << what;
  the_ranks_left_serve();
}

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);  // ranks 1 and 2 serve here and exit
  if (runtime.mode() != spawnpool::Mode::static_world) {
    std::fprintf(stderr, "test_static_setup must run under mpiexec -n 3\n");
    return 1;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
