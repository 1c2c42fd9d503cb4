// A plain MPI program that knows nothing of spawnpool, run as a task by test_mpi_program:
//   plain_mpi_program <exit code> [sleep]
// MPI_Init, MPI_Allreduce of 1 over MPI_COMM_WORLD, prints "rank R of S sum N pid P" on stdout and
// "stderr of rank R" on stderr, then (with "sleep") sleeps for ever, else MPI_Finalize and exits
// with <exit code>.
#include <mpi.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 0, one = 1, sum = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  std::printf("rank %d of %d sum %d pid %ld\n", rank, size, sum, static_cast<long>(getpid()));
  std::fflush(stdout);
  std::fprintf(stderr, "stderr of rank %d\n", rank);
  if (argc > 2 && std::strcmp(argv[2], "sleep") == 0) {
    for (;;) pause();
  }
  MPI_Finalize();
  return argc > 1 ? std::atoi(argv[1]) : 0;
}
