#pragma once
// cereal binary serialization into exactly-sized buffers: a counting pass measures, one pass writes,
// so contiguous numeric data is copied exactly once into the message and once out of it.
// Decoding reads straight from the received bytes through SpanInputArchive, which reads the same
// format as cereal::BinaryInputArchive but refuses a container size larger than the bytes left, so
// corrupt input can never make it allocate more than about the message's own size.

#include <spawnpool/detail/bytes.hpp>

#include <cereal/archives/binary.hpp>
#include <cereal/details/traits.hpp>

#include <cstring>
#include <memory>
#include <string>
#include <type_traits>

namespace spawnpool::detail {

/// cereal input archive over a byte span: the format of cereal::BinaryInputArchive (which
/// BinaryOutputArchive writes), without a stream, and with a bound on container sizes. A size prefix
/// (cereal's SizeTag: element count of a container or string) larger than the bytes that remain is
/// rejected with cereal::Exception before anything is allocated. Every element of a container takes
/// at least one byte, except elements of a type that serializes to nothing (an empty class): a
/// container of those cannot hold more elements than there are bytes after its size.
class SpanInputArchive
    : public cereal::InputArchive<SpanInputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit SpanInputArchive(ByteSpan bytes)
      : cereal::InputArchive<SpanInputArchive, cereal::AllowEmptyClassElision>(this),
        at_(bytes.data),
        end_(bytes.data + bytes.size) {}

  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - at_); }

  void loadBinary(void* const data, std::size_t size) {
    if (size > remaining()) {
      throw cereal::Exception("Failed to read " + std::to_string(size) + " bytes from input! " +
                              std::to_string(remaining()) + " bytes left");
    }
    if (size != 0) std::memcpy(data, at_, size);
    at_ += size;
  }

  void check_size(std::uint64_t elements) const {
    if (elements > remaining()) {
      throw cereal::Exception("corrupt input: a container claims " + std::to_string(elements) +
                              " elements but only " + std::to_string(remaining()) +
                              " bytes are left");
    }
  }

 private:
  const char* at_;
  const char* end_;
};

template <class T>
inline std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(SpanInputArchive& ar,
                                                                           T& t) {
  ar.loadBinary(std::addressof(t), sizeof(t));
}
// A bool is one byte, 0 or 1; any other byte is corrupt input (and would be undefined behaviour
// to load as a bool).
inline void CEREAL_LOAD_FUNCTION_NAME(SpanInputArchive& ar, bool& b) {
  unsigned char byte = 0;
  ar.loadBinary(&byte, 1);
  if (byte > 1) {
    throw cereal::Exception("corrupt input: byte " + std::to_string(byte) + " is not a bool");
  }
  b = byte != 0;
}
template <class T>
inline void CEREAL_SERIALIZE_FUNCTION_NAME(SpanInputArchive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}
template <class T>
inline void CEREAL_SERIALIZE_FUNCTION_NAME(SpanInputArchive& ar, cereal::SizeTag<T>& t) {
  ar(t.size);
  ar.check_size(static_cast<std::uint64_t>(t.size));
}
template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(SpanInputArchive& ar, cereal::BinaryData<T>& bd) {
  ar.loadBinary(bd.data, static_cast<std::size_t>(bd.size));
}

/// cereal output archive writing the format of cereal::BinaryOutputArchive straight into memory,
/// without a std::ostream (building one per value cost about half of the per-task instructions).
/// Constructed without a destination it only counts the bytes it would write; constructed over a
/// region it writes there and throws cereal::Exception rather than write past its end.
class SpanOutputArchive
    : public cereal::OutputArchive<SpanOutputArchive, cereal::AllowEmptyClassElision> {
 public:
  /// Counts only.
  SpanOutputArchive()
      : cereal::OutputArchive<SpanOutputArchive, cereal::AllowEmptyClassElision>(this) {}
  /// Writes into [out, out + size).
  SpanOutputArchive(char* out, std::size_t size)
      : cereal::OutputArchive<SpanOutputArchive, cereal::AllowEmptyClassElision>(this),
        out_(out),
        capacity_(size) {}

  /// Bytes written (or counted) so far.
  std::size_t size() const noexcept { return size_; }

  void saveBinary(const void* data, std::size_t size) {
    if (out_ != nullptr) {
      if (size > capacity_ - size_) {
        throw cereal::Exception("spawnpool: serialized value larger than its measured size");
      }
      if (size != 0) std::memcpy(out_ + size_, data, size);
    }
    size_ += size;
  }

 private:
  char* out_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
};

template <class T>
inline std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_SAVE_FUNCTION_NAME(SpanOutputArchive& ar,
                                                                           const T& t) {
  ar.saveBinary(std::addressof(t), sizeof(t));
}
template <class T>
inline void CEREAL_SERIALIZE_FUNCTION_NAME(SpanOutputArchive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}
template <class T>
inline void CEREAL_SERIALIZE_FUNCTION_NAME(SpanOutputArchive& ar, cereal::SizeTag<T>& t) {
  ar(t.size);
}
template <class T>
inline void CEREAL_SAVE_FUNCTION_NAME(SpanOutputArchive& ar, const cereal::BinaryData<T>& bd) {
  ar.saveBinary(bd.data, static_cast<std::size_t>(bd.size));
}

/// True when cereal's binary archives can save and load T.
template <class T>
inline constexpr bool is_serializable_v =
    cereal::traits::is_output_serializable<T, SpanOutputArchive>::value &&
    cereal::traits::is_input_serializable<T, SpanInputArchive>::value;

/// Fails compilation with a readable message when T cannot be serialized.
template <class T>
constexpr void require_serializable() {
  static_assert(is_serializable_v<T>,
                "spawnpool: a task argument or result type cannot be serialized by cereal. "
                "Give the type a `template <class Archive> void serialize(Archive& ar)` member (or "
                "cereal's free save/load functions), and for standard library types include "
                "<spawnpool/spawnpool.hpp>, which pulls in cereal's headers for them.");
}

/// Number of bytes `values...` take, in order, in a cereal binary archive. Serializing several values
/// one after the other gives the same bytes as serializing a std::tuple of them.
template <class... T>
std::size_t serialized_size(const T&... values) {
  if constexpr (sizeof...(T) == 0) {
    return 0;
  } else {
    SpanOutputArchive counter;
    counter(values...);
    return counter.size();
  }
}

/// Serializes `values...` into exactly `size` bytes at `out` (size from serialized_size).
template <class... T>
void serialize_into(char* out, std::size_t size, const T&... values) {
  if constexpr (sizeof...(T) > 0) {
    SpanOutputArchive archive(out, size);
    archive(values...);
  }
}

/// Deserializes `value` from `bytes`. Throws cereal::Exception on truncated or corrupt input (a
/// container size larger than the bytes left); the caller turns that into a spawnpool error with
/// context.
template <class T>
void deserialize_from(ByteSpan bytes, T& value) {
  SpanInputArchive archive(bytes);
  archive(value);
}

}  // namespace spawnpool::detail

CEREAL_REGISTER_ARCHIVE(spawnpool::detail::SpanInputArchive)
CEREAL_REGISTER_ARCHIVE(spawnpool::detail::SpanOutputArchive)
// The two archives are each other's counterpart (cereal checks that a type's save has a load).
CEREAL_SETUP_ARCHIVE_TRAITS(spawnpool::detail::SpanInputArchive,
                            spawnpool::detail::SpanOutputArchive)
