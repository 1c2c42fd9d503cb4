// Tests of spawn/relaunch: the decision (unit tests on the environment), and the relaunch itself,
// end to end: the probe program (tests/programs/relaunch_probe.cpp, path RELAUNCH_PROBE_PATH) is
// started alone, without mpiexec, through pipes, and must behave as if it had not relaunched.
// Every run is bounded in time, and each test ends by making sure that no process of the probe
// (mpiexec, the probe itself) is left over.
#ifndef BOOST_PROCESS_USE_STD_FS
#define BOOST_PROCESS_USE_STD_FS
#endif

#include "scoped_env.hpp"

#include "spawn/relaunch.hpp"

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/env.hpp>
#include <boost/process/environment.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#ifndef RELAUNCH_PROBE_PATH
#error "compile with -DRELAUNCH_PROBE_PATH=\"/path/to/relaunch_probe\""
#endif

namespace {

namespace bp = boost::process;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using spawnpool::detail::decide_relaunch;

const std::string kProbe = RELAUNCH_PROBE_PATH;

// ---------------------------------------------------------------------------------------------
// decide_relaunch

// The environment of a singleton: none of the variables decide_relaunch looks at.
struct SingletonEnv {
  ScopedEnv vars[9] = {{"PMI_RANK", nullptr},  {"PMI_FD", nullptr},
                       {"PMI_SIZE", nullptr},  {"PMI_PORT", nullptr},
                       {"PMIX_RANK", nullptr}, {"PMIX_NAMESPACE", nullptr},
                       {"OMPI_COMM_WORLD_SIZE", nullptr},
                       {"SPAWNPOOL_NO_RELAUNCH", nullptr},
                       {"SPAWNPOOL_RELAUNCHED", nullptr}};
};

TEST(DecideRelaunch, RelaunchesASingletonOfAnMpiThatCannotSpawnFromOne) {
  SingletonEnv singleton;
  EXPECT_FALSE(spawnpool::detail::started_by_process_manager());
  EXPECT_TRUE(decide_relaunch(false).relaunch);
  EXPECT_FALSE(decide_relaunch(true).relaunch);
}

TEST(DecideRelaunch, NotUnderAProcessManager) {
  for (const char* variable : {"PMI_RANK", "PMI_FD", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE"}) {
    SingletonEnv singleton;
    ScopedEnv pm(variable, "0");
    EXPECT_TRUE(spawnpool::detail::started_by_process_manager()) << variable;
    const auto decision = decide_relaunch(false);
    EXPECT_FALSE(decision.relaunch) << variable;
    EXPECT_NE(decision.reason.find(variable), std::string::npos) << decision.reason;
  }
}

TEST(DecideRelaunch, NoRelaunchVariable) {
  SingletonEnv singleton;
  for (const char* value : {"1", "yes"}) {
    ScopedEnv no("SPAWNPOOL_NO_RELAUNCH", value);
    EXPECT_FALSE(decide_relaunch(false).relaunch) << value;
  }
  for (const char* value : {"", "0"}) {
    ScopedEnv no("SPAWNPOOL_NO_RELAUNCH", value);
    EXPECT_TRUE(decide_relaunch(false).relaunch) << value;
  }
}

TEST(DecideRelaunch, LoopGuard) {
  SingletonEnv singleton;
  ScopedEnv relaunched("SPAWNPOOL_RELAUNCHED", "1");
  const auto decision = decide_relaunch(false);
  EXPECT_FALSE(decision.relaunch);
  EXPECT_NE(decision.reason.find("SPAWNPOOL_RELAUNCHED"), std::string::npos) << decision.reason;
}

// ---------------------------------------------------------------------------------------------
// The relaunch, end to end

struct RunOptions {
  std::string input;                                     // to the probe's stdin, then EOF
  std::vector<std::pair<std::string, std::string>> env;  // added to a singleton's environment
  std::function<void(pid_t)> when_ready;  // called once the probe has printed "args=...\n"
  Clock::duration timeout = 30s;
};

struct ProbeRun {
  int exit_code = -1;  // 128+S if killed by signal S
  bool timed_out = false;
  std::string out, err;
  double seconds = 0;  // from the start, or from when_ready if given, to the exit
};

// Marks the environment of every process started for this test process, so that leftovers can
// be found (and only ours, even if other instances of this test run at the same time).
constexpr const char* kRunMarker = "SPAWNPOOL_TEST_RELAUNCH_RUN";
std::string run_marker_value() { return std::to_string(::getpid()); }

// Our environment without any process-manager or spawnpool variable, plus the run marker and
// `extra`.
bp::environment probe_env(const std::vector<std::pair<std::string, std::string>>& extra) {
  bp::environment env = boost::this_process::environment();
  std::vector<std::string> names;
  for (const auto& entry : env) names.push_back(entry.get_name());
  for (const std::string& name : names)
    for (const char* prefix : {"PMI_", "PMIX_", "OMPI_", "SPAWNPOOL_"})
      if (name.rfind(prefix, 0) == 0) env.erase(name);
  env[kRunMarker] = run_marker_value();
  for (const auto& [name, value] : extra) env[name] = value;
  return env;
}

// Runs the probe alone with pipes for stdin, stdout and stderr; kills it on timeout.
ProbeRun run_probe(const std::vector<std::string>& args, const RunOptions& options = {}) {
  bp::pipe in, out, err;
  const auto start = Clock::now();
  bp::child child(bp::exe = kProbe, bp::args = args, bp::std_in < in, bp::std_out > out,
                  bp::std_err > err, probe_env(options.env));
  in.write(options.input.data(), static_cast<int>(options.input.size()));
  in.close();

  ProbeRun run;
  auto measured_from = start;
  bool ready_handled = !options.when_ready;
  std::optional<Clock::time_point> exited_at;
  std::array<pollfd, 2> fds = {
      {{out.native_source(), POLLIN, 0}, {err.native_source(), POLLIN, 0}}};
  std::array<std::string*, 2> sinks = {&run.out, &run.err};
  // Until the probe has exited and both pipes are at EOF; the pipes get 5 s more after the exit,
  // since a leftover grandchild would hold them open.
  while (!exited_at || fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto now = Clock::now();
    if (now - start > options.timeout || (exited_at && now - *exited_at > 5s)) break;
    ::poll(fds.data(), fds.size(), 20);
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0)
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      else
        fds[i].fd = -1;  // EOF (or error): poll ignores negative descriptors
    }
    const std::size_t args_line = run.out.find("\nargs=");
    if (!ready_handled && args_line != std::string::npos &&
        run.out.find('\n', args_line + 1) != std::string::npos) {
      options.when_ready(child.id());
      ready_handled = true;
      measured_from = Clock::now();
    }
    if (!exited_at && !child.running()) exited_at = Clock::now();
  }
  if (!exited_at) {
    run.timed_out = true;
    child.terminate();
    exited_at = Clock::now();
  }
  const int status = child.native_exit_code();
  run.exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  run.seconds = std::chrono::duration<double>(*exited_at - measured_from).count();
  return run;
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

// Processes started for this test process (probe, mpiexec, hydra_pmi_proxy, probe as a rank):
// their environment holds the marker. Pid and command line of each.
std::vector<std::pair<pid_t, std::string>> probe_processes() {
  const std::string marker = std::string("\0", 1) + kRunMarker + "=" + run_marker_value() + '\0';
  std::vector<std::pair<pid_t, std::string>> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream environ_file(entry.path() / "environ");
    const std::string environ('\0' + std::string(std::istreambuf_iterator<char>(environ_file), {}));
    if (environ.find(marker) == std::string::npos) continue;
    std::ifstream cmdline_file(entry.path() / "cmdline");
    std::string cmdline(std::istreambuf_iterator<char>(cmdline_file), {});
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    found.emplace_back(std::stoi(name), cmdline);
  }
  return found;
}

std::string describe(const ProbeRun& run) {
  return "exit code " + std::to_string(run.exit_code) + " after " + std::to_string(run.seconds) +
         " s" + (run.timed_out ? " (timed out)" : "") +
         "\n--- stdout:\n" + run.out + "--- stderr:\n" + run.err;
}

class Relaunch : public ::testing::Test {
 protected:
  // No process of the probe may outlive a test by more than 5 s; leftovers are killed.
  void TearDown() override {
    const auto deadline = Clock::now() + 5s;
    auto left = probe_processes();
    while (!left.empty() && Clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      left = probe_processes();
    }
    for (const auto& [pid, cmdline] : left) {
      ::kill(pid, SIGKILL);
      ADD_FAILURE() << "left-over process " << pid << " killed: " << cmdline;
    }
  }
};

TEST_F(Relaunch, RunsUnderMpiexecWhenStartedAlone) {
  const ProbeRun run = run_probe({});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_TRUE(has_line(run.out, "world_size=1")) << describe(run);
  EXPECT_TRUE(has_line(run.out, "relaunched=1")) << describe(run);
  EXPECT_TRUE(has_line(run.out, "pm=1")) << describe(run);
}

TEST_F(Relaunch, PassesArgumentsExactly) {
  const ProbeRun run =
      run_probe({"a", "two words", "", "  padded  ", "'quoted' \"twice\" $HOME *", "-n"});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_TRUE(has_line(run.out, "args=a|two words||  padded  |'quoted' \"twice\" $HOME *|-n"))
      << describe(run);
}

TEST_F(Relaunch, PassesStdoutAndStderr) {
  const ProbeRun run = run_probe({"stderr:to stderr"});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_TRUE(has_line(run.out, "args=stderr:to stderr")) << describe(run);
  EXPECT_TRUE(has_line(run.err, "to stderr")) << describe(run);
}

TEST_F(Relaunch, PassesStdin) {
  RunOptions options;
  options.input = "first line\nsecond line\n";
  const ProbeRun run = run_probe({"echo-stdin"}, options);
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_NE(run.out.find("args=echo-stdin\nfirst line\nsecond line\n"), std::string::npos)
      << describe(run);
}

TEST_F(Relaunch, PassesExitCode) {
  const ProbeRun run = run_probe({"exit:3"});
  EXPECT_EQ(run.exit_code, 3) << describe(run);
  EXPECT_TRUE(has_line(run.out, "relaunched=1")) << describe(run);
}

TEST_F(Relaunch, SigtermEndsEverythingPromptly) {
  RunOptions options;
  options.when_ready = [](pid_t probe) { ::kill(probe, SIGTERM); };
  const ProbeRun run = run_probe({"sleep:60"}, options);
  EXPECT_FALSE(run.timed_out) << describe(run);
  EXPECT_NE(run.exit_code, 0) << describe(run);
  EXPECT_LT(run.seconds, 10.0) << describe(run);
  EXPECT_TRUE(has_line(run.out, "got signal 15")) << describe(run);  // forwarded to the rank
}

TEST_F(Relaunch, SigkillOfTheParentTakesMpiexecDown) {
  RunOptions options;
  options.when_ready = [](pid_t probe) { ::kill(probe, SIGKILL); };
  const ProbeRun run = run_probe({"sleep:60"}, options);
  EXPECT_EQ(run.exit_code, 128 + SIGKILL) << describe(run);
  // TearDown checks that mpiexec and the probe it ran end too (PR_SET_PDEATHSIG).
}

// A manager killed before the relaunch parent first saw it run (it looks every 0.1 s) while
// mpiexec waits on for ever, as hydra does for a worker still inside MPI_Init with the dead
// manager: the parent still ends mpiexec. The stand-in mpiexec claims the status file for a
// process of this host that exits at once, then waits.
TEST_F(Relaunch, AManagerGoneBeforeItWasFirstSeenStillEndsMpiexec) {
  char dir[] = "/tmp/spawnpool_fake_mpiexec_XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string fake = std::string(dir) + "/mpiexec";
  {
    std::ofstream script(fake);
    script << "#!/bin/sh\n"
              "sh -c 'echo \"manager $$ $(hostname)\" >> \"$SPAWNPOOL_STATUS_FILE\"'\n"
              "exec sleep 60\n";
  }
  ::chmod(fake.c_str(), 0755);
  RunOptions options;
  options.env = {{"SPAWNPOOL_MPIEXEC", fake}};
  const ProbeRun run = run_probe({}, options);
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(run.timed_out) << describe(run);
  EXPECT_LT(run.seconds, 15.0) << describe(run);  // kLauncherGrace 5 s, then SIGTERM
  EXPECT_EQ(run.exit_code, 128 + SIGKILL) << describe(run);  // claimed, nothing written
  EXPECT_NE(run.err.find("mpiexec still runs"), std::string::npos) << describe(run);
}

TEST_F(Relaunch, NotWithNoRelaunch) {
  RunOptions options;
  options.env = {{"SPAWNPOOL_NO_RELAUNCH", "1"}};
  const ProbeRun run = run_probe({}, options);
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_TRUE(has_line(run.out, "world_size=1")) << describe(run);
  EXPECT_TRUE(has_line(run.out, "relaunched=0")) << describe(run);
  EXPECT_TRUE(has_line(run.out, "pm=0")) << describe(run);
}

TEST_F(Relaunch, MissingMpiexecIsAClearError) {
  RunOptions options;
  options.env = {{"SPAWNPOOL_MPIEXEC", "/nonexistent"}};
  const ProbeRun run = run_probe({}, options);
  EXPECT_NE(run.exit_code, 0) << describe(run);
  EXPECT_NE(run.err.find("'/nonexistent'"), std::string::npos) << describe(run);
  EXPECT_NE(run.err.find("SPAWNPOOL_MPIEXEC"), std::string::npos) << describe(run);
  EXPECT_EQ(run.out, "") << describe(run);
}

}  // namespace
