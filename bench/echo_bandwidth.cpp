// echo_bandwidth: bandwidth of a large argument sent to a worker and returned as the result —
// `v = pool.submit(echo, std::move(v)).get()` with a std::vector<double> of the given size, one
// worker: the vector is handed over and comes back, as a loop that passes its data along would
// write it. With `copy`, `pool.submit(echo, v)` instead: the caller keeps v, so submit copies it.
// GiB/s counts both directions: 2 * size / round-trip time (median of the repetitions, after one
// warm-up), the same definition as raw_mpi's echo and mpi4py_bench.py's.
//   ./build/bench/echo_bandwidth [MiB=64] [reps=5] [move|copy]
// Prints `row name=echo impl=spawnpool workers=1 size_mib=M argument=move gib_per_s=... ...`
// (impl=spawnpool_copy with `copy`).
#include "bench_util.hpp"

#include <spawnpool/spawnpool.hpp>

#include <cstdlib>
#include <string>

std::vector<double> echo(std::vector<double> v) { return v; }
SPAWNPOOL_TASK(echo);

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  const double mib = argc > 1 ? std::atof(argv[1]) : 64;
  const long reps = argc > 2 ? std::max(1L, std::atol(argv[2])) : 5;
  const std::size_t n = static_cast<std::size_t>(mib * (1 << 20)) / sizeof(double);
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(1));
  const bool copy = argc > 3 && std::string(argv[3]) == "copy";
  std::vector<double> v(n, 1.5);
  std::vector<double> seconds;
  for (long r = 0; r < reps + 1; ++r) {  // the first is a warm-up
    const auto t0 = bench::Clock::now();
    if (copy) {
      const std::vector<double> back = pool.submit(echo, v).get();
      if (r > 0) seconds.push_back(bench::seconds_since(t0));
      if (back.size() != n || (n > 0 && back[n / 2] != 1.5)) std::abort();
    } else {
      v = pool.submit(echo, std::move(v)).get();
      if (r > 0) seconds.push_back(bench::seconds_since(t0));
      if (v.size() != n || (n > 0 && v[n / 2] != 1.5)) std::abort();
    }
  }
  const double median = bench::quantile(seconds, 0.5);
  bench::Row("echo", copy ? "spawnpool_copy" : "spawnpool")
      .add("workers", 1)
      .add("size_mib", mib, mib < 1 ? 3 : 0)
      .add("argument", std::string(copy ? "copy" : "move"))
      .add("gib_per_s", 2.0 * mib / 1024.0 / median)
      .add("median_ms", median * 1e3)
      .add("reps", reps)
      .print();
  return 0;
}
