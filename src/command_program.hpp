#pragma once
// run_command's checks of a Command, shared with run_mpi_program (mpi_program.hpp).

#include <spawnpool/command.hpp>

#include <string>

namespace spawnpool::detail {

/// The file to execute for `command`: `command.program` when it contains a '/' (relative to
/// `command.working_directory`), else its first match in PATH (`command.env`'s when set, else this
/// process's).
/// @throws Error (messages start with `caller`) when the working directory is not a directory, the
///         program name is empty, not found in PATH or not executable
std::string resolve_command_program(const Command& command, const std::string& caller);

}  // namespace spawnpool::detail
