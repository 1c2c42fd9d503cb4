// echo_bandwidth: bandwidth of a large argument sent to a worker and returned as the result —
// `pool.submit(echo, v).get()` with a std::vector<double> of the given size, one worker.
// GiB/s counts both directions: 2 * size / round-trip time (median of the repetitions, after one
// warm-up), the same definition as raw_mpi's echo and mpi4py_bench.py's.
//   ./build/bench/echo_bandwidth [MiB=64] [reps=5]
// Prints `row name=echo impl=spawnpool workers=1 size_mib=M gib_per_s=... median_ms=...`.
#include "bench_util.hpp"

#include <spawnpool/spawnpool.hpp>

#include <cstdlib>

std::vector<double> echo(std::vector<double> v) { return v; }
SPAWNPOOL_TASK(echo);

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  const double mib = argc > 1 ? std::atof(argv[1]) : 64;
  const long reps = argc > 2 ? std::max(1L, std::atol(argv[2])) : 5;
  const std::size_t n = static_cast<std::size_t>(mib * (1 << 20)) / sizeof(double);
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(1));
  const std::vector<double> data(n, 1.5);
  std::vector<double> seconds;
  for (long r = 0; r < reps + 1; ++r) {  // the first is a warm-up
    const auto t0 = bench::Clock::now();
    const std::vector<double> back = pool.submit(echo, data).get();
    if (r > 0) seconds.push_back(bench::seconds_since(t0));
    if (back.size() != n || (n > 0 && back[n / 2] != 1.5)) std::abort();
  }
  const double median = bench::quantile(seconds, 0.5);
  bench::Row("echo", "spawnpool")
      .add("workers", 1)
      .add("size_mib", mib, mib < 1 ? 3 : 0)
      .add("gib_per_s", 2.0 * mib / 1024.0 / median)
      .add("median_ms", median * 1e3)
      .add("reps", reps)
      .print();
  return 0;
}
