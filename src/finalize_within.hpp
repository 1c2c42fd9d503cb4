#pragma once
// MPI_Finalize with a bound.
//
// MPICH's MPI_Finalize waits for every peer this process is still connected to to take part in
// its close handshake (ch3: MPIDI_CH3U_VC_WaitForClose, spinning). A peer that was killed, or is
// stopped, never does, and the wait is for ever: a worker whose group member died at the pool's
// end, a service after a dropped client.

#include <chrono>
#include <functional>
#include <string>

namespace spawnpool::detail {

/// Calls MPI_Finalize. When it has not returned within `limit`, writes `notice` (one line) to
/// stderr, runs `before_leaving` (if set; on another thread, while MPI_Finalize still waits: it
/// must not call MPI), tells the launcher this process ended in order
/// (spawn/launcher_guard.hpp, so that hydra signals no one) and ends the process at once with
/// `status` (_exit: no destructors, no atexit handlers). Call once, when MPI will not be used
/// again. Never throws; without a thread for the bound it waits as MPI_Finalize does.
void finalize_within(std::chrono::milliseconds limit, int status, const std::string& notice,
                     const std::function<void()>& before_leaving = {}) noexcept;

}  // namespace spawnpool::detail
