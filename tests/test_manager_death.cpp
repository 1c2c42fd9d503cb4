// The manager's death: a manager that is killed (SIGKILL of the manager process or of the
// relaunching parent, SIGTERM, SIGINT) or throws out of main leaves no worker, mpiexec or proxy
// behind. This test is a plain program (not an MPI process): it starts tests/programs/manager_victim
// alone, as a user would, and kills it.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

/// Running (a zombie is not: it has ended and waits only to be reaped, e.g. a manager that is this
/// test's own child when the MPI spawns from a singleton without relaunching, as Open MPI does).
bool alive(long pid) {
  if (kill(static_cast<pid_t>(pid), 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  return !(close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z');
}

/// A started victim. Its destructor kills what is left of its process group, so a test that stops
/// at a failed assertion leaves nothing running (a leftover would also hold ctest's output pipe
/// open and turn the failure into a timeout).
struct Victim {
  pid_t launcher = 0;
  long manager = 0;
  std::vector<long> workers;
  Victim() = default;
  Victim(const Victim&) = delete;
  Victim& operator=(const Victim&) = delete;
  Victim(Victim&& other) noexcept
      : launcher(std::exchange(other.launcher, 0)),
        manager(other.manager),
        workers(std::move(other.workers)) {}
  ~Victim() {
    int status = 0;
    // Already reaped: the test cleaned up after itself (and the pids may be reused by now).
    if (launcher <= 0 || waitpid(launcher, &status, WNOHANG) < 0) return;
    kill(-launcher, SIGKILL);
    for (long pid : workers) kill(static_cast<pid_t>(pid), SIGKILL);
    if (manager > 0) kill(static_cast<pid_t>(manager), SIGKILL);
    waitpid(launcher, &status, 0);
  }
};

/// Starts tests/programs/manager_victim (alone, so it relaunches under mpiexec) and reads the pids
/// it reports once its pool is up.
Victim start_victim(const char* mode, const std::string& trace_file = "",
                    const std::string& tmpdir = "") {
  const std::string out = "/tmp/spawnpool_victim_" + std::to_string(getpid()) + ".txt";
  std::remove(out.c_str());
  Victim v;
  std::fflush(nullptr);  // the child must not inherit unflushed output
  v.launcher = fork();
  if (v.launcher == 0) {
    setpgid(0, 0);  // signals sent by this test reach only the victim
    freopen(out.c_str(), "w", stdout);
    if (!trace_file.empty()) setenv("SPAWNPOOL_TRACE", trace_file.c_str(), 1);
    if (!tmpdir.empty()) setenv("TMPDIR", tmpdir.c_str(), 1);
    execl(VICTIM_PATH, VICTIM_PATH, mode, static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 300; ++i) {
    std::ifstream in(out);
    std::string line;
    // Only whole lines: the manager's output reaches the file through mpiexec, which may forward
    // a line in more than one write.
    while (std::getline(in, line) && !in.eof()) {
      std::istringstream words(line);
      std::string key;
      words >> key;
      if (key == "ready") {
        words >> v.manager;
        long pid;
        while (words >> pid) v.workers.push_back(pid);
        return v;
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  kill(-v.launcher, SIGKILL);
  ADD_FAILURE() << "the victim never reported ready";
  return v;
}

/// Seconds until every pid is gone (at most `limit`), or -1.
double seconds_until_gone(std::vector<long> pids, double limit) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    bool any = false;
    for (long pid : pids) any |= alive(pid);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!any) return elapsed;
    if (elapsed > limit) return -1;
    std::this_thread::sleep_for(50ms);
  }
}

void expect_everything_ends(const Victim& v, const char* what) {
  std::vector<long> pids = v.workers;
  pids.push_back(v.manager);
  const double gone = seconds_until_gone(pids, 10);
  EXPECT_GE(gone, 0) << what << ": workers or manager still running after 10 s";
  std::printf("%s: manager and workers gone %.2f s after\n", what, gone);
  int status = 0;
  for (int i = 0; i < 100 && waitpid(v.launcher, &status, WNOHANG) == 0; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  kill(-v.launcher, SIGKILL);  // whatever is left of the group (mpiexec, proxies): the orphan
  waitpid(v.launcher, &status, WNOHANG);  // check at the end of the suite reports it
}

TEST(ManagerDeath, SigkillOfTheManagerEndsItsWorkers) {
  const Victim v = start_victim("sleep");
  ASSERT_GT(v.manager, 0);
  ASSERT_EQ(v.workers.size(), 2u);
  kill(static_cast<pid_t>(v.manager), SIGKILL);
  expect_everything_ends(v, "SIGKILL of the manager");
}

// The trace file is written as calls finish: a manager killed mid-run leaves a file that loads,
// with the calls of every executor it had (three that ended, the one it was killed in).
TEST(ManagerDeath, SigkilledManagerLeavesALoadableTraceOfEveryExecutor) {
  const std::string trace = "/tmp/spawnpool_victim_trace_" + std::to_string(getpid()) + ".json";
  std::remove(trace.c_str());
  const Victim v = start_victim("trace", trace);
  ASSERT_GT(v.manager, 0);
  kill(static_cast<pid_t>(v.manager), SIGKILL);
  expect_everything_ends(v, "SIGKILL of a tracing manager");
  // Valid JSON as it stands (the Chrome format would also take it without its closing bracket).
  const std::string check =
      "/usr/bin/python3 -c \"import json,sys\n"
      "events = json.load(open(sys.argv[1]))\n"
      "procs = [e['pid'] for e in events if e['ph'] == 'M' and e['name'] == 'process_name']\n"
      "assert len(set(procs)) == 4, procs\n"
      "counts = sorted(sum(1 for e in events if e['ph'] == 'X' and e['pid'] == p) for p in procs)\n"
      "assert counts == [5, 10, 10, 10], counts\" " + trace;
  EXPECT_EQ(std::system(check.c_str()), 0) << "trace file " << trace << " is not as expected";
  std::remove(trace.c_str());
}

TEST(ManagerDeath, SigkillOfTheLauncherEndsEverything) {
  const Victim v = start_victim("sleep");
  ASSERT_GT(v.manager, 0);
  kill(v.launcher, SIGKILL);
  expect_everything_ends(v, "SIGKILL of the relaunching parent");
}

/// The parent of `pid` (field 4 of /proc/PID/stat), or 0 when it is gone.
long parent_of(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 4 >= line.size()) return 0;
  return std::strtol(line.c_str() + close + 4, nullptr, 10);
}

// mpiexec dies while a worker's hydra_pmi_proxy and the manager's cannot notice (stopped here;
// hung, or busy launching, in the wild): the proxies used to stay behind for good, orphans of
// init. The relaunching parent adopts them (a child subreaper) and ends them once mpiexec has
// ended, and then the manager, which its stopped proxy cannot end (the first version of this
// killed the proxies only, and the manager stayed whenever its proxy was killed before it had
// ended the manager itself: seen in a CI run).
TEST(ManagerDeath, SigkillOfMpiexecLeavesNoStuckProxyBehind) {
  const Victim v = start_victim("sleep");
  ASSERT_GT(v.manager, 0);
  if (v.manager == v.launcher) GTEST_SKIP() << "not relaunched under mpiexec (Open MPI)";
  ASSERT_FALSE(v.workers.empty());
  // worker <- its start watcher <- its proxy <- mpiexec (the proxy is the first hydra_pmi_proxy up)
  long proxy = parent_of(v.workers[0]);
  for (int up = 0; up < 3 && proxy > 1; ++up) {
    std::ifstream comm("/proc/" + std::to_string(proxy) + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name == "hydra_pmi_proxy") break;
    proxy = parent_of(proxy);
  }
  const long mpiexec = parent_of(proxy);
  const long manager_proxy = parent_of(v.manager);
  ASSERT_GT(proxy, 1);
  ASSERT_GT(mpiexec, 1);
  ASSERT_GT(manager_proxy, 1);
  kill(static_cast<pid_t>(proxy), SIGSTOP);
  kill(static_cast<pid_t>(manager_proxy), SIGSTOP);
  kill(static_cast<pid_t>(mpiexec), SIGKILL);
  expect_everything_ends(v, "SIGKILL of mpiexec with stopped proxies");
  const double gone = seconds_until_gone({proxy, manager_proxy}, 10);
  EXPECT_GE(gone, 0) << "a stopped hydra_pmi_proxy (" << proxy << ", " << manager_proxy
                     << ") was left behind";
  // Not to leave anything to the next tests.
  for (long pid : {proxy, manager_proxy, v.manager}) kill(static_cast<pid_t>(pid), SIGKILL);
}

/// The processes of `program` that hydra spawned (PMI_SPAWNED=1 in their environment) and that
/// run it themselves: not a start watcher (first argument --spawnpool-start-watch=...), not a
/// worker's launcher guard (named spawnpool-guard).
std::vector<long> spawned_copies_of(const std::string& program) {
  std::vector<long> pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string exe, first;
    std::getline(cmdline, exe, '\0');
    std::getline(cmdline, first, '\0');
    if (exe != program || first.rfind("--spawnpool-start-watch", 0) == 0) continue;
    std::ifstream comm(entry.path() / "comm");
    std::string short_name;
    std::getline(comm, short_name);
    if (short_name == "spawnpool-guard") continue;  // a worker's launcher guard (ends by itself)
    std::ifstream environ(entry.path() / "environ");
    for (std::string var; std::getline(environ, var, '\0');) {
      if (var == "PMI_SPAWNED=1") pids.push_back(std::stol(name));
    }
  }
  return pids;
}

/// Every path under `dir`, depth first.
std::vector<std::string> paths_under(const std::string& dir) {
  std::vector<std::string> paths;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    paths.push_back(it->path().string());
  }
  return paths;
}

/// The first hydra_pmi_proxy above `pid` (its parent, or the parent of its start watcher), or 0.
long proxy_above(long pid) {
  long proxy = parent_of(pid);
  for (int up = 0; up < 3 && proxy > 1; ++up) {
    std::ifstream comm("/proc/" + std::to_string(proxy) + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name == "hydra_pmi_proxy") return proxy;
    proxy = parent_of(proxy);
  }
  return 0;
}

// The relaunching parent SIGKILLed while a worker's hydra_pmi_proxy cannot act (stopped here; in
// the wild, one mpiexec forked while it was being ended: it waits for ever for an mpiexec that
// died before it accepted the proxy's connection, seen in a CI run). Nothing of the relaunching
// parent runs after a SIGKILL, so the job keeper under it (job_keeper.hpp), the subreaper of the
// job, ends mpiexec kLauncherGrace later and then what mpiexec left. Before the keeper, the
// stopped proxy and mpiexec stayed for good, orphans of init.
TEST(ManagerDeath, SigkillOfTheLauncherLeavesNoStuckProxyBehind) {
  char tmpdir[] = "/tmp/spawnpool_tmpdir_XXXXXX";
  ASSERT_NE(mkdtemp(tmpdir), nullptr);
  const Victim v = start_victim("sleep", "", tmpdir);
  ASSERT_GT(v.manager, 0);
  if (v.manager == v.launcher) GTEST_SKIP() << "not relaunched under mpiexec (Open MPI)";
  ASSERT_FALSE(v.workers.empty());
  const long proxy = proxy_above(v.workers[0]);
  ASSERT_GT(proxy, 1);
  const long mpiexec = parent_of(proxy);
  ASSERT_GT(mpiexec, 1);
  const long keeper = parent_of(mpiexec);  // the launcher itself before the keeper
  kill(static_cast<pid_t>(proxy), SIGSTOP);
  kill(v.launcher, SIGKILL);
  // (It ends by SIGKILLing the launcher's process group, mpiexec included, as `kill -9 -PGID`
  // would.)
  expect_everything_ends(v, "SIGKILL of the relaunching parent with a stopped proxy");
  const double gone = seconds_until_gone({proxy, mpiexec, keeper}, 15);
  EXPECT_GE(gone, 0) << "a stopped hydra_pmi_proxy (" << proxy << "), mpiexec (" << mpiexec
                     << ") or the job keeper (" << keeper << ") was left behind";
  std::printf("stopped proxy, mpiexec and keeper gone %.2f s after\n", gone);
  for (long pid : {proxy, mpiexec, keeper}) kill(static_cast<pid_t>(pid), SIGKILL);
  // Nor the run's directory and the exit status file, which the killed parent could not remove.
  std::string left;
  for (const std::string& path : paths_under(tmpdir)) left += "\n  " + path;
  EXPECT_TRUE(left.empty()) << "left in TMPDIR after the job ended:" << left;
  std::filesystem::remove_all(tmpdir);
}

// A manager killed while a worker starts leaves its start watch's directory behind: nothing runs
// after a SIGKILL to remove it. The relaunch parent, which outlives the manager, removes the run's
// directory that holds it. Before, one spawnpool-start-* directory was left in $TMPDIR per
// worker starting; and a worker still inside MPI_Init (spinning in its connection to the dead
// manager: about 1 kill in 3 during a start) or stopped kept the program running for ever (the
// relaunch parent waited for a report of the manager's end; now its process being gone is one).
TEST(ManagerDeath, SigkillDuringTheStartLeavesNoTemporaryFilesBehind) {
#ifdef NO_START_WATCH
  GTEST_SKIP() << "the start watch is MPICH's";
#endif
  char tmpdir[] = "/tmp/spawnpool_tmpdir_XXXXXX";
  ASSERT_NE(mkdtemp(tmpdir), nullptr);
  Victim v = start_victim("starting", "", tmpdir);
  ASSERT_GT(v.manager, 0);
  bool watching = false;
  for (int i = 0; i < 200 && !watching; ++i) {
    for (const std::string& path : paths_under(tmpdir)) {
      watching |= path.find("spawnpool-start-") != std::string::npos;
    }
    if (!watching) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(watching) << "no start watch's directory appeared in " << tmpdir;
  // The relaunch parent looks at the manager every 0.1 s: it has seen it run by now.
  std::this_thread::sleep_for(500ms);
  // The worker stopped: it cannot notice the manager's end, as one still inside MPI_Init cannot
  // (it waits in MPI's connection to the manager), and hydra waits for it.
  const std::vector<long> workers = spawned_copies_of(VICTIM_PATH);
  EXPECT_EQ(workers.size(), 1u);
  for (long pid : workers) kill(static_cast<pid_t>(pid), SIGSTOP);
  kill(static_cast<pid_t>(v.manager), SIGKILL);
  int status = 0;
  bool ended = false;
  for (int i = 0; i < 200 && !ended; ++i) {
    ended = waitpid(v.launcher, &status, WNOHANG) == v.launcher;
    if (!ended) std::this_thread::sleep_for(100ms);
  }
  // mpiexec gets kLauncherGrace (5 s) and kLauncherKillWait (2 s) once the manager is gone.
  EXPECT_TRUE(ended) << "the program still runs 20 s after its manager was killed";
  for (long pid : workers) {
    EXPECT_FALSE(alive(pid)) << "the stopped worker is still there";
    kill(static_cast<pid_t>(pid), SIGKILL);
  }
  std::string left;
  for (const std::string& path : paths_under(tmpdir)) left += "\n  " + path;
  EXPECT_TRUE(left.empty()) << "left in TMPDIR after the launcher ended:" << left;
  std::filesystem::remove_all(tmpdir);
}

TEST(ManagerDeath, SigtermAndSigintEndEverythingWithAFailureStatus) {
  for (int sig : {SIGTERM, SIGINT}) {
    const Victim v = start_victim("sleep");
    ASSERT_GT(v.manager, 0);
    kill(v.launcher, sig);
    int status = 0;
    for (int i = 0; i < 100 && waitpid(v.launcher, &status, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(100ms);
    }
    if (v.manager == v.launcher) {
      // Not relaunched (Open MPI spawns from a singleton): the manager itself ends by the signal.
      EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << "signal " << sig;
    } else {
      // The relaunching parent forwards the signal and exits with a failure status.
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "signal " << sig;
    }
    expect_everything_ends(v, sig == SIGTERM ? "SIGTERM" : "SIGINT");
  }
}

TEST(ManagerDeath, ExceptionOutOfMainEndsEverything) {
  const Victim v = start_victim("throw");
  ASSERT_GT(v.manager, 0);
  expect_everything_ends(v, "exception out of main");
}

}  // namespace
