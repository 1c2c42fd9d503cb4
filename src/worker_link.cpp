#include "worker_link.hpp"

#include "control_messages.hpp"
#include <spawnpool/detail/mpi_call.hpp>

#include <chrono>

namespace spawnpool::detail {

WorkerLink::WorkerLink(MPI_Comm comm, Ownership ownership)
    : comm_(comm), ownership_(ownership), transport_(std::make_unique<Transport>(comm)) {}

void WorkerLink::dismiss(int rank, int tag) noexcept {
  try {
    send_signal(*transport_, rank, tag, wire::Kind::kShutdown);
    transport_->progress_sends();
  } catch (...) {
  }
}

void WorkerLink::close(Ending ending) {
  if (closed_) return;
  closed_ = true;
  if (!owned()) return;
  if (ending == Ending::kClean) {
    // Bye was the workers' last message: completing our sends needs nothing more from them.
    transport_->flush_sends(std::chrono::seconds(5));
    SPAWNPOOL_MPI(MPI_Comm_disconnect(&comm_));
  } else {
    transport_->abandon_sends();
    MPI_Comm_free(&comm_);
  }
}

}  // namespace spawnpool::detail
