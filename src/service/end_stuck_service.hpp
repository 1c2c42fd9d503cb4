#pragma once
// The pool service's last resort when an MPI call on rank 0 can neither end nor be called off
// (a join past its deadline, join_deadline.hpp; an accept taken up by a dead stranger,
// lobby.hpp): the service ends with a message instead of hanging with every later client waiting.
// Its launcher or operator restarts it; queued clients are told the service ended.

#include <string>

namespace spawnpool::detail {

/// Says "spawnpool service: <why>: the service ends (MPI_Abort) so that the clients after it do
/// not wait for ever" on stderr, waits 0.5 s (for the launcher to forward it), then
/// MPI_Abort(MPI_COMM_WORLD, 1) (and _Exit(1) should that ever return). Called from watch threads
/// while the main thread is inside the stuck call: run_service initializes MPI with
/// MPI_THREAD_MULTIPLE. Never returns.
[[noreturn]] void end_stuck_service(const std::string& why) noexcept;

}  // namespace spawnpool::detail
