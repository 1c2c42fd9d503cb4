// The tasks the example pool service offers (examples/service_server.cpp) and its client
// (examples/service_client.cpp) submits. Both programs include this header.
#pragma once

#include <spawnpool/spawnpool.hpp>

#include <cmath>
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
