// A manager for tests/test_reliability.cpp to kill: starts a pool of 2 workers busy with a long
// task, prints "ready <manager pid> <worker pids...>", then sleeps ("sleep") or throws out of main
// ("throw").
#include <spawnpool/spawnpool.hpp>

#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

int linger(int seconds) {
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  return seconds;
}
SPAWNPOOL_TASK(linger);

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(2));
  auto busy = pool.submit(linger, 600);
  std::printf("ready %ld", static_cast<long>(getpid()));
  for (const auto& w : pool.workers()) std::printf(" %ld", w.pid);
  std::printf("\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  if (argc > 1 && std::string(argv[1]) == "throw") throw std::runtime_error("thrown out of main");
  std::this_thread::sleep_for(std::chrono::seconds(600));
  return 0;
}
