#include "join_ranks.hpp"

#include <spawnpool/detail/mpi_call.hpp>
#include <spawnpool/detail/wire_format.hpp>

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

namespace spawnpool::detail {

namespace {

/// The tag of MPI_Intercomm_create's leader exchange, on the merged 2-process communicator.
constexpr int kJoinTag = wire::kAdmissionTag;
/// A rank's word to rank 0 that its MPI_Intercomm_create failed (the turn's number), on
/// RankJoin's own communicator.
constexpr int kJoinFailedTag = 1;

}  // namespace

RankJoin::RankJoin(std::chrono::milliseconds join_limit) {
  SPAWNPOOL_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &reports_));
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) deadline_ = std::make_unique<JoinDeadline>(join_limit);
}

RankJoin::~RankJoin() {
  if (reports_ != MPI_COMM_NULL) MPI_Comm_free(&reports_);
}

MPI_Comm RankJoin::join(MPI_Comm admitted, ClientConnection connection, int turn) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (deadline_) deadline_->arm(std::move(connection));
  MPI_Comm pair = MPI_COMM_NULL;
  if (rank == 0 && MPI_Intercomm_merge(admitted, 0, &pair) == MPI_SUCCESS) {
    MPI_Comm_set_errhandler(pair, MPI_ERRORS_RETURN);
  }
  // Rank 0 says whether it has the pair, so that no rank enters MPI_Intercomm_create alone.
  int have_pair = rank == 0 ? (pair != MPI_COMM_NULL ? 1 : 0) : 0;
  MPI_Comm client = MPI_COMM_NULL;
  const bool create_failed =
      MPI_Bcast(&have_pair, 1, MPI_INT, 0, MPI_COMM_WORLD) == MPI_SUCCESS && have_pair &&
      MPI_Intercomm_create(MPI_COMM_WORLD, 0, pair, 1, kJoinTag, &client) != MPI_SUCCESS;
  // Rank 0's calls with the client are over; what follows is bounded by its own clock, and the
  // other ranks' reports below may open new connections to rank 0 that no cut must touch.
  if (deadline_) deadline_->disarm();
  if (create_failed) {
    client = MPI_COMM_NULL;
    if (rank != 0) {
      MPI_Send(&turn, 1, MPI_INT, 0, kJoinFailedTag, reports_);  // eager: one int
    } else if (size > 1) {
      int reports = failure_reports(turn);
      if (reports == 0) {
        // The others wait inside the call (see the class comment): a broadcast longer than any
        // they may wait for makes theirs fail.
        int too_long[4] = {-1, -1, -1, -1};
        MPI_Bcast(too_long, 4, MPI_INT, 0, MPI_COMM_WORLD);
        reports = failure_reports(turn);
      }
      if (reports != size - 1) {
        std::fprintf(stderr, "spawnpool service: a client died while the ranks joined it, and "
                             "%d of the %d other ranks are still in MPI_Intercomm_create while "
                             "the rest failed it; MPI cannot call it off: the service ends\n",
                     size - 1 - reports, size - 1);
        std::fflush(nullptr);
        MPI_Abort(MPI_COMM_WORLD, 1);
      }
    }
  }
  if (client != MPI_COMM_NULL) MPI_Comm_set_errhandler(client, MPI_ERRORS_RETURN);
  if (pair != MPI_COMM_NULL) MPI_Comm_free(&pair);
  return client;
}

int RankJoin::failure_reports(int turn) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::set<int> failed;
  const auto give_up = std::chrono::steady_clock::now() + kJoinReportWait;
  while (static_cast<int>(failed.size()) < size - 1 && std::chrono::steady_clock::now() < give_up) {
    int waiting = 0;
    MPI_Status status{};
    MPI_Iprobe(MPI_ANY_SOURCE, kJoinFailedTag, reports_, &waiting, &status);
    if (!waiting) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    int reported_turn = -1;
    MPI_Recv(&reported_turn, 1, MPI_INT, status.MPI_SOURCE, kJoinFailedTag, reports_,
             MPI_STATUS_IGNORE);
    if (reported_turn == turn) failed.insert(status.MPI_SOURCE);
  }
  return static_cast<int>(failed.size());
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
