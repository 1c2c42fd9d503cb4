// idle_cpu: CPU used by an idle pool. Starts a pool (default 4 workers), runs one task, lets it
// settle, then sums the CPU time of every process of the pool over a window (default 5 s): the
// manager, the workers, and the launcher processes (mpiexec, hydra_pmi_proxy, the relaunching
// parent). Prints one row:
//   idle_cpu workers=4 seconds=5.0 total_pct=1.9 manager_pct=0.4 workers_pct=1.3 launcher_pct=0.2
//   ./build/bench/idle_cpu [workers] [seconds]
#include <spawnpool/spawnpool.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

int noop(int x) { return x; }
SPAWNPOOL_TASK(noop);

namespace {

long parent_of(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string state;
  long ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

/// utime + stime of a process, in seconds.
double cpu_seconds(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15; ++i) {
    rest >> field;
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string name_of(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

double sum(const std::set<long>& pids) {
  double total = 0;
  for (long pid : pids) total += cpu_seconds(pid);
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  const int workers = argc > 1 ? std::atoi(argv[1]) : 4;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 5.0;
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(workers));
  (void)pool.submit(noop, 1).get();

  std::set<long> manager = {static_cast<long>(getpid())};
  std::set<long> worker_pids, launchers;
  for (const auto& w : pool.workers()) {
    worker_pids.insert(w.pid);
    const long proxy = parent_of(w.pid);
    if (name_of(proxy) == "hydra_pmi_proxy") launchers.insert(proxy);
  }
  // Up the manager's ancestry: hydra_pmi_proxy, mpiexec, and the relaunching parent.
  for (long pid = parent_of(getpid()), hops = 0; pid > 1 && hops < 3; pid = parent_of(pid), ++hops) {
    const std::string name = name_of(pid);
    if (name.rfind("hydra", 0) == 0 || name.rfind("mpiexec", 0) == 0 || hops == 2) {
      launchers.insert(pid);
    }
  }

  std::this_thread::sleep_for(std::chrono::seconds(1));  // let the pollers back off
  const double m0 = sum(manager), w0 = sum(worker_pids), l0 = sum(launchers);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const double m = (sum(manager) - m0) / seconds * 100, w = (sum(worker_pids) - w0) / seconds * 100,
               l = (sum(launchers) - l0) / seconds * 100;
  std::printf(
      "idle_cpu workers=%d seconds=%.1f total_pct=%.2f manager_pct=%.2f workers_pct=%.2f "
      "launcher_pct=%.2f per_worker_pct=%.2f\n",
      pool.num_workers(), seconds, m + w + l, m, w, l, w / pool.num_workers());
  return 0;
}
