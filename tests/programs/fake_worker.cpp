// A worker program from "another build": it answers the manager's first message (the hello) with a
// ready message whose header carries protocol version 99, as a spawnpool of another protocol version
// would. Then it leaves cleanly. Used by test_worker_program (ProtocolMismatch).
//   fake_worker [pid file]   writes its pid to the file first, so the test can check it exits.
#include <spawnpool/detail/wire_format.hpp>

#include <mpi.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

namespace wire = spawnpool::detail::wire;

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm parent = MPI_COMM_NULL;
  MPI_Comm_get_parent(&parent);
  if (parent == MPI_COMM_NULL) {
    std::fprintf(stderr, "fake_worker: not spawned; nothing to do\n");
    MPI_Finalize();
    return 2;
  }
  if (argc > 1) {
    if (std::FILE* f = std::fopen(argv[1], "w")) {
      std::fprintf(f, "%ld\n", static_cast<long>(getpid()));
      std::fclose(f);
    }
  }
  // The manager's first message, whatever its tag and size (poll gently, as spawnpool does).
  int flag = 0;
  MPI_Status status;
  for (int waited_ms = 0; !flag && waited_ms < 60000; waited_ms += 1) {
    MPI_Iprobe(0, MPI_ANY_TAG, parent, &flag, &status);
    if (!flag) usleep(1000);
  }
  if (flag) {
    int size = 0;
    MPI_Get_count(&status, MPI_BYTE, &size);
    std::vector<char> hello(static_cast<std::size_t>(size));
    MPI_Recv(hello.data(), size, MPI_BYTE, 0, status.MPI_TAG, parent, MPI_STATUS_IGNORE);
    wire::Header reply;
    reply.version = 99;
    reply.kind = static_cast<std::uint16_t>(wire::Kind::kReady);
    MPI_Send(&reply, static_cast<int>(sizeof reply), MPI_BYTE, 0, status.MPI_TAG, parent);
  } else {
    std::fprintf(stderr, "fake_worker: no message from the manager in 60 s\n");
  }
  MPI_Comm_free(&parent);
  MPI_Finalize();
  return 0;
}
