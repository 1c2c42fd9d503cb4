#pragma once
// Memory kept for reuse. Fresh memory costs a page fault and the kernel zeroing a page on first
// touch, which for large buffers costs more than using them. So memory that is released and likely
// to be needed again at a similar size (large message buffers, the storage of large decoded
// vectors) is kept here, by kind, up to a limit in all (oldest dropped first), and dropped once
// unused for 30 s. Owners are type-erased: dropping one frees its memory.

#include <cstddef>
#include <memory>
#include <typeindex>

namespace spawnpool::detail {

/// A bounded set of kept storage, by kind. Thread-safe.
class StorageCache {
 public:
  /// Keeps at most `limit_bytes` in all.
  explicit StorageCache(std::size_t limit_bytes);
  ~StorageCache();
  StorageCache(const StorageCache&) = delete;
  StorageCache& operator=(const StorageCache&) = delete;

  /// Keeps `owner` (an object of `type` holding `bytes` of storage), dropping the oldest kept
  /// storage when over the limit, and anything unused for 30 s.
  void keep(std::type_index type, std::size_t bytes, std::shared_ptr<void> owner) noexcept;
  /// The best-fitting (smallest) kept owner of `type` holding between `min_bytes` and `max_bytes`,
  /// or null. It is no longer kept.
  std::shared_ptr<void> take(std::type_index type, std::size_t min_bytes,
                             std::size_t max_bytes) noexcept;
  /// Bytes kept now.
  std::size_t kept_bytes() const noexcept;
  /// Lets go of everything kept now.
  void drop_all() noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// The process's cache (limit SPAWNPOOL_BUFFER_CACHE_MB, default 1024 MiB), for large message
/// buffers (large_blocks.cpp) and recycled vector storage (vector_recycling.hpp) together.
StorageCache& recycled_storage();

}  // namespace spawnpool::detail
