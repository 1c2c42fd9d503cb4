#include "client_drop_notice.hpp"

namespace spawnpool::detail {

namespace {
constexpr int kNoticeTag = 1;
}  // namespace

ClientDropNotice::ClientDropNotice() {
  MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

ClientDropNotice::~ClientDropNotice() {
  for (MPI_Request& request : requests_) {
    if (request != MPI_REQUEST_NULL) MPI_Request_free(&request);
  }
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void ClientDropNotice::announce(int client) {
  sent_.push_back(client);
  for (int other = 0; other < size_; ++other) {
    if (other == rank_) continue;
    MPI_Request request = MPI_REQUEST_NULL;
    if (MPI_Isend(&sent_.back(), 1, MPI_INT, other, kNoticeTag, comm_, &request) == MPI_SUCCESS) {
      requests_.push_back(request);
    }
  }
}

bool ClientDropNotice::heard(int client) {
  bool dropped = false;
  for (;;) {
    int waiting = 0;
    MPI_Status status{};
    if (MPI_Iprobe(MPI_ANY_SOURCE, kNoticeTag, comm_, &waiting, &status) != MPI_SUCCESS || !waiting) {
      break;
    }
    int dropped_client = -1;
    MPI_Recv(&dropped_client, 1, MPI_INT, status.MPI_SOURCE, kNoticeTag, comm_, MPI_STATUS_IGNORE);
    dropped = dropped || dropped_client == client;
  }
  return dropped;
}

}  // namespace spawnpool::detail
