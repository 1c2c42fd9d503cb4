// Spawn loop like a spawnpool executor suite: per round, spawn K single-process children one after
// the other from MPI_COMM_SELF (MPI_THREAD_MULTIPLE), one message each way, disconnect all.
// Open MPI 4.1.4 + PMIx 4.2.2 hangs in it intermittently when K > 1, in most runs with K = 4
// (tests/openmpi/FINDINGS.md). Build and run:
//   mpicc.openmpi spawn_loop.c -o spawn_loop && timeout 60 ./spawn_loop ROUNDS K [PAUSE_MS]
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char** argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm parent;
  MPI_Comm_get_parent(&parent);
  if (parent != MPI_COMM_NULL) {
    int x;
    MPI_Recv(&x, 1, MPI_INT, 0, 0, parent, MPI_STATUS_IGNORE);
    MPI_Send(&x, 1, MPI_INT, 0, 0, parent);
    MPI_Comm_disconnect(&parent);
    MPI_Finalize();
    return 0;
  }
  int rounds = atoi(argv[1]), k = atoi(argv[2]);
  int n = 0;
  double t0 = now();
  for (int r = 0; r < rounds; ++r) {
    MPI_Comm c[16];
    for (int i = 0; i < k; ++i) {
      double t = now();
      MPI_Info info; MPI_Info_create(&info); MPI_Info_set(info, "map_by", ":OVERSUBSCRIBE");
      MPI_Comm_spawn(argv[0], MPI_ARGV_NULL, 1, info, 0, MPI_COMM_SELF, &c[i], MPI_ERRCODES_IGNORE);
      MPI_Info_free(&info); printf("spawn %d ok %.2fs\n", ++n, now() - t); fflush(stdout);
    }
    for (int i = 0; i < k; ++i) { int x = i; MPI_Send(&x, 1, MPI_INT, 0, 0, c[i]); MPI_Recv(&x, 1, MPI_INT, 0, 0, c[i], MPI_STATUS_IGNORE); }
    for (int i = 0; i < k; ++i) MPI_Comm_disconnect(&c[i]);
    if (argc > 3) { struct timespec d = {atoi(argv[3]) / 1000, (atoi(argv[3]) % 1000) * 1000000L}; nanosleep(&d, NULL); }
  }
  printf("done %d spawns in %.1fs\n", n, now() - t0);
  MPI_Finalize();
  return 0;
}
