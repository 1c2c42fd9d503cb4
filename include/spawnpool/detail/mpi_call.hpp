#pragma once
// How spawnpool calls MPI. Every MPI call goes through SPAWNPOOL_MPI(...): a failure becomes
// spawnpool::MpiError carrying the routine's name, the error code and MPI's own error text.
// Communicators spawnpool creates get MPI_ERRORS_RETURN so that errors come back as codes instead
// of aborting the job. Bursts of MPI calls hold mpi_lock(), which matters only when the MPI gave
// less than MPI_THREAD_MULTIPLE. Shared by the engine (src/) and the launch layer (spawn/).

#include <spawnpool/errors.hpp>

#include <mpi.h>

#include <mutex>
#include <string>

namespace spawnpool::detail {

/// MPI's text for an error code ("unknown MPI error" if MPI has none). Does not throw beyond
/// std::bad_alloc. Thread-safe (at the thread level MPI was initialized with).
std::string mpi_error_text(int code);

/// Throws MpiError(routine, code, text) unless code == MPI_SUCCESS. Thread-safe.
inline void check_mpi(int code, const char* routine) {
  if (code != MPI_SUCCESS) throw MpiError(routine, code, mpi_error_text(code));
}

/// Serializes MPI calls between threads when the MPI gave less than MPI_THREAD_MULTIPLE; a no-op
/// lock otherwise. Hold it around each burst of MPI calls, never while sleeping. Does not throw
/// (beyond std::system_error from locking). Thread-safe: that is its purpose.
std::unique_lock<std::mutex> mpi_lock();

}  // namespace spawnpool::detail

/// Calls an MPI routine and throws MpiError when it fails: SPAWNPOOL_MPI(MPI_Send(...)).
#define SPAWNPOOL_MPI(call) ::spawnpool::detail::check_mpi((call), #call)
