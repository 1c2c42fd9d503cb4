#pragma once
// Recycled storage for large std::vector<arithmetic>. A loop that passes a big array through tasks
// (`v = pool.submit(step, std::move(v)).get()`, or a worker serving one large argument after
// another) would otherwise get fresh memory for every decoded vector: on first touch that is a page
// fault per 4 KiB (per 2 MiB with transparent huge pages) and the kernel zeroing each page, which
// costs more than the transfer itself.
//
// So where spawnpool itself ends the life of such a vector (the holder of moved-in arguments once
// they are sent, a worker's result once it is sent, a worker's decoded arguments after the call),
// the vector's storage is kept, and decoding a vector of the same element type and a similar size
// (capacity at most 1.25 x what is needed) takes it instead of allocating. It is kept in the
// process's storage cache (storage_cache.hpp: SPAWNPOOL_BUFFER_CACHE_MB, default 1 GiB per process
// shared with large message buffers, dropped after 30 s unused). Vectors the user owns are never
// touched. A decoded vector may therefore have a capacity up to 1.25 x its size. Thread-safe.

#include <spawnpool/detail/storage_cache.hpp>

#include <cstddef>
#include <memory>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <typeindex>
#include <utility>
#include <vector>

namespace spawnpool::detail {

/// Vectors whose storage is at least this large are recycled.
inline constexpr std::size_t kRecycledStorageMin = std::size_t{1} << 20;

template <class T, class = void>
inline constexpr bool is_tuple_like_v = false;
template <class T>
inline constexpr bool is_tuple_like_v<T, std::void_t<decltype(std::tuple_size<T>::value)>> = true;

template <class T>
inline constexpr bool is_recyclable_vector_v = false;
template <class T>
inline constexpr bool is_recyclable_vector_v<std::vector<T, std::allocator<T>>> =
    std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;

/// Keeps the storage of the vectors in `value` (a std::vector of arithmetic type, or a tuple, pair
/// or std::array of values, looked into recursively); `value` is left with those vectors empty.
/// Anything else is left alone.
template <class T>
void recycle_storage_of(T& value) noexcept {
  if constexpr (is_recyclable_vector_v<T>) {
    const std::size_t bytes = value.capacity() * sizeof(typename T::value_type);
    if (bytes < kRecycledStorageMin) return;
    try {
      // Kept with its elements: a vector of the same size decoded into it needs no resize, and so
      // no zeroing of memory that the received bytes overwrite anyway.
      auto owner = std::make_shared<T>(std::move(value));
      recycled_storage().keep(std::type_index(typeid(T)), bytes, std::move(owner));
    } catch (...) {  // (no memory for the small owner: the storage is simply freed)
    }
  } else if constexpr (is_tuple_like_v<T>) {
    std::apply([](auto&... element) { (recycle_storage_of(element), ...); }, value);
  }
}

/// Gives the empty vector `v` kept storage for `n` elements when the cache has some that fits. Its
/// size is then the kept vector's (stale elements): the caller resizes it to `n` and overwrites
/// all of them.
template <class T>
void reuse_storage_for(std::vector<T>& v, std::size_t n) noexcept {
  static_assert(is_recyclable_vector_v<std::vector<T>>);
  if (n * sizeof(T) < kRecycledStorageMin || v.capacity() >= n) return;
  std::shared_ptr<void> owner =
      recycled_storage().take(std::type_index(typeid(std::vector<T>)), n * sizeof(T),
                              n * sizeof(T) + n * sizeof(T) / 4);
  if (owner) v.swap(*static_cast<std::vector<T>*>(owner.get()));
}

/// A shared T made from `args`, whose vectors' storage is recycled when the last owner lets go.
template <class T, class... Args>
std::shared_ptr<T> make_recycling_holder(Args&&... args) {
  return std::shared_ptr<T>(new T(std::forward<Args>(args)...), [](T* held) {
    recycle_storage_of(*held);
    delete held;
  });
}

}  // namespace spawnpool::detail
