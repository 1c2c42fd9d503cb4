#pragma once
// One communicator the manager talks to workers over, with its transport: a spawned worker's own
// intercommunicator, a pool service's connection, or (not owned) the communicator a static or
// communicator-mode pool shares with its workers. The link closes itself, in one of two ways.
// Not thread-safe: used by whoever polls the pool (the progress thread or a driving waiter).

#include "transport.hpp"
#include "spawn/start_watch.hpp"

#include <mpi.h>

#include <memory>
#include <optional>
#include <string>

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

  /// A spawned worker's start watch (start_watch.hpp; null: none), kept from its spawn until it
  /// has answered the greeting, so that a worker that ends after MPI_Init, before its answer (killed,
  /// or its set-up crashed without a report) fails its start at once, not at the spawn timeout.
  void keep_start_watch(std::unique_ptr<StartWatch> watch) noexcept { start_watch_ = std::move(watch); }
  /// While the start watch is kept: the report of a worker of this link that has ended ("'prog'
  /// was killed by signal 9 (SIGKILL)"); the directory is read at most every 50 ms. Else nothing.
  std::optional<std::string> ended_while_starting() {
    return start_watch_ ? start_watch_->ended_worker() : std::nullopt;
  }
  /// The worker has answered: its end is now for heartbeats and loss reports to tell. Drops the
  /// start watch and its report directory.
  void end_start_watch() noexcept { start_watch_.reset(); }

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
  std::unique_ptr<StartWatch> start_watch_;
};

}  // namespace spawnpool::detail
