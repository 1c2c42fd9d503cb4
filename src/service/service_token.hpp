#pragma once
// Who may use a pool service: a random token, and the handshake that checks it, service side
// beside client side.
//
// The service makes a token of 32 random bytes (64 hex digits) at start and writes it to a token
// file only its user can read (mode 0600): beside the port file (<port file>.token), or, for a
// service found by name only, ~/.spawnpool/<name>.token. A client reads the token from
// SPAWNPOOL_SERVICE_TOKEN, or else from that file, and sends it first thing after
// MPI_Comm_connect (tag kAdmissionTag, to the service's rank 0). Rank 0 compares it in constant
// time and answers yes or no; a client that sends nothing within kAdmissionLimit, too much, or
// the wrong token is answered no and dropped before any task can reach the service. So only users
// who can read the token file (the service's user, or whom it gives the token) can connect.

#include <mpi.h>

#include <chrono>
#include <string>

namespace spawnpool::detail {

/// How long the service waits for a connected client's token.
inline constexpr std::chrono::seconds kAdmissionLimit{5};
/// Longest token a service reads.
inline constexpr int kMaxTokenBytes = 256;

/// A new random token (64 hex digits, from getrandom).
/// @throws Error when the system has no randomness to give
std::string make_service_token();

/// True when `presented` is `token`, compared in constant time.
bool token_matches(const std::string& presented, const std::string& token);

/// Where the token of a service with this port file (or, without one, this name) is kept.
std::string service_token_file(const std::string& port_file, const std::string& name);

/// Writes `token` to `path` readable by this user only (created 0600, then renamed into place;
/// the directory ~/.spawnpool is created 0700 when needed).
/// @throws Error when it cannot be written
void write_service_token(const std::string& path, const std::string& token);

/// The token a client presents: SPAWNPOOL_SERVICE_TOKEN, else the first line of `path`; empty
/// when neither exists. `source` says where it came from ("its token from ..."), for messages.
std::string client_token(const std::string& path, std::string& source);

/// Service side, rank 0: waits (bounded by kAdmissionLimit) for the client's token on `client`,
/// compares it with `token` in constant time, and answers. True when the client may stay.
/// Never throws; MPI errors (a client that vanished) count as no.
bool admit_client(MPI_Comm client, const std::string& token);

/// Client side: presents `token` to the service's rank 0 and waits (up to `limit`) for the answer.
/// Returns "" when admitted, else why not. Call with the MPI lock held.
std::string present_token(MPI_Comm service, const std::string& token,
                          std::chrono::milliseconds limit);

}  // namespace spawnpool::detail
