#pragma once
/// @file service.hpp
/// A pool service for long-lived applications: a program started once with `mpiexec -n N` keeps N
/// worker processes up; clients connect with Options::connect, use the ordinary Executor API, and
/// leave; the service then accepts the next client. The service runs only tasks registered in its
/// own program, never code sent by a client.
///
/// @code
///   // server.cpp: the tasks it offers, and this main
///   double simulate(int seed);
///   SPAWNPOOL_TASK(simulate);
///   int main(int argc, char** argv) { return spawnpool::run_service(argc, argv); }
///
///   //   mpiexec -n 4 ./server --port-file /scratch/pool.port
///   // client:  spawnpool::Executor pool(spawnpool::Options{}.connect("file:/scratch/pool.port"));
/// @endcode
/// Clients are served one at a time, each by all N ranks. The next client waits in the service's
/// lobby (a TCP port of rank 0, named in the port file and published as "<name>.lobby"), asleep;
/// the ranks sleep too until the lobby asks a client in. A client of a service that has ended
/// fails at once (nothing listens at the lobby).
/// A client sends every rank a heartbeat every second. A rank that, while not running one of the
/// client's tasks, hears nothing from it for client_timeout (10 s), or whose client on the same
/// host has exited, drops it: it finishes the task it is running, abandons the client's other
/// calls and what it sent, and goes back to accept the next client. A client killed mid-map on
/// the service's host is dropped about 0.1 s after the message each rank is running; elsewhere
/// client_timeout after it. A client that sends garbage is dropped by the rank that reads it, and
/// every other rank drops it within 0.1 s of hearing so from that rank. A client the lobby asked
/// in that leaves before connecting leaves rank 0 in MPI_Comm_accept (busy under MPICH) until
/// the next client comes; the other ranks sleep. A client that dies while the ranks join it
/// (between its admission and the end of their MPI_Intercomm_create) delays the next client by
/// up to 4 s (MPICH). Neither the client that left nor the one that died counts in max_clients.
/// One alive but stopped or hung in those milliseconds has its connection cut by rank 0 after
/// client_timeout (MPICH), which fails the join as a death does. A join that is still not over
/// 10 s after client_timeout ends the service (MPI_Abort, said on stderr) rather than hang: under
/// MPICH a client that dies within a millisecond of entering its MPI_Intercomm_create (rare),
/// under Open MPI 4.1 any client that dies, stops or hangs in the join (README).
///
/// Security model: the service runs only tasks its own program registered, never code a client
/// sends; the library's built-in tasks (spawnpool::run_command, which runs any program) are
/// offered only with allow_builtin_tasks. Only clients that present the service's token may
/// connect: rank 0 writes a random token to a file only its user can read (<port file>.token, or
/// ~/.spawnpool/<name>.token for a service found by name only), and removes it at exit; clients
/// read it from there, or from SPAWNPOOL_SERVICE_TOKEN, and show it at the lobby, which tells the
/// MPI port only then (it is in no file), and again after MPI_Comm_connect. Rank 0 opens that port
/// only while a client is asked in and accepts on it alone; the other ranks join a client only
/// after it showed the token. A connection to the port between turns (under MPICH anyone on the
/// host can rebuild the port string) is refused by MPI; one without the right token is dropped
/// within 5 s, before any of its messages is read as work, and cannot end the service. A message may
/// announce at most max_message_size bytes; a client that announces more is dropped. A client's Options::env and
/// working_directory are undone before the next client (not what initializers or tasks did to
/// the program's own state).

#include <chrono>
#include <cstdint>
#include <string>

namespace spawnpool {

struct ServiceOptions {
  /// Where rank 0 writes its lobby's address, "lobby HOST:PORT" (clients connect with
  /// "file:<path>"; the lobby tells the MPI port to clients with the token); removed at exit.
  std::string port_file;
  /// Name to publish the lobby's address under, as "<name>.lobby", with the MPI name service
  /// (MPICH: hydra_nameserver, mpiexec -nameserver); clients connect with the name. A missing name
  /// service is a warning only.
  std::string name;
  /// Exit after this many clients (0: serve until killed). Refused clients do not count.
  int max_clients = 0;
  /// Offer the library's built-in tasks (spawnpool::run_command) to clients too. Off by default:
  /// a client could run any program as the service's user.
  bool allow_builtin_tasks = false;
  /// How long a rank waits for word from its client before dropping it (clients send a heartbeat
  /// every second, even while they wait for results), and how long rank 0 lets a client take to
  /// join the ranks (MPICH). At least kMinClientTimeout. Command line: --client-timeout SECONDS.
  std::chrono::milliseconds client_timeout{10000};
  /// The shortest client_timeout: shorter would drop healthy clients between their heartbeats.
  static constexpr std::chrono::milliseconds kMinClientTimeout{2000};
  /// The longest client_timeout (about 11.6 days): a deadline far beyond would overflow.
  static constexpr std::chrono::milliseconds kMaxClientTimeout{1000000000};
  /// The most bytes one message from a client may carry (its arguments, with any large arrays);
  /// a client that announces a larger message is dropped before anything is allocated for it.
  /// 0: no limit. Command line: --max-message-size BYTES (a K, M or G suffix counts 1024s).
  std::uint64_t max_message_size = std::uint64_t{4} << 30;
};

/// Runs the service on every rank of MPI_COMM_WORLD (collective; initializes MPI if needed and
/// finalizes what it initialized). Returns the process exit status.
/// @throws Error when neither a port file nor a name is given, client_timeout is not within
/// ServiceOptions::kMinClientTimeout and kMaxClientTimeout, or the port or the token file cannot
/// be made
int run_service(const ServiceOptions& options);

/// run_service with options from the command line: --port-file PATH, --name NAME,
/// --max-clients K, --client-timeout SECONDS, --max-message-size BYTES, --allow-builtin-tasks. Prints usage and returns 2 on bad arguments.
int run_service(int argc, char** argv);

}  // namespace spawnpool
