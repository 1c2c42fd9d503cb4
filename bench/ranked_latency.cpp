// ranked_latency: k-rank tasks (issue 17). Two numbers, spawn mode, one group of k processes:
//   group_start_ms  the first k-rank submit on a running pool to its result: the MPI_Comm_spawn of
//                   the group (maxprocs = k) and the first task on it;
//   median_us/p99_us the round trip of a trivial k-rank task once the group runs: every rank adds
//                   rank + 1 with MPI_Reduce to rank 0, which returns the sum plus the argument.
//   ./build/bench/ranked_latency [ranks, default 2] [iterations, default 2000]
// Prints `row name=ranked_latency impl=spawnpool ranks=k group_start_ms=... median_us=... p99_us=...`.
// The raw-MPI counterpart is `mpiexec -n 1 raw_mpi ranked spawn <k> <iterations>`.
#include "bench_util.hpp"

#include <spawnpool/spawnpool.hpp>

#include <mpi.h>

#include <cstdlib>

/// Trivial k-rank task: the sum of rank + 1 over the ranks, reduced to rank 0, plus `x`.
int reduce_ranks(spawnpool::TaskComm comm, int x) {
  const int mine = comm.rank() + 1;
  int sum = 0;
  MPI_Reduce(&mine, &sum, 1, MPI_INT, MPI_SUM, 0, comm.mpi());
  return sum + x;
}
SPAWNPOOL_TASK(reduce_ranks);

int noop(int x) { return x; }
SPAWNPOOL_TASK(noop);

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  const int ranks = argc > 1 ? std::atoi(argv[1]) : 2;
  const long iterations = argc > 2 ? std::atol(argv[2]) : 2000;
  const int expected = ranks * (ranks + 1) / 2;

  spawnpool::Executor pool(spawnpool::Options{}.max_workers(1).rank_groups(1));
  (void)pool.submit(noop, 0).get();  // the ordinary worker runs: measure the group alone
  const auto options = spawnpool::TaskOptions{}.ranks(ranks);
  const auto started = bench::Clock::now();
  if (pool.submit(options, reduce_ranks, 0).get() != expected) std::abort();
  const double group_start_ms = bench::seconds_since(started) * 1e3;

  for (int i = 0; i < 200; ++i) (void)pool.submit(options, reduce_ranks, i).get();  // warm-up
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(iterations));
  for (long i = 0; i < iterations; ++i) {
    const auto t0 = bench::Clock::now();
    const int y = pool.submit(options, reduce_ranks, static_cast<int>(i)).get();
    samples.push_back(bench::micros_between(t0, bench::Clock::now()));
    if (y != expected + static_cast<int>(i)) std::abort();
  }
  bench::Row("ranked_latency", "spawnpool")
      .add("ranks", ranks)
      .add("group_start_ms", group_start_ms, 1)
      .add("median_us", bench::quantile(samples, 0.5))
      .add("p99_us", bench::quantile(samples, 0.99))
      .add("iterations", iterations)
      .print();
  return 0;
}
