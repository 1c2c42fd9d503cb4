// idle_cpu: CPU used by an idle pool. Starts a pool (default 4 workers), runs one task, lets it
// settle for a second, then measures the CPU time of every process of the pool over a window
// (default 10 s): the manager, each worker, and the launcher processes (mpiexec, hydra_pmi_proxy, the
// relaunching parent). Percentages are of one core.
//   ./build/bench/idle_cpu [workers=4] [seconds=10]
// Prints one row:
//   row name=idle_cpu impl=spawnpool workers=4 seconds=10.0 total_pct=... manager_pct=...
//       per_worker_pct=... max_process_pct=... launcher_pct=...
// max_process_pct is the busiest of the manager and the workers (the "< 1 % per process" target);
// total_pct includes the launchers.
#include "bench_util.hpp"

#include <spawnpool/spawnpool.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>

int noop(int x) { return x; }
SPAWNPOOL_TASK(noop);

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  const int workers = argc > 1 ? std::atoi(argv[1]) : 4;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 10.0;
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(workers));
  (void)pool.submit(noop, 1).get();

  const long manager = getpid();
  std::set<long> worker_pids, launchers;
  for (const auto& w : pool.workers()) {
    worker_pids.insert(w.pid);
    const long proxy = bench::parent_of(w.pid);
    if (bench::name_of(proxy) == "hydra_pmi_proxy") launchers.insert(proxy);
  }
  // Up the manager's ancestry: hydra_pmi_proxy, mpiexec, and the relaunching parent.
  for (long pid = bench::parent_of(manager), hops = 0; pid > 1 && hops < 3;
       pid = bench::parent_of(pid), ++hops) {
    const std::string name = bench::name_of(pid);
    if (name.rfind("hydra", 0) == 0 || name.rfind("mpiexec", 0) == 0 || hops == 2) {
      launchers.insert(pid);
    }
  }

  std::this_thread::sleep_for(std::chrono::seconds(1));  // let the pollers back off
  std::map<long, double> start;
  for (long pid : worker_pids) start[pid] = bench::cpu_seconds(pid);
  start[manager] = bench::cpu_seconds(manager);
  const double l0 = bench::cpu_seconds_sum(launchers);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  auto pct = [&](long pid) { return (bench::cpu_seconds(pid) - start[pid]) / seconds * 100; };
  const double m = pct(manager);
  double w = 0, busiest = m;
  for (long pid : worker_pids) {
    const double p = pct(pid);
    w += p;
    busiest = std::max(busiest, p);
  }
  const double l = (bench::cpu_seconds_sum(launchers) - l0) / seconds * 100;
  bench::Row("idle_cpu", "spawnpool")
      .add("workers", pool.num_workers())
      .add("seconds", seconds, 1)
      .add("total_pct", m + w + l, 2)
      .add("manager_pct", m, 2)
      .add("per_worker_pct", w / pool.num_workers(), 2)
      .add("max_process_pct", busiest, 2)
      .add("launcher_pct", l, 2)
      .print();
  return 0;
}
