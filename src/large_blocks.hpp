#pragma once
// Large message buffers, recycled. Every task with a big argument needs a few buffers of the same
// size (the encoded message, the received message, the encoded result...). Released blocks are
// kept in the process's storage cache (storage_cache.hpp: SPAWNPOOL_BUFFER_CACHE_MB, at most 30 s
// unused) and handed out again; fresh blocks are mapped 2 MiB-aligned with MADV_HUGEPAGE, so that
// even their first touch faults once per 2 MiB where transparent huge pages are enabled ("madvise"
// mode, Debian's default). Thread-safe.

#include <cstddef>

namespace spawnpool::detail {

/// Buffers of at least this size are large blocks.
constexpr std::size_t kLargeBlockMin = std::size_t{1} << 20;

/// A block of at least `size` bytes; `*capacity` receives its real size (to pass back).
/// @throws std::bad_alloc when no memory can be mapped
char* acquire_large_block(std::size_t size, std::size_t* capacity);

/// Gives a block back (kept for reuse, or unmapped).
void release_large_block(char* block, std::size_t capacity) noexcept;

}  // namespace spawnpool::detail
