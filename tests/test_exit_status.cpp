// The exit status is the one main made, whatever happened to workers and launcher processes: the
// probe (tests/programs/exit_status_probe.cpp) is started alone, as a user would (with MPICH it
// relaunches itself under mpiexec), and its status checked. Workers dying in tasks must not turn
// a failure into success or change the code; signals give 128 + the signal.
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#ifndef EXIT_STATUS_PROBE_PATH
#error "compile with -DEXIT_STATUS_PROBE_PATH=\"/path/to/exit_status_probe\""
#endif

extern char** environ;

namespace {

/// Runs the probe with `args` and returns its exit status as a shell reports it (128 + S for a
/// signal S); -1 if it had to be killed after 120 s.
int run_probe(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string program = EXIT_STATUS_PROBE_PATH;
  argv.push_back(program.data());
  std::vector<std::string> copies = args;
  for (auto& a : copies) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, program.c_str(), nullptr, nullptr, argv.data(), environ) != 0) return -2;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

// Workers dying first (workers-die:N) is not tested yet: hydra's SIGUSR1 broadcast after a
// worker death can hit a worker's proxy that has just exited, and mpiexec then aborts ("unable to
// send SIGUSR1 downstream"), which makes the manager's proxy SIGKILL the manager (issue 12).

TEST(ExitStatus, ReturnAndExitCodes) {
  EXPECT_EQ(run_probe({"return:9"}), 9);
  EXPECT_EQ(run_probe({"exit:7"}), 7);
  EXPECT_EQ(run_probe({}), 0);
}

TEST(ExitStatus, SignalsToTheManagerGive128PlusTheSignal) {
  EXPECT_EQ(run_probe({"raise:15"}), 128 + SIGTERM);
  EXPECT_EQ(run_probe({"raise:2"}), 128 + SIGINT);
  EXPECT_EQ(run_probe({"raise:1"}), 128 + SIGHUP);
}

TEST(ExitStatus, UncaughtExceptionGives134) {
  EXPECT_EQ(run_probe({"throw"}), 128 + SIGABRT);
}

TEST(ExitStatus, SigkillOfTheManagerGives137) {
  EXPECT_EQ(run_probe({"kill"}), 128 + SIGKILL);
}

}  // namespace
