#pragma once
// A pool service drops its client on every rank at once.
//
// Each rank watches the client on its own (serve_as_worker with ServeUntil::kClientLeaves): one
// that reads garbage from the client, or hears nothing from it, drops it. Without a word to the
// others, a client that sends garbage to one rank and heartbeats to the rest kept the others
// serving it, and the service served nobody else until that client left by itself. So the rank
// that drops a client tells every other rank, on the service's own copy of MPI_COMM_WORLD, and
// the others look for such a notice every 100 ms while they serve (set_client_dropped_elsewhere).
// A notice names the client by its number in the service's run, so a late one is ignored.

#include <mpi.h>

#include <deque>
#include <vector>

namespace spawnpool::detail {

class ClientDropNotice {
 public:
  /// Collective over MPI_COMM_WORLD (duplicates it).
  ClientDropNotice();
  /// Frees the communicator; notices nobody read are left to MPI.
  ~ClientDropNotice();
  ClientDropNotice(const ClientDropNotice&) = delete;
  ClientDropNotice& operator=(const ClientDropNotice&) = delete;

  /// Tells every other rank that this rank dropped client number `client`. Never blocks.
  void announce(int client);

  /// True when another rank dropped client number `client`; reads (and forgets) every notice
  /// waiting, older ones included. Never blocks.
  bool heard(int client);

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  std::deque<int> sent_;               // the notices' buffers, alive until their sends complete
  std::vector<MPI_Request> requests_;
};

}  // namespace spawnpool::detail
