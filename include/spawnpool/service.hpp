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
/// Clients are served one at a time, each by all N ranks. A client that dies mid-session leaves
/// the service waiting for it (restart the service); a client that shuts down cleanly does not.

#include <string>

namespace spawnpool {

struct ServiceOptions {
  /// Where rank 0 writes the MPI port (clients connect with "file:<path>"); removed at exit.
  std::string port_file;
  /// Name to publish the port under with the MPI name service (MPICH: hydra_nameserver, mpiexec
  /// -nameserver); clients connect with the name. A missing name service is a warning only.
  std::string name;
  /// Exit after this many clients (0: serve until killed).
  int max_clients = 0;
};

/// Runs the service on every rank of MPI_COMM_WORLD (collective; initializes MPI if needed and
/// finalizes what it initialized). Returns the process exit status.
/// @throws Error when neither a port file nor a name is given, or the port cannot be opened
int run_service(const ServiceOptions& options);

/// run_service with options from the command line: --port-file PATH, --name NAME,
/// --max-clients K. Prints usage and returns 2 on bad arguments.
int run_service(int argc, char** argv);

}  // namespace spawnpool
