#include "runtime_state.hpp"

namespace spawnpool::detail {

RuntimeState& runtime_state() {
  static RuntimeState state;
  return state;
}

std::unique_lock<std::mutex> mpi_lock() {
  static std::mutex mutex;
  if (runtime_state().thread_level >= MPI_THREAD_MULTIPLE) return std::unique_lock<std::mutex>();
  return std::unique_lock<std::mutex>(mutex);
}

}  // namespace spawnpool::detail
