// A hostile client of the pool service, in plain MPI (service_test.sh). Run it under mpiexec -n 1
// (a singleton would start the mpiexec on PATH).
//   raw_service_client PORT
//     connects, sends garbage on the first session's tag to every service rank instead of a
//     token, and prints the service's admission answer ("refused: 0"), which must come within a
//     few seconds, then leaves without disconnecting.
//   raw_service_client PORT TOKEN_FILE
//     presents the right token ("admitted: 1"), then misbehaves: sends garbage on a tag no session
//     uses and an unknown message kind to every rank, and then nothing at all (no hello, no
//     heartbeats) for 60 s. The service must drop it after its client timeout and serve the next
//     client meanwhile.
#include <spawnpool/detail/wire_format.hpp>

#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

namespace {

/// Waits (20 s at most) for the service's admission answer; -1 without one.
int admission_answer(MPI_Comm service) {
  int answer = -1;
  MPI_Request reply = MPI_REQUEST_NULL;
  MPI_Irecv(&answer, 1, MPI_INT, 0, spawnpool::detail::wire::kAdmissionTag, service, &reply);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int done = 0;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    MPI_Test(&reply, &done, MPI_STATUS_IGNORE);
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done ? answer : -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT [TOKEN_FILE]\n", argv[0]);
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
  if (argc > 2) {
    std::ifstream token_file(argv[2]);
    std::string token;
    std::getline(token_file, token);
    MPI_Send(token.data(), static_cast<int>(token.size()), MPI_CHAR, 0,
             spawnpool::detail::wire::kAdmissionTag, service);
    const int answer = admission_answer(service);
    std::printf("admitted: %d\n", answer);
    std::fflush(stdout);
    if (answer != 1) _exit(1);
    // A header of an unknown kind, in this build's protocol version.
    char header[spawnpool::detail::wire::kHeaderSize] = {};
    for (int r = 0; r < ranks; ++r) {
      MPI_Send(garbage, sizeof garbage, MPI_CHAR, r, 12345, service);
      MPI_Send(header, sizeof header, MPI_CHAR, r, spawnpool::detail::wire::session_tag(0), service);
    }
    std::this_thread::sleep_for(std::chrono::seconds(60));
    _exit(0);
  }
  for (int r = 0; r < ranks; ++r) {
    MPI_Send(garbage, sizeof garbage, MPI_CHAR, r, spawnpool::detail::wire::session_tag(0), service);
  }
  const int answer = admission_answer(service);
  if (answer < 0) {
    std::printf("no answer within 20 s\n");
    std::fflush(stdout);
    _exit(1);
  }
  std::printf("refused: %d\n", answer);
  std::fflush(stdout);
  _exit(answer == 0 ? 0 : 1);  // hostile to the end: no disconnect, no MPI_Finalize
}
