#pragma once
// Owned and borrowed byte ranges. Message buffers are allocated once, exactly sized, never
// zero-filled, and shared (not copied) between all the results that live in one received message.

#include <cstddef>
#include <cstring>
#include <memory>

namespace spawnpool::detail {

/// A fixed-size heap buffer that is not zero-initialised (a 256 MiB argument must not cost a memset).
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t size) : data_(size ? new char[size] : nullptr), size_(size) {}
  char* data() noexcept { return data_.get(); }
  const char* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
};

/// A read-only view of bytes.
struct ByteSpan {
  const char* data = nullptr;
  std::size_t size = 0;
};

/// A view that keeps the buffer it points into alive.
struct SharedBytes {
  std::shared_ptr<const Buffer> owner;
  ByteSpan span;
};

}  // namespace spawnpool::detail
