// map_throughput: chunked map throughput — `pool.map(noop, inputs).get()` over N trivial tasks with
// the library's default chunk size (or a given one). Reports tasks/s from the map call to the last
// result.
//   ./build/bench/map_throughput [workers=2] [tasks=1000000] [chunksize=0 (library default)]
// Prints `row name=map_throughput impl=spawnpool workers=W tasks=N tasks_per_s=...`.
#include "bench_util.hpp"

#include <spawnpool/spawnpool.hpp>

#include <cstdlib>
#include <numeric>

int noop(int x) { return x; }
SPAWNPOOL_TASK(noop);

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  const int workers = argc > 1 ? std::atoi(argv[1]) : 2;
  const long tasks = argc > 2 ? std::atol(argv[2]) : 1000000;
  const std::size_t chunk = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 0;
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(workers));
  const auto options = spawnpool::MapOptions{}.chunksize(chunk);

  std::vector<int> warm(2000);
  std::iota(warm.begin(), warm.end(), 0);
  (void)pool.map(options, noop, warm).get();

  std::vector<int> inputs(static_cast<std::size_t>(tasks));
  std::iota(inputs.begin(), inputs.end(), 0);
  const auto t0 = bench::Clock::now();
  const std::vector<int> results = pool.map(options, noop, inputs).get();
  const double elapsed = bench::seconds_since(t0);
  if (std::accumulate(results.begin(), results.end(), 0L) != tasks * (tasks - 1) / 2) std::abort();
  bench::Row("map_throughput", "spawnpool")
      .add("workers", pool.num_workers())
      .add("tasks", tasks)
      .add("chunk", chunk == 0 ? std::string("default") : std::to_string(chunk))
      .add("tasks_per_s", static_cast<double>(tasks) / elapsed, 0)
      .print();
  return 0;
}
