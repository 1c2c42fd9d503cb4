// startup: time from Executor construction to the first result — `Executor pool(max_workers(W));
// pool.submit(noop, 1).get();` — in spawn mode (the program starts alone, relaunches itself under
// mpiexec, then the clock starts right before the Executor is constructed), and the time of the
// `pool.shutdown()` that follows (every worker told to leave and disconnected). One measurement
// per run.
//   ./build/bench/startup [workers=1]
// Prints `row name=startup impl=spawnpool workers=W first_result_ms=... constructor_ms=...
// shutdown_ms=...`.
#include "bench_util.hpp"

#include <spawnpool/spawnpool.hpp>

#include <cstdlib>

int noop(int x) { return x; }
SPAWNPOOL_TASK(noop);

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  const int workers = argc > 1 ? std::atoi(argv[1]) : 1;
  const auto t0 = bench::Clock::now();
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(workers));
  const double constructor = bench::seconds_since(t0);
  (void)pool.submit(noop, 1).get();
  const double first = bench::seconds_since(t0);
  const int started = pool.num_workers();
  const auto t1 = bench::Clock::now();
  pool.shutdown();
  const double shutdown = bench::seconds_since(t1);
  bench::Row("startup", "spawnpool")
      .add("workers", started)
      .add("first_result_ms", first * 1e3, 1)
      .add("constructor_ms", constructor * 1e3, 1)
      .add("shutdown_ms", shutdown * 1e3, 1)
      .print();
  return 0;
}
