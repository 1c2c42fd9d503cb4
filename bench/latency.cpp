// latency: round-trip time of a trivial task, `pool.submit(noop, i).get()` one after the other with
// one worker: median and p99 in microseconds.
//   ./build/bench/latency [iterations]                      spawn mode (starts alone, spawns 1 worker)
//   mpiexec -n 2 ./build/bench/latency [iterations]         static mode (rank 1 is the worker)
// Prints `row name=latency_spawn|latency_static impl=spawnpool workers=1 median_us=... p99_us=...`,
// or, under mpiexec -n 2 with a library that has no static mode, a row with `status=n/a`.
#include "bench_util.hpp"

#include <spawnpool/spawnpool.hpp>

#include <cstdlib>
#include <cstring>

int noop(int x) { return x; }
SPAWNPOOL_TASK(noop);

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  const long iterations = argc > 1 ? std::atol(argv[1]) : 20000;
  const bool launched_static = runtime.world_size() > 1;
  // Only a library without static mode lets a rank other than 0 get here; it has nothing to do.
  if (runtime.world_rank() != 0) return 0;

  spawnpool::Executor pool(spawnpool::Options{}.max_workers(launched_static ? runtime.world_size() - 1 : 1));
  const char* mode = spawnpool::to_string(pool.mode());
  if (launched_static && std::strcmp(mode, "static") != 0) {
    bench::Row("latency_static", "spawnpool")
        .add("workers", 1)
        .add("status", "n/a")
        .add("reason", std::string("static_mode_not_available_(mode=") + mode + ")")
        .print();
    return 0;
  }
  for (int i = 0; i < 500; ++i) (void)pool.submit(noop, i).get();  // warm-up
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(iterations));
  for (long i = 0; i < iterations; ++i) {
    const auto t0 = bench::Clock::now();
    const int y = pool.submit(noop, static_cast<int>(i)).get();
    samples.push_back(bench::micros_between(t0, bench::Clock::now()));
    if (y != static_cast<int>(i)) std::abort();
  }
  bench::Row(launched_static ? "latency_static" : "latency_spawn", "spawnpool")
      .add("workers", pool.num_workers())
      .add("median_us", bench::quantile(samples, 0.5))
      .add("p99_us", bench::quantile(samples, 0.99))
      .add("iterations", iterations)
      .add("mode", mode)
      .print();
  return 0;
}
