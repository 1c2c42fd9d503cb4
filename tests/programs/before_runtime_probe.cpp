// How often code before the Runtime runs (README, "Spawn mode"): `before_runtime_probe N FILE`
// appends a line to FILE before its Runtime, then, in the manager, runs a pool of N workers, reads
// FILE and prints "code before Runtime ran K times for N workers". Every process that starts the
// program runs that code: the process started, its relaunched copy (MPICH), and each worker.
#include <spawnpool/spawnpool.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

int square(int x) { return x * x; }
SPAWNPOOL_TASK(square);

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: before_runtime_probe WORKERS FILE\n");
    return 2;
  }
  {
    // The code before the Runtime: one line per process that runs it.
    std::ofstream(argv[2], std::ios::app) << getpid() << '\n';
  }
  spawnpool::Runtime runtime(argc, argv);
  const int workers = std::atoi(argv[1]);
  {
    spawnpool::Executor pool(spawnpool::Options{}.max_workers(workers));
    const std::vector<int> xs{1, 2, 3, 4, 5, 6, 7, 8};
    if (pool.map(square, xs).get().at(7) != 64) return 1;
  }
  std::ifstream lines(argv[2]);
  int count = 0;
  for (std::string line; std::getline(lines, line);) ++count;
  std::printf("code before Runtime ran %d times for %d workers\n", count, workers);
  return 0;
}
