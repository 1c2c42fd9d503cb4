// Command tasks: spawnpool::run_command runs external programs on spawned workers (and locally):
// arguments, environment, working directory, exit status and signals as data, stderr, missing
// programs, timeouts that kill the whole process group, large output on both pipes.
// Started by ctest without mpiexec (the Runtime relaunches it).
#include "process_checks.hpp"

#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

spawnpool::Executor* g_pool = nullptr;

spawnpool::CommandResult run(const spawnpool::Command& cmd) {
  return g_pool->submit(spawnpool::run_command, cmd).get();
}

spawnpool::Command shell(const std::string& script) {
  spawnpool::Command cmd;
  cmd.program = "sh";
  cmd.args = {"-c", script};
  return cmd;
}

using test_processes::ends_within;

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("spawnpool_command_" + std::to_string(getpid()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST(Command, EchoWithArguments) {
  spawnpool::Command cmd;
  cmd.program = "echo";
  cmd.args = {"hello", "big world"};
  const auto r = run(cmd);
  EXPECT_EQ(r.out, "hello big world\n");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.signal, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(r.ok());
}

TEST(Command, ArgumentsReachTheProgramUnchanged) {
  auto cmd = shell("printf '%s|' \"$@\"");
  cmd.args.push_back("sh");  // $0
  for (const char* a : {"a b", "", "$HOME", "'quoted'", "*"}) cmd.args.push_back(a);
  EXPECT_EQ(run(cmd).out, "a b||$HOME|'quoted'|*|");
}

TEST(Command, EnvironmentIsAddedToTheWorkers) {
  auto cmd = shell("printf '%s %s %s' \"$SPAWNPOOL_TEST_A\" \"$SPAWNPOOL_TEST_B\" \"${HOME:+has-home}\"");
  cmd.env = {{"SPAWNPOOL_TEST_A", "alpha"}, {"SPAWNPOOL_TEST_B", "beta gamma"}};
  EXPECT_EQ(run(cmd).out, "alpha beta gamma has-home");
}

TEST(Command, EnvironmentOverridesAndPathLookupUsesIt) {
  TempDir dir;
  const auto tool = dir.path / "spawnpool-test-tool";
  std::ofstream(tool) << "#!/bin/sh\necho tool ran\n";
  std::filesystem::permissions(tool, std::filesystem::perms::owner_all);
  spawnpool::Command cmd;
  cmd.program = "spawnpool-test-tool";
  cmd.env = {{"PATH", dir.path.string() + ":/usr/bin:/bin"}};
  EXPECT_EQ(run(cmd).out, "tool ran\n");
}

TEST(Command, LauncherVariablesAreNotInherited) {
  // The worker is an MPI process; a command must not believe it is a rank of the worker's job.
  const auto r = run(shell("env | grep -E '^(PMI_|PMIX_|OMPI_COMM_WORLD_|MPI_LOCALRANKID)' || true"));
  EXPECT_EQ(r.out, "");
}

TEST(Command, NonZeroExitIsData) {
  const auto r = run(shell("echo partial; exit 3"));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.signal, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.out, "partial\n");
}

TEST(Command, SignalIsData) {
  const auto r = run(shell("kill -TERM $$; sleep 5"));
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_EQ(r.exit_code, 128 + SIGTERM);
  EXPECT_FALSE(r.timed_out);
}

TEST(Command, StderrIsCapturedSeparately) {
  const auto r = run(shell("echo to-out; echo to-err >&2; echo more-err >&2"));
  EXPECT_EQ(r.out, "to-out\n");
  EXPECT_EQ(r.err, "to-err\nmore-err\n");
}

TEST(Command, WorkingDirectoryIsHonoured) {
  TempDir dir;
  spawnpool::Command cmd;
  cmd.program = "pwd";
  cmd.working_directory = dir.path.string();
  EXPECT_EQ(run(cmd).out, std::filesystem::canonical(dir.path).string() + "\n");

  // A relative program path is relative to the working directory.
  std::ofstream(dir.path / "local.sh") << "#!/bin/sh\necho local script in \"$(pwd)\"\n";
  std::filesystem::permissions(dir.path / "local.sh", std::filesystem::perms::owner_all);
  cmd.program = "./local.sh";
  EXPECT_EQ(run(cmd).out,
            "local script in " + std::filesystem::canonical(dir.path).string() + "\n");
}

TEST(Command, MissingProgramIsAClearRemoteError) {
  spawnpool::Command cmd;
  cmd.program = "spawnpool-no-such-program";
  try {
    run(cmd);
    FAIL() << "expected RemoteError";
  } catch (const spawnpool::RemoteError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("spawnpool-no-such-program"), std::string::npos) << what;
    EXPECT_NE(what.find("PATH"), std::string::npos) << what;
    EXPECT_EQ(e.type_name(), "spawnpool::Error");
    EXPECT_EQ(e.task_name(), "spawnpool.run_command");
  }
  cmd.program = "/nonexistent/dir/program";
  EXPECT_THROW(run(cmd), spawnpool::RemoteError);
}

TEST(Command, MissingWorkingDirectoryIsARemoteError) {
  spawnpool::Command cmd;
  cmd.program = "true";
  cmd.working_directory = "/nonexistent/spawnpool/dir";
  try {
    run(cmd);
    FAIL() << "expected RemoteError";
  } catch (const spawnpool::RemoteError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/spawnpool/dir"), std::string::npos)
        << e.what();
  }
}

TEST(Command, TimeoutKillsTheWholeProcessGroup) {
  // The shell starts a background sleep (a grandchild of the worker), prints its pid, then waits.
  auto cmd = shell("sleep 100 & echo $!; sleep 100");
  cmd.timeout = std::chrono::seconds(1);
  const auto started = std::chrono::steady_clock::now();
  const auto r = run(cmd);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  EXPECT_LT(took, std::chrono::seconds(20));
  EXPECT_GE(took, std::chrono::milliseconds(900));
  const long grandchild = std::stol(r.out);
  ASSERT_GT(grandchild, 1);
  EXPECT_TRUE(ends_within(grandchild, std::chrono::seconds(10)))
      << "the background sleep " << grandchild << " survived the timeout";
}

TEST(Command, FinishingInTimeIsNotATimeout) {
  auto cmd = shell("echo quick");
  cmd.timeout = std::chrono::seconds(30);
  const auto r = run(cmd);
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.out, "quick\n");
}

TEST(Command, LargeOutputOnBothPipesDoesNotDeadlock) {
  // 1 MiB to stderr first, then 1 MiB to stdout: reading one pipe to its end before the other would
  // block the program on a full stderr pipe forever.
  auto cmd = shell("head -c 1048576 /dev/zero | tr '\\0' e >&2; head -c 1048576 /dev/zero | tr '\\0' o");
  cmd.timeout = std::chrono::seconds(60);
  const auto r = run(cmd);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.out.size(), 1048576u);
  ASSERT_EQ(r.err.size(), 1048576u);
  EXPECT_EQ(r.out.find_first_not_of('o'), std::string::npos);
  EXPECT_EQ(r.err.find_first_not_of('e'), std::string::npos);
}

TEST(Command, ManyCommandsAcrossWorkers) {
  std::vector<spawnpool::Command> commands;
  for (int i = 0; i < 20; ++i) {
    auto cmd = shell("echo $((6 * $0))");
    cmd.args.push_back(std::to_string(i));
    commands.push_back(cmd);
  }
  const auto results = g_pool->map(spawnpool::run_command, commands).get();
  ASSERT_EQ(results.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(results[static_cast<std::size_t>(i)].out, std::to_string(6 * i) + "\n");
  }
}

TEST(Command, RunsLocallyToo) {
  const auto r = spawnpool::run_command(shell("echo local; exit 4"));
  EXPECT_EQ(r.out, "local\n");
  EXPECT_EQ(r.exit_code, 4);
  spawnpool::Command missing;
  missing.program = "spawnpool-no-such-program";
  EXPECT_THROW(spawnpool::run_command(missing), spawnpool::Error);
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
