#pragma once
// Values whose cereal binary form is just their bytes: numbers (cereal's binary archives save an
// arithmetic value as its sizeof(T) bytes, in this machine's byte order) and std::tuples of numbers
// (cereal saves a tuple's elements one after the other, nothing else). serialize.hpp encodes and
// decodes these with memcpy instead of a cereal archive: the same bytes, without an archive's
// construction and teardown on every call (a few hundred instructions, a sizeable share of a
// trivial task's round trip). bool is not one: its byte is checked when decoded.

#include <cstddef>
#include <cstring>
#include <tuple>
#include <type_traits>

namespace spawnpool::detail {

template <class T>
struct is_plain_bytes : std::bool_constant<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>> {};
template <class... T>
struct is_plain_bytes<std::tuple<T...>> : std::bool_constant<(is_plain_bytes<T>::value && ...)> {};

/// True when every one of T... (cv and references dropped) is plain bytes (see above).
template <class... T>
inline constexpr bool all_plain_bytes_v = (is_plain_bytes<std::decay_t<T>>::value && ...);

/// How many bytes a plain-bytes T takes in cereal's binary form.
template <class T>
struct plain_size : std::integral_constant<std::size_t, sizeof(T)> {};
template <class... T>
struct plain_size<std::tuple<T...>>
    : std::integral_constant<std::size_t, (std::size_t{0} + ... + plain_size<T>::value)> {};

/// Total bytes of `values...` (all plain bytes).
template <class... T>
constexpr std::size_t plain_size_of() {
  return (std::size_t{0} + ... + plain_size<std::decay_t<T>>::value);
}

/// Writes `value` (plain bytes) at `out` and returns the end of what it wrote.
template <class T>
char* write_plain(char* out, const T& value) {
  if constexpr (std::is_arithmetic_v<T>) {
    std::memcpy(out, &value, sizeof(T));
    return out + sizeof(T);
  } else {
    std::apply([&](const auto&... element) { ((out = write_plain(out, element)), ...); }, value);
    return out;
  }
}

/// Reads `value` (plain bytes) from `in` and returns the end of what it read.
template <class T>
const char* read_plain(const char* in, T& value) {
  if constexpr (std::is_arithmetic_v<T>) {
    std::memcpy(&value, in, sizeof(T));
    return in + sizeof(T);
  } else {
    std::apply([&](auto&... element) { ((in = read_plain(in, element)), ...); }, value);
    return in;
  }
}

}  // namespace spawnpool::detail
