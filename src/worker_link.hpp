#pragma once
// One communicator the manager talks to workers over, with its transport: a spawned worker's own
// intercommunicator, a pool service's connection, or (not owned) the communicator a static or
// communicator-mode pool shares with its workers. The link closes itself, in one of two ways.
// Not thread-safe: used by whoever polls the pool (the progress thread or a driving waiter).

#include "transport.hpp"

#include <mpi.h>

#include <memory>

namespace spawnpool::detail {

class WorkerLink {
 public:
  enum class Ownership {
    kShared,   // a communicator the pool does not own: never freed here
    kOwned,    // disconnected or freed when the link closes
    kWatched,  // owned, and a spawned worker's: heartbeats, loss reports, process checks
  };

  WorkerLink(MPI_Comm comm, Ownership ownership);
  /// Makes no MPI call: MPI may be finalized by now, or another thread may hold the MPI lock.
  /// An owned link not closed by then (a broken executor) is left to MPI_Finalize.
  ~WorkerLink() = default;
  WorkerLink(const WorkerLink&) = delete;
  WorkerLink& operator=(const WorkerLink&) = delete;

  Transport& transport() noexcept { return *transport_; }
  MPI_Comm comm() const noexcept { return comm_; }
  bool owned() const noexcept { return ownership_ != Ownership::kShared; }
  /// A spawned worker's link: control tag, heartbeats, loss reports.
  bool watched() const noexcept { return ownership_ == Ownership::kWatched; }

  /// Best effort, never throws: tells worker `rank` to leave (kShutdown on `tag`) and pushes the
  /// message on its way. A worker that is gone or not greeted yet is not an error.
  void dismiss(int rank, int tag) noexcept;

  enum class Ending {
    kClean,    // the workers said goodbye: finish our sends (5 s at most), then disconnect
    kAbandon,  // a worker is lost or never answered: cancel our sends, free the communicator
  };
  /// Ends an owned link; does nothing to a shared communicator. Idempotent.
  /// @throws MpiError when MPI_Comm_disconnect fails (kClean)
  void close(Ending ending);

 private:
  MPI_Comm comm_;
  Ownership ownership_;
  std::unique_ptr<Transport> transport_;
  bool closed_ = false;
};

}  // namespace spawnpool::detail
