#pragma once
// cereal binary serialization into exactly-sized buffers: a counting pass measures, one pass writes,
// so contiguous numeric data is copied exactly once into the message and once out of it.

#include <spawnpool/detail/bytes.hpp>

#include <cereal/archives/binary.hpp>
#include <cereal/details/traits.hpp>

#include <istream>
#include <ostream>
#include <streambuf>
#include <type_traits>

namespace spawnpool::detail {

/// True when cereal's binary archives can save and load T.
template <class T>
inline constexpr bool is_serializable_v =
    cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value &&
    cereal::traits::is_input_serializable<T, cereal::BinaryInputArchive>::value;

/// Fails compilation with a readable message when T cannot be serialized.
template <class T>
constexpr void require_serializable() {
  static_assert(is_serializable_v<T>,
                "spawnpool: a task argument or result type cannot be serialized by cereal. "
                "Give the type a `template <class Archive> void serialize(Archive& ar)` member (or "
                "cereal's free save/load functions), and for standard library types include "
                "<spawnpool/spawnpool.hpp>, which pulls in cereal's headers for them.");
}

/// Counts bytes written through it; stores nothing.
class CountingStreambuf : public std::streambuf {
 public:
  std::size_t count() const noexcept { return count_; }

 protected:
  std::streamsize xsputn(const char*, std::streamsize n) override {
    count_ += static_cast<std::size_t>(n);
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) ++count_;
    return traits_type::not_eof(c);
  }

 private:
  std::size_t count_ = 0;
};

/// Writes into a caller-provided region of known size.
class FixedStreambuf : public std::streambuf {
 public:
  FixedStreambuf(char* begin, std::size_t size) { setp(begin, begin + size); }
  std::size_t written() const noexcept { return static_cast<std::size_t>(pptr() - pbase()); }
};

/// Reads from a byte span.
class SpanStreambuf : public std::streambuf {
 public:
  explicit SpanStreambuf(ByteSpan bytes) {
    char* begin = const_cast<char*>(bytes.data);  // get area is never written through
    setg(begin, begin, begin + bytes.size);
  }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(egptr() - gptr()); }
};

/// Number of bytes `values...` take, in order, in a cereal binary archive. Serializing several values
/// one after the other gives the same bytes as serializing a std::tuple of them.
template <class... T>
std::size_t serialized_size(const T&... values) {
  if constexpr (sizeof...(T) == 0) {
    return 0;
  } else {
    CountingStreambuf counter;
    std::ostream stream(&counter);
    {
      cereal::BinaryOutputArchive archive(stream);
      archive(values...);
    }
    return counter.count();
  }
}

/// Serializes `values...` into exactly `size` bytes at `out` (size from serialized_size).
template <class... T>
void serialize_into(char* out, std::size_t size, const T&... values) {
  if constexpr (sizeof...(T) > 0) {
    FixedStreambuf sink(out, size);
    std::ostream stream(&sink);
    {
      cereal::BinaryOutputArchive archive(stream);
      archive(values...);
    }
  }
}

/// Deserializes `value` from `bytes`. Throws cereal::Exception on truncated input; the caller turns
/// that into a spawnpool error with context.
template <class T>
void deserialize_from(ByteSpan bytes, T& value) {
  SpanStreambuf source(bytes);
  std::istream stream(&source);
  cereal::BinaryInputArchive archive(stream);
  archive(value);
}

}  // namespace spawnpool::detail
