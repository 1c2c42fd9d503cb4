// A manager for tests/test_manager_death.cpp to kill: starts a pool of 2 workers busy with a long
// task, prints "ready <manager pid> <worker pids...>", then sleeps ("sleep") or throws out of main
// ("throw"). "trace" (with SPAWNPOOL_TRACE set) first runs 10 calls on an executor, then 10 on
// each of two at once, and 5 on the last pool before it reports ready and sleeps. "elsewhere"
// sleeps too, but its workers run under another host name (each in a UTS namespace of its own,
// made before Runtime; needs root, else the worker exits 3), so that they cannot check the
// manager's process and learn of its end from MPI alone, as workers on another host do.
// "starting" prints "ready <manager pid>" and then starts a pool whose worker's initializer
// sleeps for a minute, to be killed while its start watch waits.
#include <spawnpool/spawnpool.hpp>

#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

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
  const std::string mode = argc > 1 ? argv[1] : "sleep";
  const char* spawned = std::getenv("PMI_SPAWNED");  // hydra's mark of a spawned process
  if (mode == "elsewhere" && spawned != nullptr && std::strcmp(spawned, "1") == 0) {
    const std::string name = "spawnpool-elsewhere";
    if (unshare(CLONE_NEWUTS) != 0 || sethostname(name.c_str(), name.size()) != 0) return 3;
  }
  spawnpool::Runtime runtime(argc, argv);
  if (mode == "starting") {
    // Killed while its worker is in its set-up (the initializer sleeps for a minute).
    std::printf("ready %ld\n", static_cast<long>(getpid()));
    std::fflush(stdout);
    spawnpool::Executor pool(spawnpool::Options{}.max_workers(1).initializer(linger, 60));
    return 0;
  }
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
