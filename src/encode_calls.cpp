#include <spawnpool/detail/encode_calls.hpp>

#include <spawnpool/errors.hpp>

#include <algorithm>
#include <string>

namespace spawnpool::detail {

const TaskEntry& require_task(FunctionKey fn) {
  const TaskEntry* task = find_task(fn);
  if (task == nullptr) {
    const std::string name = describe_function(fn);
    throw UnregisteredTask("spawnpool: cannot submit " + name +
                           ": it is not registered as a task. Add SPAWNPOOL_TASK(<function name>) "
                           "at namespace scope in a source file linked into the manager and the "
                           "workers (or SPAWNPOOL_TASK_AS(fn, \"name\") to choose the name).");
  }
  return *task;
}

std::size_t map_chunk_size(std::size_t requested, std::size_t n, int workers) {
  if (requested > 0) return requested;
  const std::size_t w = static_cast<std::size_t>(std::max(1, workers));
  const std::size_t chunk = (n + 4 * w - 1) / (4 * w);
  return std::clamp<std::size_t>(chunk, 1, 1024);
}

}  // namespace spawnpool::detail
