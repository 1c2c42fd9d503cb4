#include "rank_groups.hpp"

#include <spawnpool/errors.hpp>

namespace spawnpool::detail {

RankGroups::~RankGroups() { shutdown(true, false); }

PoolCore& RankGroups::pool_for(int ranks, bool spread) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (shut_down_) throw BrokenExecutor("spawnpool: cannot submit: the executor has been shut down");
  const std::pair<int, bool> key{ranks, spread};
  auto found = pools_.find(key);
  if (found == pools_.end()) found = pools_.emplace(key, start_(ranks, spread)).first;
  return *found->second;
}

void RankGroups::shutdown(bool wait, bool cancel_pending) {
  std::lock_guard<std::mutex> lock(mutex_);
  shut_down_ = true;
  for (auto& [ranks, pool] : pools_) pool->shutdown(wait, cancel_pending);
}

}  // namespace spawnpool::detail
