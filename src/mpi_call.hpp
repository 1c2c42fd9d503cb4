#pragma once
// Every MPI call goes through SPAWNPOOL_MPI(...): a failure becomes spawnpool::MpiError carrying the
// routine's name, the error code and MPI's own error text. Communicators spawnpool creates get
// MPI_ERRORS_RETURN so that errors come back as codes instead of aborting the job.

#include <spawnpool/errors.hpp>

#include <mpi.h>

#include <string>

namespace spawnpool::detail {

/// MPI's text for an error code.
std::string mpi_error_text(int code);

/// Throws MpiError(routine, code, text) unless code == MPI_SUCCESS.
inline void check_mpi(int code, const char* routine) {
  if (code != MPI_SUCCESS) throw MpiError(routine, code, mpi_error_text(code));
}

}  // namespace spawnpool::detail

/// Calls an MPI routine and throws MpiError when it fails: SPAWNPOOL_MPI(MPI_Send(...)).
#define SPAWNPOOL_MPI(call) ::spawnpool::detail::check_mpi((call), #call)
