// map_throughput: chunked map throughput — `pool.map(noop, inputs).get()` over N trivial tasks with
// the library's default chunk size (or a given one). Reports tasks/s from the map call to the last
// result, and the manager's peak resident memory.
//   ./build/bench/map_throughput [workers=2] [tasks=1000000] [chunksize=0 (library default)] [mode]
// mode `map` (default): the inputs are a std::vector<int>. mode `batch`: submit_batch over a
// generator making the inputs one at a time (nothing holds them all), results summed as they come.
// Prints `row name=map_throughput impl=spawnpool workers=W tasks=N tasks_per_s=... max_rss_mib=...`
// (name=batch_throughput in batch mode). mode `unordered`: map_unordered over the same vector,
// results summed as they come (name=unordered_throughput).
#include "bench_util.hpp"

#include <spawnpool/spawnpool.hpp>

#include <sys/resource.h>

#include <cstdlib>
#include <cstring>
#include <numeric>
#include <optional>

int noop(int x) { return x; }
SPAWNPOOL_TASK(noop);

namespace {

double max_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  const int workers = argc > 1 ? std::atoi(argv[1]) : 2;
  const long tasks = argc > 2 ? std::atol(argv[2]) : 1000000;
  const std::size_t chunk = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 0;
  const bool batch = argc > 4 && std::strcmp(argv[4], "batch") == 0;
  const bool unordered = argc > 4 && std::strcmp(argv[4], "unordered") == 0;
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(workers));
  const auto options = spawnpool::MapOptions{}.chunksize(chunk);

  std::vector<int> warm(2000);
  std::iota(warm.begin(), warm.end(), 0);
  (void)pool.map(options, noop, warm).get();

  long sum = 0;
  double elapsed = 0;
  if (batch) {
    long next = 0;
    auto inputs = [&]() -> std::optional<int> {
      if (next == tasks) return std::nullopt;
      return static_cast<int>(next++);
    };
    const auto t0 = bench::Clock::now();
    for (auto [index, x] : pool.submit_batch(options, noop, inputs)) {
      (void)index;
      sum += x;
    }
    elapsed = bench::seconds_since(t0);
  } else if (unordered) {
    std::vector<int> inputs(static_cast<std::size_t>(tasks));
    std::iota(inputs.begin(), inputs.end(), 0);
    const auto t0 = bench::Clock::now();
    for (auto [index, x] : pool.map_unordered(options, noop, inputs)) {
      (void)index;
      sum += x;
    }
    elapsed = bench::seconds_since(t0);
  } else {
    std::vector<int> inputs(static_cast<std::size_t>(tasks));
    std::iota(inputs.begin(), inputs.end(), 0);
    const auto t0 = bench::Clock::now();
    const std::vector<int> results = pool.map(options, noop, inputs).get();
    elapsed = bench::seconds_since(t0);
    sum = std::accumulate(results.begin(), results.end(), 0L);
  }
  if (sum != tasks * (tasks - 1) / 2) std::abort();
  bench::Row(batch ? "batch_throughput" : unordered ? "unordered_throughput" : "map_throughput",
             "spawnpool")
      .add("workers", pool.num_workers())
      .add("tasks", tasks)
      .add("chunk", chunk == 0 ? std::string("default") : std::to_string(chunk))
      .add("tasks_per_s", static_cast<double>(tasks) / elapsed, 0)
      .add("max_rss_mib", max_rss_mib(), 1)
      .print();
  return 0;
}
