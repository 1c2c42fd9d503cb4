#pragma once
// Sends given up on, kept with the memory they send from until MPI says it is done with them.
//
// MPI_Cancel asks MPI to stop a send; it does not stop it. Until MPI completes the request
// (cancelled, or sent after all), MPI may still read the send's buffer. MPICH ch3 queues a send to
// a process whose connection is still being made with pointers into the buffer, and writes it once
// the connection is made, however much later: freeing the buffer at MPI_Cancel (as the transport
// did) made MPI send freed memory, and a worker received garbage ("message does not start with
// spawnpool's magic number"; ASan: heap-use-after-free in writev under MPI_Comm_spawn).
//
// So a send given up on is cancelled and kept here with whatever owns its memory, and that owner is
// released once MPI has completed every request of the send. A send MPI never completes (a peer MPI
// never declares gone) stays kept until the process ends: its memory is never freed under MPI.
// Thread-safe. Call these where the caller may make MPI calls (under mpi_lock() when it must).

#include <mpi.h>

#include <cstddef>
#include <memory>
#include <vector>

namespace spawnpool::detail {

/// Cancels the requests of one send that are not MPI_REQUEST_NULL and keeps `owner` (whatever owns
/// the memory they send from) alive until MPI has completed all of them. Never throws (when memory
/// runs out, `owner` is leaked rather than freed under MPI).
void abandon_send(std::vector<MPI_Request> requests, std::shared_ptr<const void> owner) noexcept;

/// Releases the owners of kept sends that MPI has completed since. Does nothing (and costs an
/// atomic load) when none is kept, when another thread is sweeping, or within 50 ms of the last
/// sweep; does nothing after MPI_Finalize. Returns how many sends are still kept. Never throws.
std::size_t sweep_abandoned_sends() noexcept;

}  // namespace spawnpool::detail
