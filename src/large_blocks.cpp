#include "large_blocks.hpp"


#include <spawnpool/detail/bytes.hpp>
#include <spawnpool/detail/storage_cache.hpp>

#include <sys/mman.h>

#include <cstdint>
#include <memory>
#include <new>
#include <typeindex>
#include <typeinfo>
#include <utility>

namespace spawnpool::detail {

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

/// A mapped block while it is kept in the storage cache: unmapped when the cache drops it, handed
/// out (disowned) when taken.
struct MappedBlock {
  MappedBlock(char* block, std::size_t bytes) : data(block), capacity(bytes) {}
  MappedBlock(const MappedBlock&) = delete;
  MappedBlock& operator=(const MappedBlock&) = delete;
  ~MappedBlock() {
    if (data != nullptr) munmap(data, capacity);
  }
  char* data;
  std::size_t capacity;
};

char* map_aligned(std::size_t capacity) {
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

}  // namespace

char* acquire_large_block(std::size_t size, std::size_t* capacity) {
  // Best fit among kept blocks not much larger than asked for (a 1 MiB message must not pin
  // 256 MiB).
  std::shared_ptr<void> kept = recycled_storage().take(std::type_index(typeid(MappedBlock)), size,
                                                       2 * size + kHugePage);
  if (kept) {
    auto* block = static_cast<MappedBlock*>(kept.get());
    *capacity = block->capacity;
    return std::exchange(block->data, nullptr);
  }
  *capacity = (size + kHugePage - 1) / kHugePage * kHugePage;
  return map_aligned(*capacity);
}

void release_large_block(char* block, std::size_t capacity) noexcept {
  try {
    recycled_storage().keep(std::type_index(typeid(MappedBlock)), capacity,
                            std::make_shared<MappedBlock>(block, capacity));
  } catch (...) {  // (no memory for the small owner)
    munmap(block, capacity);
  }
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
