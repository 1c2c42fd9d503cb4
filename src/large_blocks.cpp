#include "large_blocks.hpp"

#include "environment.hpp"

#include <spawnpool/detail/bytes.hpp>

#include <sys/mman.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

namespace spawnpool::detail {

namespace {

using clock = std::chrono::steady_clock;
constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr auto kKeepUnused = std::chrono::seconds(30);

struct CachedBlock {
  char* data;
  std::size_t capacity;
  clock::time_point released;
};

class BlockCache {
 public:
  BlockCache()
      : limit_(static_cast<std::size_t>(env_long("SPAWNPOOL_BUFFER_CACHE_MB", 1024)) << 20) {}
  ~BlockCache() {
    for (const auto& block : blocks_) munmap(block.data, block.capacity);
  }

  char* acquire(std::size_t size, std::size_t* capacity) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      drop_stale(clock::now());
      // Best fit among blocks not much larger than asked for (a 1 MiB message must not pin 256 MiB).
      std::size_t best = blocks_.size();
      for (std::size_t i = 0; i < blocks_.size(); ++i) {
        const std::size_t c = blocks_[i].capacity;
        if (c >= size && c <= 2 * size + kHugePage &&
            (best == blocks_.size() || c < blocks_[best].capacity)) {
          best = i;
        }
      }
      if (best != blocks_.size()) {
        CachedBlock block = blocks_[best];
        blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(best));
        cached_ -= block.capacity;
        *capacity = block.capacity;
        return block.data;
      }
    }
    *capacity = (size + kHugePage - 1) / kHugePage * kHugePage;
    return map_aligned(*capacity);
  }

  void release(char* data, std::size_t capacity) noexcept {
    std::vector<CachedBlock> evicted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto now = clock::now();
      drop_stale(now);
      if (capacity > limit_) {
        evicted.push_back({data, capacity, now});
      } else {
        while (cached_ + capacity > limit_ && !blocks_.empty()) {  // oldest first
          evicted.push_back(blocks_.front());
          cached_ -= blocks_.front().capacity;
          blocks_.erase(blocks_.begin());
        }
        blocks_.push_back({data, capacity, now});
        cached_ += capacity;
      }
    }
    for (const auto& block : evicted) munmap(block.data, block.capacity);
  }

 private:
  static char* map_aligned(std::size_t capacity) {
    // Over-map by one huge page, then trim, so the block starts on a 2 MiB boundary.
    const std::size_t mapped = capacity + kHugePage;
    void* raw = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    char* base = static_cast<char*>(raw);
    const auto address = reinterpret_cast<std::uintptr_t>(base);
    char* aligned = base + ((kHugePage - address % kHugePage) % kHugePage);
    if (aligned > base) munmap(base, static_cast<std::size_t>(aligned - base));
    char* end = aligned + capacity;
    if (end < base + mapped) munmap(end, static_cast<std::size_t>(base + mapped - end));
    madvise(aligned, capacity, MADV_HUGEPAGE);  // advice only: fine if refused
    return aligned;
  }

  // mutex_ held; unmapping a few blocks under it is rare and bounded.
  void drop_stale(clock::time_point now) {
    for (auto it = blocks_.begin(); it != blocks_.end();) {
      if (now - it->released > kKeepUnused) {
        munmap(it->data, it->capacity);
        cached_ -= it->capacity;
        it = blocks_.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::mutex mutex_;
  std::vector<CachedBlock> blocks_;  // oldest released first
  std::size_t cached_ = 0;
  const std::size_t limit_;
};

BlockCache& cache() {
  // Never destroyed: buffers may be released during static destruction.
  static BlockCache* instance = new BlockCache();
  return *instance;
}

}  // namespace

char* acquire_large_block(std::size_t size, std::size_t* capacity) {
  return cache().acquire(size, capacity);
}

void release_large_block(char* block, std::size_t capacity) noexcept {
  cache().release(block, capacity);
}

Buffer::Buffer(std::size_t size) : size_(size) {
  if (size >= kLargeBlockMin) {
    data_ = acquire_large_block(size, &block_);
  } else if (size > 0) {
    data_ = new char[size];
  }
}

Buffer::~Buffer() {
  if (block_ != 0) {
    release_large_block(data_, block_);
  } else {
    delete[] data_;
  }
}

}  // namespace spawnpool::detail
