#pragma once
// A failure's reason in one line, for log lines that say why a process gives up.
//
// MPICH's error messages are error stacks: "Unknown error class, error stack:" and then one line
// per layer, the last naming the cause ("MPIDI_CH3_iSendv(28)....: Communication error with rank
// 0"). Quoted whole in a warning they make five lines of MPI internals per worker. A warning
// gives the one line; the whole text goes to the debug level (SPAWNPOOL_LOG=debug).

#include <exception>
#include <string>

namespace spawnpool::detail {

/// One line saying why `e` happened: for an MpiError "<routine> failed: <cause>", the cause being
/// the last line of MPICH's error stack without its "function(line)....: " prefix (a message
/// without a stack, Open MPI's, is kept; "MPI_Isend failed: Communication error with rank 0");
/// for any other exception its what() up to the first line break. Never throws (gives "" if it
/// cannot allocate); thread-safe.
std::string one_line_reason(const std::exception& e) noexcept;

/// The same for an MPI error message alone (MpiError::mpi_message()): its last meaningful line.
std::string one_line_mpi_message(const std::string& mpi_message);

}  // namespace spawnpool::detail
