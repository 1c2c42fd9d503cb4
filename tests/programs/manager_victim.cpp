// A manager for tests/test_manager_death.cpp to kill: starts a pool of 2 workers busy with a long
// task, prints "ready <manager pid> <worker pids...>", then sleeps ("sleep") or throws out of main
// ("throw"). "trace" (with SPAWNPOOL_TRACE set) first runs 10 calls on an executor, then 10 on
// each of two at once, and 5 on the last pool before it reports ready and sleeps.
#include <spawnpool/spawnpool.hpp>

#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

int linger(int seconds) {
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  return seconds;
}
SPAWNPOOL_TASK(linger);

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  const std::string mode = argc > 1 ? argv[1] : "sleep";
  const std::vector<int> zeros(10, 0);
  if (mode == "trace") {
    {
      spawnpool::Executor first(spawnpool::Options{}.max_workers(1));
      first.map(linger, zeros).get();
    }
    spawnpool::Executor a(spawnpool::Options{}.max_workers(1));
    spawnpool::Executor b(spawnpool::Options{}.max_workers(1));
    auto from_a = a.map(linger, zeros);
    auto from_b = b.map(linger, zeros);
    from_a.get();
    from_b.get();
  }
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(2));
  if (mode == "trace") pool.map(linger, std::vector<int>(5, 0)).get();
  auto busy = pool.submit(linger, 600);
  std::printf("ready %ld", static_cast<long>(getpid()));
  for (const auto& w : pool.workers()) std::printf(" %ld", w.pid);
  std::printf("\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  if (mode == "throw") throw std::runtime_error("thrown out of main");
  std::this_thread::sleep_for(std::chrono::seconds(600));
  return 0;
}
