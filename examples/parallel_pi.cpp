// parallel_pi: tasks that are MPI programs of their own. Each task estimates pi by Monte-Carlo on
// k ranks: every rank throws its share of darts, MPI_Reduce adds the hits on the task's rank 0,
// which returns the estimate. Several such tasks (one per seed) run side by side on groups of k
// processes, beside ordinary one-process tasks in the same pool. A last task returns every rank's
// own hit count (submit_all_ranks), to show how the work was split.
//
//   ./build/examples/parallel_pi [ranks per task, default 2] [darts per task, default 4000000]
#include <spawnpool/spawnpool.hpp>

#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

/// Hits of `darts` darts in the quarter circle, drawn from `seed`.
long count_hits(long darts, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  long hits = 0;
  for (long i = 0; i < darts; ++i) {
    const double x = unit(random);
    const double y = unit(random);
    if (x * x + y * y <= 1.0) ++hits;
  }
  return hits;
}

/// This rank's share of the darts: the first ranks take one more when they do not divide evenly.
long share_of(long darts, const spawnpool::TaskComm& comm) {
  return darts / comm.size() + (comm.rank() < darts % comm.size() ? 1 : 0);
}

/// Pi from `darts` darts spread over the task's ranks (the estimate on rank 0; 0 elsewhere).
double estimate_pi(spawnpool::TaskComm comm, long darts, std::uint64_t seed) {
  const long mine = count_hits(share_of(darts, comm), seed * 1000 + static_cast<std::uint64_t>(comm.rank()));
  long total = 0;
  MPI_Reduce(&mine, &total, 1, MPI_LONG, MPI_SUM, 0, comm.mpi());
  return comm.rank() == 0 ? 4.0 * static_cast<double>(total) / static_cast<double>(darts) : 0.0;
}
SPAWNPOOL_TASK(estimate_pi);

/// Every rank's own hits (for submit_all_ranks).
long hits_of_rank(spawnpool::TaskComm comm, long darts, std::uint64_t seed) {
  return count_hits(share_of(darts, comm), seed * 1000 + static_cast<std::uint64_t>(comm.rank()));
}
SPAWNPOOL_TASK(hits_of_rank);

/// An ordinary task, on one worker.
double serial_pi(long darts, std::uint64_t seed) {
  return 4.0 * static_cast<double>(count_hits(darts, seed)) / static_cast<double>(darts);
}
SPAWNPOOL_TASK(serial_pi);

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);  // workers and group members serve inside it
  const int ranks = argc > 1 ? std::atoi(argv[1]) : 2;
  const long darts = argc > 2 ? std::atol(argv[2]) : 4000000;

  // Two groups of `ranks` processes for the k-rank tasks, two workers for the ordinary ones.
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(2).rank_groups(2));
  const auto on_ranks = spawnpool::TaskOptions{}.ranks(ranks);

  std::vector<spawnpool::Future<double>> parallel;
  std::vector<spawnpool::Future<double>> serial;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    parallel.push_back(pool.submit(on_ranks, estimate_pi, darts, seed));
    serial.push_back(pool.submit(serial_pi, darts / 4, seed));
  }
  for (std::size_t i = 0; i < parallel.size(); ++i) {
    std::printf("seed %zu: pi ~ %.6f on %d ranks, %.6f on one worker with a quarter of the darts\n",
                i + 1, parallel[i].get(), ranks, serial[i].get());
  }

  const std::vector<long> hits = pool.submit_all_ranks(on_ranks, hits_of_rank, darts, 7).get();
  long total = 0;
  for (std::size_t rank = 0; rank < hits.size(); ++rank) {
    std::printf("rank %zu hit %ld times\n", rank, hits[rank]);
    total += hits[rank];
  }
  std::printf("all %zu ranks: pi ~ %.6f\n", hits.size(),
              4.0 * static_cast<double>(total) / static_cast<double>(darts));
  return 0;
}
