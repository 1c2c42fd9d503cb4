// The tasks the example pool service offers (examples/service_server.cpp) and its client
// (examples/service_client.cpp) submits. Both programs include this header.
#pragma once

#include <spawnpool/spawnpool.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

/// Euclidean norm of a vector.
inline double norm(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x * x;
  return std::sqrt(sum);
}
SPAWNPOOL_TASK(norm);

/// Which service process ran a task.
inline std::string served_by() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return "service rank " + std::to_string(rank);
}
SPAWNPOOL_TASK(served_by);

/// What a client's session looks like on the service: SERVICE_CLIENT_MARK and the working
/// directory. A client's Options::env and working_directory must not reach the next client.
inline std::string session_view() {
  const char* mark = std::getenv("SERVICE_CLIENT_MARK");
  char cwd[4096] = {};
  if (getcwd(cwd, sizeof cwd) == nullptr) cwd[0] = '\0';
  return std::string(mark ? mark : "") + "|" + cwd;
}
SPAWNPOOL_TASK(session_view);

/// Sleeps `ms` milliseconds and returns it: a stand-in for a slow simulation step.
inline int nap(int ms) {
  usleep(static_cast<useconds_t>(ms) * 1000);
  return ms;
}
SPAWNPOOL_TASK(nap);
