// What a user sees when a program started alone (so it relaunches itself under MPICH's mpiexec)
// ends abnormally: spawnpool's one-line messages and the right exit status, not hydra's banner,
// its "Press Ctrl-C again" lines or MPI's error stacks. Each case runs the program as a user
// would, with stdout and stderr on one pipe (or a terminal, for Ctrl-C), and reads everything.
// MPICH only: with Open MPI nothing is relaunched.
#include <gtest/gtest.h>

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef VICTIM_PATH
#error "compile with -DVICTIM_PATH=\"/path/to/manager_victim\""
#endif
#ifndef EXIT_STATUS_PROBE_PATH
#error "compile with -DEXIT_STATUS_PROBE_PATH=\"/path/to/exit_status_probe\""
#endif

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// hydra's lines that must never reach the user (MPICH 4.0.2's texts).
const std::vector<std::string> kHydraNoise = {
    "YOUR APPLICATION TERMINATED WITH THE EXIT STRING",
    "This typically refers to a problem with your application.",
    "Please see the FAQ page for debugging suggestions",
    "BAD TERMINATION",
    "Press Ctrl-C again to force abort",
    "Sending Ctrl-C to processes as requested",
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// A finished run: its exit status as a shell reports it, everything it wrote, and when.
struct Outcome {
  int status = -1;
  std::string output;
  std::vector<std::pair<Clock::duration, std::string>> pieces;  // time since start, bytes
  Clock::duration took{};
  std::vector<long> pids;  // manager and workers, from the "ready" line (manager_victim)
};

/// A program to start: its arguments, and what to do once (if ever) a "ready" line arrived
/// (given the started process's pid, the pids on that line, and the terminal's master or -1).
struct Start {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // NAME=value, added
  bool on_terminal = false;      // stdout and stderr on a pseudo-terminal, as its session leader
  std::function<void(pid_t, const std::vector<long>&, int)> on_ready;
};

bool alive(long pid) {
  if (kill(static_cast<pid_t>(pid), 0) != 0) return false;
  FILE* stat = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!stat) return false;
  char line[512] = {};
  const bool read = std::fgets(line, sizeof line, stat) != nullptr;
  std::fclose(stat);
  const std::string text = read ? line : "";
  const auto close = text.rfind(')');
  return !(close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z');
}

/// Runs `start` to its end (at most 120 s: then it is killed and the status is -1) in a process
/// group of its own; kills whatever of that group and of the reported pids is left afterwards.
Outcome run(const Start& start) {
  Outcome result;
  std::fflush(nullptr);
  int read_end = -1;
  pid_t pid = -1;
  auto exec_it = [&]() {
    for (const auto& variable : start.env) putenv(const_cast<char*>(variable.c_str()));
    std::vector<char*> argv;
    for (const auto& a : start.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  };
  if (start.on_terminal) {
    pid = forkpty(&read_end, nullptr, nullptr, nullptr);  // the child leads a new session
    if (pid == 0) exec_it();
  } else {
    int ends[2];
    if (pipe(ends) != 0) return result;
    pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      dup2(ends[1], STDOUT_FILENO);
      dup2(ends[1], STDERR_FILENO);
      close(ends[0]);
      close(ends[1]);
      exec_it();
    }
    close(ends[1]);
    read_end = ends[0];
  }
  if (pid < 0) return result;
  const auto began = Clock::now();
  const auto deadline = began + 120s;
  bool ready = false;
  int status = 0;
  bool reaped = false;
  std::optional<Clock::time_point> drain_until;
  char buffer[4096];
  for (;;) {
    if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
      reaped = true;
      result.took = Clock::now() - began;
      drain_until = Clock::now() + 2s;  // what is still in the pipe
    }
    if (drain_until && Clock::now() > *drain_until) break;
    if (Clock::now() > deadline) {
      ADD_FAILURE() << "still running after 120 s; killed";
      kill(-pid, SIGKILL);
      break;
    }
    pollfd readable{read_end, POLLIN, 0};
    if (poll(&readable, 1, 50) <= 0) continue;
    const ssize_t got = read(read_end, buffer, sizeof buffer);
    if (got <= 0) {
      if (reaped) break;
      std::this_thread::sleep_for(20ms);  // a terminal reads EIO once its last writer is gone
      continue;
    }
    result.pieces.emplace_back(Clock::now() - began, std::string(buffer, static_cast<std::size_t>(got)));
    result.output.append(buffer, static_cast<std::size_t>(got));
    if (!ready) {
      std::istringstream lines(result.output);
      std::string line;
      while (std::getline(lines, line) && !lines.eof()) {
        std::istringstream words(line);
        std::string key;
        words >> key;
        if (key != "ready") continue;
        ready = true;
        long p = 0;
        while (words >> p) result.pids.push_back(p);
        if (start.on_ready) start.on_ready(pid, result.pids, start.on_terminal ? read_end : -1);
        break;
      }
    }
  }
  close(read_end);
  if (!reaped) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
    result.status = -1;
  } else {
    result.status = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  }
  // Nothing of the run may outlive it: the manager and workers end within seconds of its end.
  for (int i = 0; i < 100; ++i) {
    bool any = false;
    for (long p : result.pids) any |= alive(p);
    if (!any) break;
    std::this_thread::sleep_for(100ms);
  }
  for (long p : result.pids) {
    EXPECT_FALSE(alive(p)) << "pid " << p << " outlived the run";
    kill(static_cast<pid_t>(p), SIGKILL);
  }
  kill(-pid, SIGKILL);
  // A terminal turns "\n" into "\r\n".
  if (start.on_terminal) {
    std::string plain;
    for (char c : result.output)
      if (c != '\r') plain.push_back(c);
    result.output = plain;
  }
  std::printf("--- %s: status %d after %.2f s, output:\n%s---\n", start.argv.back().c_str(),
              result.status, std::chrono::duration<double>(result.took).count(),
              result.output.c_str());
  return result;
}

void expect_no_hydra_noise(const Outcome& r) {
  for (const auto& noise : kHydraNoise) EXPECT_FALSE(contains(r.output, noise)) << noise;
  EXPECT_FALSE(contains(r.output, "error stack")) << "an MPI error stack";
}

std::vector<std::string> lines_with(const std::string& text, const std::string& part) {
  std::vector<std::string> found;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line))
    if (contains(line, part)) found.push_back(line);
  return found;
}

// An uncaught exception in main (a pool of 2 up): the C++ runtime's own two lines, one line from
// spawnpool, status 134 as for a program that was not relaunched. Before: hydra's three-line
// "YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Aborted (signal 6)" banner.
TEST(QuietEnds, AnUncaughtExceptionInMainSaysSoInOneLine) {
  const Outcome r = run(Start{{VICTIM_PATH, "throw"}, {}, false, nullptr});
  EXPECT_EQ(r.status, 128 + SIGABRT);
  expect_no_hydra_noise(r);
  EXPECT_TRUE(contains(r.output, "terminate called after throwing an instance of 'std::runtime_error'"));
  // The runtime writes "  what():  " and the message separately: a worker's whole warning line
  // ("the manager is gone") may land between them in the shared output (seen once in CI).
  const std::string without_worker_lines = std::regex_replace(
      r.output, std::regex(R"(\[spawnpool warning\] worker \d+ \(pid \d+\)[^\n]*\n)"), "");
  EXPECT_TRUE(contains(without_worker_lines, "  what():  thrown out of main\n")) << r.output;
  EXPECT_EQ(lines_with(r.output, "spawnpool: the program was ended by signal"),
            std::vector<std::string>{"spawnpool: the program was ended by signal 6 (SIGABRT: abort() "
                                     "or an uncaught exception); exit status 134"});
}

// Workers that lose their manager (SIGKILLed) and cannot check its process (it is on "another
// host": manager_victim's workers run under another host name) learn of it from a failed MPI
// call: one line each, MPI's error stack only at debug level. Before: each worker's warning held
// MPICH's whole error stack, 4 lines.
TEST(QuietEnds, AWorkerThatLosesTheManagerSaysWhyInOneLine) {
  if (geteuid() != 0) GTEST_SKIP() << "the workers' other host name needs a UTS namespace (root)";
  auto kill_manager = [](pid_t, const std::vector<long>& pids, int) {
    ASSERT_FALSE(pids.empty());
    kill(static_cast<pid_t>(pids[0]), SIGKILL);
  };
  const Outcome r = run(Start{{VICTIM_PATH, "elsewhere"}, {}, false, kill_manager});
  ASSERT_EQ(r.pids.size(), 3u) << "manager and 2 workers";
  EXPECT_EQ(r.status, 128 + SIGKILL);
  expect_no_hydra_noise(r);
  for (std::size_t w = 1; w < r.pids.size(); ++w) {
    const auto said = lines_with(r.output, "(pid " + std::to_string(r.pids[w]) + ")");
    ASSERT_EQ(said.size(), 1u) << "worker pid " << r.pids[w];
    // Its watch thread says it (seen every time here); were its serve loop first, that says
    // "[spawnpool error] worker N (pid P): MPI_... failed: <cause>", one line too.
    const bool watch_thread = contains(said[0], "[spawnpool warning] worker ") &&
                              contains(said[0], ": cannot reach the manager (MPI_") &&
                              said[0].substr(said[0].size() - 10) == "); exiting";
    const bool serve_loop = contains(said[0], "[spawnpool error] worker ") &&
                            contains(said[0], ": MPI_") && contains(said[0], " failed: ");
    EXPECT_TRUE(watch_thread || serve_loop) << said[0];
  }
  // The lines of MPICH's stack ("MPIDI_CH3_iSendv(28)....: ...") are gone.
  EXPECT_TRUE(lines_with(r.output, "MPIDI_").empty());
  // The manager's SIGKILL: spawnpool's existing line, once.
  EXPECT_EQ(lines_with(r.output, "spawnpool: the program ended without a report of its status").size(), 1u);

  // At debug level the whole text is there.
  const Outcome debug = run(Start{{VICTIM_PATH, "elsewhere"}, {"SPAWNPOOL_LOG=debug"}, false, kill_manager});
  EXPECT_TRUE(contains(debug.output, "cannot reach the manager: MPI_")) << debug.output;
  EXPECT_TRUE(contains(debug.output, "error stack")) << debug.output;
}

// Ctrl-C on the terminal (the kernel's SIGINT to the foreground process group: the program,
// mpiexec, ...): spawnpool's one line, status 130, everything ends. Before: hydra's "Sending
// Ctrl-C to processes as requested", "Press Ctrl-C again to force abort" and its banner.
TEST(QuietEnds, CtrlCSaysSoInOneLine) {
  auto press_ctrl_c = [](pid_t, const std::vector<long>&, int terminal) {
    std::this_thread::sleep_for(300ms);
    const char ctrl_c = '\x03';  // the terminal's intr character
    ASSERT_EQ(write(terminal, &ctrl_c, 1), 1);
  };
  const Outcome r = run(Start{{VICTIM_PATH, "sleep"}, {}, true, press_ctrl_c});
  ASSERT_EQ(r.pids.size(), 3u) << "manager and 2 workers";
  EXPECT_EQ(r.status, 128 + SIGINT);
  expect_no_hydra_noise(r);
  EXPECT_EQ(lines_with(r.output, "spawnpool: the program was ended by signal"),
            std::vector<std::string>{"spawnpool: the program was ended by signal 2 (SIGINT); exit status 130"});
  EXPECT_TRUE(lines_with(r.output, "[mpiexec@").empty());
}

// The relay in the relaunching parent passes an unfinished line on while the program runs, even
// one that starts like hydra's (held at most LauncherNoiseFilter::kHoldMs), and the whole line
// unchanged.
TEST(QuietEnds, AnUnfinishedLineReachesTheUserWhileTheProgramRuns) {
  const Outcome r = run(Start{{EXIT_STATUS_PROBE_PATH, "unfinished:3000"}, {}, false, nullptr});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.output, "[mpiexec@vm] Press on\n");
  std::string seen;
  Clock::duration when{};
  for (const auto& [at, bytes] : r.pieces) {
    seen += bytes;
    if (contains(seen, "[mpiexec@vm] Press on")) {
      when = at;
      break;
    }
  }
  const double before_end = std::chrono::duration<double>(r.took - when).count();
  std::printf("the unfinished line arrived %.2f s before the program ended\n", before_end);
  EXPECT_GT(before_end, 2.0);
}

}  // namespace
