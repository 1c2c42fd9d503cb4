#pragma once
// Owned and borrowed byte ranges. Message buffers are allocated once, exactly sized, never
// zero-filled, and shared (not copied) between all the results that live in one received message.

#include <cstddef>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

namespace spawnpool::detail {

/// A fixed-size buffer that is not zero-initialised (a 256 MiB argument must not cost a memset).
/// Large buffers (1 MiB and more) come from a small per-process cache of recently released blocks
/// (large_blocks.hpp): a message buffer whose pages are already mapped costs no page faults, which
/// for large buffers cost more than the copy itself. Not thread-safe (one owner); moving is.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t size);
  ~Buffer();
  Buffer(Buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        block_(std::exchange(other.block_, 0)) {}
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      Buffer gone(std::move(*this));
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      block_ = std::exchange(other.block_, 0);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  char* data() noexcept { return data_; }
  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t block_ = 0;  // nonzero: a large block of this many bytes (else new[])
};

/// A read-only view of bytes.
struct ByteSpan {
  const char* data = nullptr;
  std::size_t size = 0;
};

/// A writable view of bytes.
struct MutableSpan {
  char* data = nullptr;
  std::size_t size = 0;
};

/// A view that keeps the buffer it points into alive.
struct SharedBytes {
  std::shared_ptr<const Buffer> owner;
  ByteSpan span;
};

/// The out-of-band blocks of an outgoing message (wire_format.hpp): large contiguous arrays sent
/// from where they already are instead of being copied into the message, and the objects that own
/// that memory, kept alive until the send completes. Not thread-safe (one owner).
struct OutOfBand {
  std::vector<ByteSpan> blocks;                // in the order the decoder will ask for them
  std::vector<std::shared_ptr<const void>> owners;

  bool empty() const noexcept { return blocks.empty(); }
  std::size_t bytes() const noexcept {
    std::size_t total = 0;
    for (const ByteSpan& b : blocks) total += b.size;
    return total;
  }
  /// Appends `other`'s blocks after this one's (for several calls or results in one message).
  void append(OutOfBand&& other) {
    blocks.insert(blocks.end(), other.blocks.begin(), other.blocks.end());
    for (auto& owner : other.owners) owners.push_back(std::move(owner));
    other = OutOfBand{};
  }
};

}  // namespace spawnpool::detail
