// A plain MPI program that knows nothing of spawnpool, run as a task by test_mpi_program:
//   plain_mpi_program <exit code> [sleep | crash-last | abort-last]
// MPI_Init, MPI_Allreduce of 1 over MPI_COMM_WORLD, prints "rank R of S sum N pid P" on stdout and
// "stderr of rank R" on stderr, then with "sleep" sleeps for ever; with "crash-last" the last rank
// kills itself (SIGKILL), with "abort-last" it calls MPI_Abort(MPI_COMM_WORLD, 5), while the others
// wait in MPI_Barrier; else MPI_Finalize and exits with
// <exit code>.
#include <mpi.h>

#include <signal.h>
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
  const bool crash = argc > 2 && std::strcmp(argv[2], "crash-last") == 0;
  const bool abort = argc > 2 && std::strcmp(argv[2], "abort-last") == 0;
  if (crash || abort) {
    MPI_Barrier(MPI_COMM_WORLD);  // every rank has printed before the last one fails
    if (rank == size - 1 && crash) raise(SIGKILL);
    if (rank == size - 1 && abort) MPI_Abort(MPI_COMM_WORLD, 5);
    MPI_Barrier(MPI_COMM_WORLD);
  }
  MPI_Finalize();
  return argc > 1 ? std::atoi(argv[1]) : 0;
}
