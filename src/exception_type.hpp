#pragma once
// The type of the exception in flight, as a task's error reports it (RemoteError::type), for the
// worker loop and the thread executor alike.

#include <string>

namespace spawnpool::detail {

/// The demangled name of the type of the exception being handled ("unknown exception" when the
/// runtime cannot tell). Call it inside a catch block.
std::string current_exception_type();

}  // namespace spawnpool::detail
