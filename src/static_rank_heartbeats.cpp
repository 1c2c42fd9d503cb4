#include "static_rank_heartbeats.hpp"

#include <spawnpool/detail/mpi_flavor.hpp>

#include <mpi.h>

#include <map>
#include <mutex>

namespace spawnpool::detail {

namespace {

std::mutex g_mutex;
std::map<int, std::chrono::steady_clock::time_point> g_last;  // by rank, under g_mutex

}  // namespace

bool static_ranks_send_heartbeats(int thread_level) noexcept {
  return !kOneSendingThread && thread_level >= MPI_THREAD_MULTIPLE;
}

void record_static_heartbeat(int rank) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(g_mutex);
  g_last[rank] = now;
}

std::optional<std::chrono::steady_clock::time_point> last_static_heartbeat(int rank) {
  std::lock_guard<std::mutex> lock(g_mutex);
  const auto it = g_last.find(rank);
  if (it == g_last.end()) return std::nullopt;
  return it->second;
}

}  // namespace spawnpool::detail
