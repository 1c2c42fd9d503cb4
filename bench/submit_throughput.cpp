// submit_throughput: unchunked submit throughput — N trivial tasks submitted one by one with
// `pool.submit(noop, i)` (no map, no chunking by the user), then all results collected.
// Reports tasks/s from the first submit to the last result. The library may still pack queued
// single calls into one message (Options::max_batch); pass max_batch=1 to forbid that.
//   ./build/bench/submit_throughput [workers=1] [tasks=200000] [max_batch=library default]
// Prints `row name=submit_throughput impl=spawnpool workers=W tasks=N tasks_per_s=...`.
#include "bench_util.hpp"

#include <spawnpool/spawnpool.hpp>

#include <cstdlib>

int noop(int x) { return x; }
SPAWNPOOL_TASK(noop);

namespace {

double run(spawnpool::Executor& pool, long tasks) {
  std::vector<spawnpool::Future<int>> futures;
  futures.reserve(static_cast<std::size_t>(tasks));
  const auto t0 = bench::Clock::now();
  for (long i = 0; i < tasks; ++i) futures.push_back(pool.submit(noop, static_cast<int>(i)));
  long checksum = 0;
  for (auto& f : futures) checksum += f.get();
  const double elapsed = bench::seconds_since(t0);
  if (checksum != tasks * (tasks - 1) / 2) std::abort();
  return elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  const int workers = argc > 1 ? std::atoi(argv[1]) : 1;
  const long tasks = argc > 2 ? std::atol(argv[2]) : 200000;
  const int max_batch = argc > 3 ? std::atoi(argv[3]) : 0;
  spawnpool::Options options = spawnpool::Options{}.max_workers(workers);
  if (max_batch > 0) options.max_batch(max_batch);
  spawnpool::Executor pool(options);
  run(pool, std::min(tasks, 2000L));  // warm-up
  const double elapsed = run(pool, tasks);
  bench::Row row("submit_throughput", "spawnpool");
  row.add("workers", pool.num_workers())
      .add("tasks", tasks)
      .add("tasks_per_s", static_cast<double>(tasks) / elapsed, 0);
  if (max_batch > 0) row.add("max_batch", max_batch);
  row.print();
  return 0;
}
