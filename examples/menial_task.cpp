// menial_task: seed 002's mpipool example: submit 100 small tasks, keep their futures, then print
// every result. Each task returns x raised to the power of the rank of the worker that ran it, so the
// output also shows how the tasks were spread over the workers.
//
//   ./build/examples/menial_task
#include <spawnpool/spawnpool.hpp>

#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <vector>

double menial_task(int x) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);  // the worker's rank among the spawned workers
  return std::pow(x, rank);
}
SPAWNPOOL_TASK(menial_task);

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  spawnpool::Executor pool;

  // Submit all the tasks and store their futures...
  std::vector<spawnpool::Future<double>> futures;
  for (int i = 0; i < 100; ++i) futures.push_back(pool.submit(menial_task, i));

  // ...then wait for each result, in order.
  std::printf("[");
  for (std::size_t i = 0; i < futures.size(); ++i) {
    std::printf("%s%g", i ? ", " : "", futures[i].get());
  }
  std::printf("]\n");
  std::printf("100 tasks on %d workers\n", pool.num_workers());
  return 0;
}
