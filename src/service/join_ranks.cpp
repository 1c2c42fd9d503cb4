#include "join_ranks.hpp"

#include <spawnpool/detail/wire_format.hpp>

namespace spawnpool::detail {

namespace {

/// The tag of MPI_Intercomm_create's leader exchange, on the merged 2-process communicator.
constexpr int kJoinTag = wire::kAdmissionTag;

}  // namespace

JoinedClient join_service_ranks(MPI_Comm admitted, bool others_wait_in_join) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm pair = MPI_COMM_NULL;
  if (rank == 0 && MPI_Intercomm_merge(admitted, 0, &pair) == MPI_SUCCESS) {
    MPI_Comm_set_errhandler(pair, MPI_ERRORS_RETURN);
  }
  int have_pair = rank == 0 ? (pair != MPI_COMM_NULL ? 1 : 0) : 0;
  // Rank 0 says whether it has the pair, so that no rank enters MPI_Intercomm_create alone
  // (unless the others are in it already, waiting for rank 0).
  if (!others_wait_in_join && MPI_Bcast(&have_pair, 1, MPI_INT, 0, MPI_COMM_WORLD) != MPI_SUCCESS) {
    have_pair = 0;
  }
  JoinedClient joined;
  joined.others_wait_in_join = others_wait_in_join && !have_pair;  // still waiting for a client
  if (have_pair &&
      MPI_Intercomm_create(MPI_COMM_WORLD, 0, pair, 1, kJoinTag, &joined.client) != MPI_SUCCESS) {
    joined.client = MPI_COMM_NULL;
    joined.others_wait_in_join = rank == 0 && size > 1;
  }
  if (joined.client != MPI_COMM_NULL) MPI_Comm_set_errhandler(joined.client, MPI_ERRORS_RETURN);
  if (pair != MPI_COMM_NULL) MPI_Comm_free(&pair);
  return joined;
}

MPI_Comm join_client_to_service(MPI_Comm admitted) {
  MPI_Comm pair = MPI_COMM_NULL, service = MPI_COMM_NULL;
  if (MPI_Intercomm_merge(admitted, 1, &pair) != MPI_SUCCESS) return MPI_COMM_NULL;
  MPI_Comm_set_errhandler(pair, MPI_ERRORS_RETURN);
  if (MPI_Intercomm_create(MPI_COMM_SELF, 0, pair, 0, kJoinTag, &service) != MPI_SUCCESS) {
    service = MPI_COMM_NULL;
  }
  MPI_Comm_free(&pair);
  if (service != MPI_COMM_NULL) {
    MPI_Comm_set_errhandler(service, MPI_ERRORS_RETURN);
    MPI_Comm_disconnect(&admitted);
  }
  return service;
}

}  // namespace spawnpool::detail
