// A small spawn-mode run for valgrind (tests/valgrind/run_valgrind.sh): the manager spawns two
// workers, each started through the command given on the manager's command line (valgrind and its
// options), so that every process of the pool runs under it. It runs a map, a task that throws, a
// larger argument, a second executor, and shuts everything down; exit status 0 when all results
// were right.
//   mpiexec -n 1 [valgrind ...] valgrind_pool [WORKER_LAUNCHER [ITS ARGUMENTS...]]
// (Started under mpiexec so that valgrind watches the manager itself: started alone, the program
// would relaunch itself under mpiexec, outside valgrind.)
#include <spawnpool/spawnpool.hpp>

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

long sum_of_squares(long low, long high) {
  long sum = 0;
  for (long i = low; i < high; ++i) sum += i * i;
  return sum;
}
SPAWNPOOL_TASK(sum_of_squares);

int refuse(int x) { throw std::invalid_argument("refused " + std::to_string(x)); }
SPAWNPOOL_TASK(refuse);

std::vector<double> reversed(std::vector<double> v) { return {v.rbegin(), v.rend()}; }
SPAWNPOOL_TASK(reversed);

namespace {

std::string own_executable() {
  char path[PATH_MAX];
  const ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
  return length > 0 ? std::string(path, static_cast<std::size_t>(length)) : std::string();
}

bool check(bool ok, const char* what) {
  if (!ok) std::fprintf(stderr, "valgrind_pool: wrong result: %s\n", what);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);  // workers serve here and exit
  spawnpool::Options options = spawnpool::Options{}.max_workers(2);
  if (argc > 1) {
    // The worker command line: the launcher and its arguments, then this program (no arguments).
    options.worker_program(argv[1]);
    std::vector<std::string> args(argv + 2, argv + argc);
    args.push_back(own_executable());
    options.worker_args(args);
  }
  bool ok = true;
  try {
    {
      spawnpool::Executor pool(options);
      std::vector<long> lows(20), highs(20);
      std::iota(lows.begin(), lows.end(), 0L);
      for (std::size_t i = 0; i < lows.size(); ++i) {
        lows[i] *= 1000;
        highs[i] = lows[i] + 1000;
      }
      const std::vector<long> sums = pool.map(sum_of_squares, lows, highs).get();
      ok &= check(std::accumulate(sums.begin(), sums.end(), 0L) == sum_of_squares(0, 20000), "map");
      try {
        pool.submit(refuse, 7).get();
        ok &= check(false, "a task that throws returned");
      } catch (const spawnpool::RemoteError& e) {
        ok &= check(e.message() == "refused 7", "remote error message");
      }
      std::vector<double> data(1 << 18);
      std::iota(data.begin(), data.end(), 1.0);
      const std::vector<double> back = pool.submit(reversed, data).get();
      ok &= check(back.size() == data.size() && back.front() == data.back(), "large argument");
    }
    {
      spawnpool::Executor second(options.max_workers(1));  // executors come and go
      ok &= check(second.submit(sum_of_squares, 0L, 10L).get() == 285, "second executor");
    }
  } catch (const spawnpool::Error& e) {
    std::fprintf(stderr, "valgrind_pool: %s\n", e.what());
    return 1;
  }
  std::printf("valgrind_pool: %s\n", ok ? "all results right" : "WRONG RESULTS");
  return ok ? 0 : 1;
}
