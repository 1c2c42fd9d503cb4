// A hostile client of the pool service, in plain MPI: connects to the port given as argv[1], sends
// garbage on the first session's tag to every service rank instead of a token, and prints the
// service's admission answer ("refused: 0"), which must come within a few seconds, and leaves
// without disconnecting (service_test.sh). Run it under mpiexec -n 1 (a singleton would start the
// mpiexec on PATH).
#include <spawnpool/detail/wire_format.hpp>

#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  MPI_Init(&argc, &argv);
  MPI_Comm service = MPI_COMM_NULL;
  MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
  if (MPI_Comm_connect(argv[1], MPI_INFO_NULL, 0, MPI_COMM_SELF, &service) != MPI_SUCCESS) {
    std::fprintf(stderr, "raw_service_client: cannot connect\n");
    return 1;
  }
  MPI_Comm_set_errhandler(service, MPI_ERRORS_RETURN);
  int ranks = 0;
  MPI_Comm_remote_size(service, &ranks);
  const char garbage[] = "GET / HTTP/1.0\r\n\r\n";
  for (int r = 0; r < ranks; ++r) {
    MPI_Send(garbage, sizeof garbage, MPI_CHAR, r, spawnpool::detail::wire::session_tag(0), service);
  }
  int answer = -1;
  MPI_Request reply = MPI_REQUEST_NULL;
  MPI_Irecv(&answer, 1, MPI_INT, 0, spawnpool::detail::wire::kAdmissionTag, service, &reply);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int done = 0;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    MPI_Test(&reply, &done, MPI_STATUS_IGNORE);
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!done) {
    std::printf("no answer within 20 s\n");
    std::fflush(stdout);
    _exit(1);
  }
  std::printf("refused: %d\n", answer);
  std::fflush(stdout);
  _exit(answer == 0 ? 0 : 1);  // hostile to the end: no disconnect, no MPI_Finalize
}
