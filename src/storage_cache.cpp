#include <spawnpool/detail/storage_cache.hpp>

#include "environment.hpp"

#include <chrono>
#include <mutex>
#include <vector>

namespace spawnpool::detail {

namespace {
using clock = std::chrono::steady_clock;
constexpr auto kKeepUnused = std::chrono::seconds(30);
}  // namespace

struct StorageCache::State {
  struct Entry {
    std::type_index type;
    std::size_t bytes;
    std::shared_ptr<void> owner;
    clock::time_point kept;
  };
  explicit State(std::size_t limit) : limit(limit) {}

  // mutex held. Returns what to free once it is released.
  std::vector<std::shared_ptr<void>> drop_stale(clock::time_point now) {
    std::vector<std::shared_ptr<void>> dropped;
    for (auto it = entries.begin(); it != entries.end();) {
      if (now - it->kept > kKeepUnused) {
        total -= it->bytes;
        dropped.push_back(std::move(it->owner));
        it = entries.erase(it);
      } else {
        ++it;
      }
    }
    return dropped;
  }

  mutable std::mutex mutex;
  std::vector<Entry> entries;  // oldest kept first
  std::size_t total = 0;
  const std::size_t limit;
};

StorageCache::StorageCache(std::size_t limit_bytes)
    : state_(std::make_unique<State>(limit_bytes)) {}

StorageCache::~StorageCache() = default;

void StorageCache::keep(std::type_index type, std::size_t bytes,
                        std::shared_ptr<void> owner) noexcept {
  std::vector<std::shared_ptr<void>> dropped;  // freed after the lock is released
  try {
    std::lock_guard<std::mutex> lock(state_->mutex);
    const auto now = clock::now();
    dropped = state_->drop_stale(now);
    if (bytes > state_->limit) {
      dropped.push_back(std::move(owner));
      return;
    }
    auto& entries = state_->entries;
    while (state_->total + bytes > state_->limit && !entries.empty()) {
      state_->total -= entries.front().bytes;
      dropped.push_back(std::move(entries.front().owner));
      entries.erase(entries.begin());
    }
    entries.push_back({type, bytes, std::move(owner), now});
    state_->total += bytes;
  } catch (...) {  // (no memory to note it: the storage is freed)
  }
}

std::shared_ptr<void> StorageCache::take(std::type_index type, std::size_t min_bytes,
                                         std::size_t max_bytes) noexcept {
  std::vector<std::shared_ptr<void>> dropped;
  std::shared_ptr<void> taken;
  try {
    std::lock_guard<std::mutex> lock(state_->mutex);
    dropped = state_->drop_stale(clock::now());
    auto& entries = state_->entries;
    auto best = entries.end();
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      if (it->type == type && it->bytes >= min_bytes && it->bytes <= max_bytes &&
          (best == entries.end() || it->bytes < best->bytes)) {
        best = it;
      }
    }
    if (best != entries.end()) {
      state_->total -= best->bytes;
      taken = std::move(best->owner);
      entries.erase(best);
    }
  } catch (...) {
  }
  return taken;
}

std::size_t StorageCache::kept_bytes() const noexcept {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->total;
}

void StorageCache::drop_all() noexcept {
  std::vector<State::Entry> dropped;  // freed after the lock is released
  std::lock_guard<std::mutex> lock(state_->mutex);
  dropped.swap(state_->entries);
  state_->total = 0;
}

StorageCache& recycled_storage() {
  // Never destroyed: buffers and holders may let go of memory during static destruction.
  static StorageCache* instance =
      new StorageCache(static_cast<std::size_t>(
          env_integer_or_default(env::kBufferCacheMb).value_or(1024)) << 20);
  return *instance;
}

}  // namespace spawnpool::detail
