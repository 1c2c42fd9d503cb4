// MPI programs as tasks: spawnpool::run_mpi_program runs a plain MPI program (no spawnpool,
// programs/plain_mpi_program.cpp) on k ranks from a spawn-mode executor's worker: one
// MPI_COMM_WORLD of exactly k ranks, every rank's output and exit status, a timeout that ends
// every rank, programs that never reach MPI_Init, missing programs; the pool goes on after each.
// Started by ctest without mpiexec (the Runtime relaunches it).
#include "process_checks.hpp"

#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <sstream>
#include <string>
#include <vector>

namespace {

spawnpool::Executor* g_pool = nullptr;

spawnpool::MpiProgramResult run(int ranks, const spawnpool::Command& cmd) {
  return g_pool->submit(spawnpool::run_mpi_program, ranks, cmd).get();
}

spawnpool::Command plain(std::vector<std::string> args) {
  spawnpool::Command cmd;
  cmd.program = PLAIN_MPI_PROGRAM_PATH;
  cmd.args = std::move(args);
  return cmd;
}

/// Whether the launchers relay MPICH's PMI socket (spawn/mpi_program_launcher.hpp): what lets them
/// complete the spawn for a program that never calls MPI_Init, intercept MPI_Abort and hide a
/// failed rank from hydra. Other MPIs (Open MPI's PMIx) run the plain cases only.
#define SKIP_WITHOUT_PMI_RELAY()
#if !defined(MPICH_VERSION)
#undef SKIP_WITHOUT_PMI_RELAY
#define SKIP_WITHOUT_PMI_RELAY() GTEST_SKIP() << "the launchers relay MPICH's PMI only"
#endif

/// An ordinary command task still runs on the pool.
void expect_pool_goes_on() {
  spawnpool::Command echo;
  echo.program = "echo";
  echo.args = {"still", "here"};
  EXPECT_EQ(g_pool->submit(spawnpool::run_command, echo).get().out, "still here\n");
}

/// The arguments of process `pid` (empty when it is gone).
std::vector<std::string> arguments_of(long pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> args;
  std::string arg;
  while (std::getline(file, arg, '\0')) args.push_back(arg);
  return args;
}

/// The parent of process `pid`, 0 when it is gone.
long parent_of(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  char state = 0;
  long parent = 0;
  rest >> state >> parent;
  return parent;
}

/// The pids of the running processes whose arguments are exactly `args`.
std::vector<long> processes_with_arguments(const std::vector<std::string>& args) {
  std::vector<long> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (arguments_of(std::stol(name)) == args) found.push_back(std::stol(name));
  }
  return found;
}

/// The pid a plain_mpi_program rank printed ("rank R of S sum N pid P").
long printed_pid(const std::string& out) {
  const auto at = out.find(" pid ");
  return at == std::string::npos ? 0 : std::stol(out.substr(at + 5));
}

}  // namespace

TEST(MpiProgram, OneRank) {
  const auto r = run(1, plain({"0"}));
  ASSERT_EQ(r.ranks.size(), 1u);
  EXPECT_EQ(r.ranks[0].out.substr(0, 22), "rank 0 of 1 sum 1 pid ");
  EXPECT_EQ(r.ranks[0].err, "stderr of rank 0\n");
  EXPECT_EQ(r.ranks[0].exit_code, 0);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.exit_code(), 0);
  expect_pool_goes_on();
}

TEST(MpiProgram, TwoRanksShareOneWorldAndReportTheirExitCode) {
  const auto r = run(2, plain({"3"}));
  ASSERT_EQ(r.ranks.size(), 2u);
  for (int rank = 0; rank < 2; ++rank) {
    const std::string head = "rank " + std::to_string(rank) + " of 2 sum 2 pid ";
    EXPECT_EQ(r.ranks[rank].out.substr(0, head.size()), head) << r.ranks[rank].out;
    EXPECT_EQ(r.ranks[rank].err, "stderr of rank " + std::to_string(rank) + "\n");
    EXPECT_EQ(r.ranks[rank].exit_code, 3);
    EXPECT_EQ(r.ranks[rank].signal, 0);
    EXPECT_FALSE(r.ranks[rank].timed_out);
  }
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.exit_code(), 3);
  expect_pool_goes_on();
}

TEST(MpiProgram, TimeoutEndsEveryRank) {
  auto cmd = plain({"0", "sleep"});
  cmd.timeout = std::chrono::seconds(3);
  const auto r = run(2, cmd);
  ASSERT_EQ(r.ranks.size(), 2u);
  EXPECT_TRUE(r.timed_out());
  for (const auto& rank : r.ranks) {
    EXPECT_TRUE(rank.timed_out) << rank.err;
    EXPECT_EQ(rank.signal, SIGKILL);
    const long pid = printed_pid(rank.out);
    ASSERT_GT(pid, 0) << rank.out;
    EXPECT_TRUE(test_processes::ends_within(pid, std::chrono::seconds(10))) << "pid " << pid;
  }
  expect_pool_goes_on();
}

TEST(MpiProgram, OneRankKilledEndsTheOthers) {
  SKIP_WITHOUT_PMI_RELAY();
  auto cmd = plain({"0", "crash-last"});
  cmd.timeout = std::chrono::seconds(120);  // a limit for the test only: the task ends before
  const auto r = run(2, cmd);
  ASSERT_EQ(r.ranks.size(), 2u);
  EXPECT_EQ(r.ranks[1].signal, SIGKILL);
  // Rank 0 waited in MPI_Barrier for ever: ended (SIGKILL) because rank 1 failed, not by the timeout.
  EXPECT_EQ(r.ranks[0].signal, SIGKILL) << r.ranks[0].err;
  EXPECT_NE(r.ranks[0].err.find("rank 0 was ended because another rank of the program failed"),
            std::string::npos)
      << r.ranks[0].err;
  for (const auto& rank : r.ranks) {
    EXPECT_FALSE(rank.timed_out);
    const long pid = printed_pid(rank.out);
    ASSERT_GT(pid, 0) << rank.out;
    EXPECT_TRUE(test_processes::ends_within(pid, std::chrono::seconds(10))) << "pid " << pid;
  }
  expect_pool_goes_on();
}

TEST(MpiProgram, MpiAbortEndsTheProgramNotThePool) {
  SKIP_WITHOUT_PMI_RELAY();
  auto cmd = plain({"0", "abort-last"});
  cmd.timeout = std::chrono::seconds(120);  // a limit for the test only: the task ends before
  const auto r = run(2, cmd);
  ASSERT_EQ(r.ranks.size(), 2u);
  EXPECT_EQ(r.ranks[1].exit_code, 5) << r.ranks[1].err;
  EXPECT_NE(r.ranks[1].err.find("rank 1 called MPI_Abort"), std::string::npos) << r.ranks[1].err;
  EXPECT_EQ(r.ranks[0].signal, SIGKILL) << r.ranks[0].err;
  EXPECT_EQ(r.exit_code(), 128 + SIGKILL);
  for (const auto& rank : r.ranks) EXPECT_FALSE(rank.timed_out);
  expect_pool_goes_on();
}

TEST(MpiProgram, RanksEndWithTheWorkerThatStartedThem) {
  if (g_pool->mode() == spawnpool::Mode::static_world) {
    GTEST_SKIP() << "a static worker killed ends the whole job";
  }
  const auto cmd = plain({"9", "sleep"});  // no timeout: only the worker's death ends it
  auto future = g_pool->submit(spawnpool::run_mpi_program, 2, cmd);
  std::vector<std::string> rank_args = {cmd.program, "9", "sleep"};
  std::vector<long> ranks;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (ranks.size() < 2 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ranks = processes_with_arguments(rank_args);
  }
  ASSERT_EQ(ranks.size(), 2u);
  // rank -> its launcher, whose arguments name the report directory and the worker it watches
  // (spawn/mpi_program_launcher.hpp).
  const auto launcher_args = arguments_of(parent_of(ranks[0]));
  ASSERT_GE(launcher_args.size(), 3u);
  const std::string marker = "--spawnpool-mpi-launcher=";
  ASSERT_EQ(launcher_args[1].rfind(marker, 0), 0u) << launcher_args[1];
  const std::filesystem::path reports = launcher_args[1].substr(marker.size());
  const long worker = std::stol(launcher_args[2]);
  // Both ranks are past MPI_Init and MPI_Allreduce (they printed), sleeping. A rank's output file
  // may not exist yet (0 bytes then; file_size without an error_code would throw).
  const auto bytes_in = [&reports](const char* name) -> std::uintmax_t {
    std::error_code missing;
    const std::uintmax_t size = std::filesystem::file_size(reports / name, missing);
    return missing ? 0 : size;
  };
  while (std::chrono::steady_clock::now() < give_up &&
         !(bytes_in("0.out") > 0 && bytes_in("1.out") > 0)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(bytes_in("0.out"), 0u);
  ASSERT_GT(bytes_in("1.out"), 0u);
  ASSERT_EQ(::kill(static_cast<pid_t>(worker), SIGKILL), 0);
  EXPECT_THROW(future.get(), spawnpool::WorkerLost);
  for (long pid : ranks) {
    EXPECT_TRUE(test_processes::ends_within(pid, std::chrono::seconds(10))) << "pid " << pid;
  }
  // The last launcher removed the report directory.
  for (int i = 0; i < 100 && std::filesystem::exists(reports); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(std::filesystem::exists(reports));
  expect_pool_goes_on();
}

TEST(MpiProgram, ProgramThatNeverCallsMpiInitStillEnds) {
  SKIP_WITHOUT_PMI_RELAY();
  // sh never speaks to the process manager: the launchers complete the spawn in its place.
  spawnpool::Command cmd;
  cmd.program = "sh";
  cmd.args = {"-c", "printf '%s|' \"$@\"; echo \"$SPAWNPOOL_TEST_A\" >&2; exit 4", "sh", "a b",
              "", "$HOME", "*"};
  cmd.env = {{"SPAWNPOOL_TEST_A", "alpha beta"}};
  const auto r = run(2, cmd);
  ASSERT_EQ(r.ranks.size(), 2u);
  for (const auto& rank : r.ranks) {
    EXPECT_EQ(rank.out, "a b||$HOME|*|");
    EXPECT_EQ(rank.err, "alpha beta\n");
    EXPECT_EQ(rank.exit_code, 4);
  }
  expect_pool_goes_on();
}

TEST(MpiProgram, SleepBeforeMpiInitTimesOut) {
  SKIP_WITHOUT_PMI_RELAY();
  spawnpool::Command cmd;
  cmd.program = "sleep";
  cmd.args = {"600"};
  cmd.timeout = std::chrono::seconds(2);
  const auto r = run(2, cmd);
  ASSERT_EQ(r.ranks.size(), 2u);
  for (const auto& rank : r.ranks) {
    EXPECT_TRUE(rank.timed_out);
    EXPECT_EQ(rank.signal, SIGKILL);
  }
  expect_pool_goes_on();
}

TEST(MpiProgram, MissingProgramIsAClearError) {
  auto cmd = plain({});
  cmd.program = "/nonexistent/spawnpool-no-such-program";
  try {
    run(2, cmd);
    FAIL() << "no error";
  } catch (const spawnpool::RemoteError& e) {
    EXPECT_NE(std::string(e.what()).find("spawnpool::run_mpi_program: cannot run program "
                                         "'/nonexistent/spawnpool-no-such-program'"),
              std::string::npos)
        << e.what();
  }
  cmd.program = "spawnpool-no-such-program-in-path";
  try {
    run(1, cmd);
    FAIL() << "no error";
  } catch (const spawnpool::RemoteError& e) {
    EXPECT_NE(std::string(e.what()).find("not found in PATH"), std::string::npos) << e.what();
  }
  expect_pool_goes_on();
}

TEST(MpiProgram, ZeroRanksIsAnError) {
  EXPECT_THROW(run(0, plain({})), spawnpool::RemoteError);
  expect_pool_goes_on();
}

TEST(MpiProgram, SeveralProgramsSideBySide) {
  std::vector<spawnpool::Future<spawnpool::MpiProgramResult>> futures;
  for (int i = 0; i < 2; ++i) {
    futures.push_back(g_pool->submit(spawnpool::run_mpi_program, 2, plain({std::to_string(i)})));
  }
  for (int i = 0; i < 2; ++i) {
    const auto r = futures[i].get();
    ASSERT_EQ(r.ranks.size(), 2u);
    EXPECT_EQ(r.exit_code(), i);
    EXPECT_EQ(r.ranks[1].out.substr(0, 18), "rank 1 of 2 sum 2 ");
  }
}

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);  // workers serve here and exit
  ::testing::InitGoogleTest(&argc, argv);
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(2));
  g_pool = &pool;
  const int status = RUN_ALL_TESTS();
  g_pool = nullptr;
  return status;
}
