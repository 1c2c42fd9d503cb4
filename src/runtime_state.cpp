#include "runtime_state.hpp"

namespace spawnpool::detail {

RuntimeState& runtime_state() {
  static RuntimeState state;
  return state;
}

void mark_static_rank_lost(int rank) {
  RuntimeState& state = runtime_state();
  std::lock_guard<std::mutex> lock(state.pools_mutex);
  state.lost_static_ranks.insert(rank);
}

std::unique_lock<std::mutex> mpi_lock() {
  static std::mutex mutex;
  if (runtime_state().thread_level >= MPI_THREAD_MULTIPLE) return std::unique_lock<std::mutex>();
  return std::unique_lock<std::mutex>(mutex);
}

}  // namespace spawnpool::detail
