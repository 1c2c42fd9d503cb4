#pragma once
// cereal binary serialization into exactly-sized buffers: a counting pass measures, one pass writes,
// so contiguous numeric data is copied exactly once into the message and once out of it.
// Decoding reads straight from the received bytes through SpanInputArchive, which reads the same
// format as cereal::BinaryInputArchive but refuses a container size larger than the bytes left, so
// corrupt input can never make it allocate more than about the message's own size.
//
// Out-of-band blocks: in a message entry flagged for it, every cereal BinaryData of at least
// kOutOfBandMin bytes (the form cereal gives a std::vector, std::array or std::basic_string of
// arithmetic type) is not copied into the entry. The encoder records where the bytes are
// (OutOfBand, bytes.hpp) and the transport sends them from there; the decoder asks an
// OutOfBandInput for them, which either notes the destination for a receive straight into it or
// copies them from the sender's blocks.

#include <spawnpool/detail/bytes.hpp>
#include <spawnpool/detail/plain_bytes.hpp>
#include <spawnpool/detail/vector_recycling.hpp>

#include <cereal/archives/binary.hpp>
#include <cereal/details/traits.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <valarray>
#include <vector>

namespace spawnpool::detail {

/// Smallest BinaryData that travels out of band (in entries that use out-of-band blocks).
inline constexpr std::size_t kOutOfBandMin = 256 * 1024;

/// Supplies the bytes of out-of-band blocks to a decoder, in order, within a budget (the entry's
/// out-of-band byte count: a corrupt size can never claim more). Not thread-safe.
class OutOfBandInput {
 public:
  explicit OutOfBandInput(std::size_t budget) : remaining_(budget) {}
  virtual ~OutOfBandInput() = default;

  /// Bytes of the budget not asked for yet.
  std::size_t remaining() const noexcept { return remaining_; }

  /// The next block goes to [data, data + size).
  /// @throws cereal::Exception when that is more than the budget left
  void take(void* data, std::size_t size) {
    if (size > remaining_) {
      throw cereal::Exception("corrupt input: an out-of-band block of " + std::to_string(size) +
                              " bytes, but only " + std::to_string(remaining_) + " are left");
    }
    remaining_ -= size;
    deliver(static_cast<char*>(data), size);
  }

 private:
  virtual void deliver(char* data, std::size_t size) = 0;
  std::size_t remaining_;
};

/// Notes the destinations, for one receive that fills them all later.
class OutOfBandTargets final : public OutOfBandInput {
 public:
  OutOfBandTargets(std::size_t budget, std::vector<MutableSpan>& targets)
      : OutOfBandInput(budget), targets_(targets) {}

 private:
  void deliver(char* data, std::size_t size) override { targets_.push_back({data, size}); }
  std::vector<MutableSpan>& targets_;
};

/// Copies the bytes from the sender's blocks (both sides in one process: ThreadExecutor).
class OutOfBandCopy final : public OutOfBandInput {
 public:
  explicit OutOfBandCopy(const OutOfBand& source)
      : OutOfBandInput(source.bytes()), blocks_(source.blocks) {}

 private:
  void deliver(char* data, std::size_t size) override {
    while (size > 0) {
      const ByteSpan& block = blocks_[index_];
      const std::size_t n = std::min(size, block.size - offset_);
      std::memcpy(data, block.data + offset_, n);
      data += n;
      size -= n;
      offset_ += n;
      if (offset_ == block.size) {
        ++index_;
        offset_ = 0;
      }
    }
  }
  const std::vector<ByteSpan>& blocks_;
  std::size_t index_ = 0, offset_ = 0;
};

/// cereal input archive over a byte span: the format of cereal::BinaryInputArchive (which
/// BinaryOutputArchive writes), without a stream, and with a bound on container sizes, checked
/// before anything is allocated (cereal::Exception otherwise):
/// - a container or string of numbers read as one block (std::vector, std::basic_string,
///   std::valarray: the overloads below) cannot claim more bytes than remain, inline and out of
///   band;
/// - any other container (cereal's SizeTag) cannot claim more elements than the inline bytes that
///   remain plus one per kOutOfBandMin out-of-band bytes: every element takes at least one inline
///   byte or a whole out-of-band block. Elements of a type that serializes to nothing (an empty
///   class) count as one byte too. So a corrupt size, or an out-of-band budget that its entry
///   claims but does not hold, cannot make a decoder allocate much more than the message it read
///   (a claimed budget counted element by element let a std::vector<std::vector<char>> ask for
///   24 bytes per claimed byte).
class SpanInputArchive
    : public cereal::InputArchive<SpanInputArchive, cereal::AllowEmptyClassElision> {
 public:
  /// Reads `bytes`; with `out_of_band`, BinaryData of kOutOfBandMin bytes or more comes from it.
  explicit SpanInputArchive(ByteSpan bytes, OutOfBandInput* out_of_band = nullptr)
      : cereal::InputArchive<SpanInputArchive, cereal::AllowEmptyClassElision>(this),
        at_(bytes.data),
        end_(bytes.data + bytes.size),
        out_of_band_(out_of_band) {}

  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - at_); }

  void loadBinary(void* const data, std::size_t size) {
    if (out_of_band_ != nullptr && size >= kOutOfBandMin) {
      out_of_band_->take(data, size);
      return;
    }
    if (size > remaining()) {
      throw cereal::Exception("Failed to read " + std::to_string(size) + " bytes from input! " +
                              std::to_string(remaining()) + " bytes left");
    }
    if (size != 0) std::memcpy(data, at_, size);
    at_ += size;
  }

  /// @throws cereal::Exception when a container claims more elements than could follow
  void check_size(std::uint64_t elements) const {
    const std::uint64_t oob_blocks = out_of_band_ ? out_of_band_->remaining() / kOutOfBandMin : 0;
    const std::uint64_t most = remaining() + oob_blocks;
    if (elements > most) {
      throw cereal::Exception("corrupt input: a container claims " + std::to_string(elements) +
                              " elements but at most " + std::to_string(most) +
                              " can follow (" + std::to_string(remaining()) + " bytes and " +
                              std::to_string(oob_blocks) + " out-of-band blocks are left)");
    }
  }

  /// @throws cereal::Exception when `elements` of `element_size` bytes each, read as one block,
  /// are more bytes than remain
  void check_block_size(std::uint64_t elements, std::size_t element_size) const {
    const std::uint64_t left = remaining() + (out_of_band_ ? out_of_band_->remaining() : 0);
    if (elements > left / element_size) {
      throw cereal::Exception("corrupt input: a container claims " + std::to_string(elements) +
                              " elements of " + std::to_string(element_size) +
                              " bytes but only " + std::to_string(left) + " bytes are left");
    }
  }

 private:
  const char* at_;
  const char* end_;
  OutOfBandInput* out_of_band_;
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
// cereal's own load of a std::vector of arithmetic type, except that a large vector takes
// recycled storage (vector_recycling.hpp) instead of fresh memory when some fits. Chosen over
// cereal's (more general) overload for this archive.
template <class T>
inline std::enable_if_t<is_recyclable_vector_v<std::vector<T>>> CEREAL_LOAD_FUNCTION_NAME(
    SpanInputArchive& ar, std::vector<T, std::allocator<T>>& vector) {
  cereal::size_type size = 0;
  ar(size);  // the SizeTag's bytes, bounded as one block of elements
  ar.check_block_size(size, sizeof(T));
  const auto n = static_cast<std::size_t>(size);
  reuse_storage_for(vector, n);
  vector.resize(n);
  ar(cereal::binary_data(vector.data(), n * sizeof(T)));
}
// cereal's own load of a string of numbers (cereal/types/string.hpp), bounded as one block of
// characters (a large string travels out of band). Chosen over cereal's overload for this archive.
template <class CharT, class Traits, class Alloc>
inline std::enable_if_t<std::is_arithmetic_v<CharT>> CEREAL_LOAD_FUNCTION_NAME(
    SpanInputArchive& ar, std::basic_string<CharT, Traits, Alloc>& text) {
  cereal::size_type size = 0;
  ar(size);
  ar.check_block_size(size, sizeof(CharT));
  text.resize(static_cast<std::size_t>(size));
  ar(cereal::binary_data(const_cast<CharT*>(text.data()),
                         static_cast<std::size_t>(size) * sizeof(CharT)));
}
// cereal's own load of a std::valarray of numbers (cereal/types/valarray.hpp), bounded the same
// way.
template <class T>
inline std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(
    SpanInputArchive& ar, std::valarray<T>& values) {
  cereal::size_type size = 0;
  ar(size);
  ar.check_block_size(size, sizeof(T));
  values.resize(static_cast<std::size_t>(size));
  if (size > 0) ar(cereal::binary_data(&values[0], static_cast<std::size_t>(size) * sizeof(T)));
}

/// cereal output archive writing the format of cereal::BinaryOutputArchive straight into memory,
/// without a std::ostream (building one per value was the largest part of a task's cost).
/// Constructed without a destination it only counts the bytes it would write; constructed over a
/// region it writes there and throws cereal::Exception rather than write past its end. While
/// out-of-band blocks are allowed, BinaryData of kOutOfBandMin bytes or more is not written (nor
/// counted) but noted in `blocks` (given to the writing constructor) and counted in
/// out_of_band_blocks().
class SpanOutputArchive
    : public cereal::OutputArchive<SpanOutputArchive, cereal::AllowEmptyClassElision> {
 public:
  /// Counts only.
  SpanOutputArchive()
      : cereal::OutputArchive<SpanOutputArchive, cereal::AllowEmptyClassElision>(this) {}
  /// Writes into [out, out + size); out-of-band blocks, when allowed, are noted in `blocks`.
  SpanOutputArchive(char* out, std::size_t size, std::vector<ByteSpan>* blocks = nullptr)
      : cereal::OutputArchive<SpanOutputArchive, cereal::AllowEmptyClassElision>(this),
        out_(out),
        capacity_(size),
        blocks_(blocks) {}

  /// Bytes written (or counted) so far, out-of-band blocks not included.
  std::size_t size() const noexcept { return size_; }
  /// Out-of-band blocks noted (or counted) so far, and their bytes.
  std::size_t out_of_band_blocks() const noexcept { return out_of_band_blocks_; }
  std::size_t out_of_band_bytes() const noexcept { return out_of_band_bytes_; }
  /// From now on, large BinaryData goes out of band (true) or inline (false, the default).
  void allow_out_of_band(bool allow) noexcept { out_of_band_ = allow; }

  void saveBinary(const void* data, std::size_t size) {
    if (out_of_band_ && size >= kOutOfBandMin) {
      ++out_of_band_blocks_;
      out_of_band_bytes_ += size;
      if (blocks_ != nullptr) blocks_->push_back({static_cast<const char*>(data), size});
      return;
    }
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
  std::vector<ByteSpan>* blocks_ = nullptr;
  bool out_of_band_ = false;
  std::size_t out_of_band_blocks_ = 0;
  std::size_t out_of_band_bytes_ = 0;
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
  } else if constexpr (all_plain_bytes_v<T...>) {
    return plain_size_of<T...>();
  } else {
    SpanOutputArchive counter;
    counter(values...);
    return counter.size();
  }
}

/// Serializes `values...` into exactly `size` bytes at `out` (size from serialized_size).
template <class... T>
void serialize_into(char* out, std::size_t size, const T&... values) {
  if constexpr (sizeof...(T) > 0 && all_plain_bytes_v<T...>) {
    if (size < plain_size_of<T...>()) {
      throw cereal::Exception("spawnpool: serialized value larger than its measured size");
    }
    ((out = write_plain(out, values)), ...);
  } else if constexpr (sizeof...(T) > 0) {
    SpanOutputArchive archive(out, size);
    archive(values...);
  }
}

/// Deserializes `value` from `bytes`. Throws cereal::Exception on truncated or corrupt input (a
/// container size larger than the bytes left); the caller turns that into a spawnpool error with
/// context.
template <class T>
void deserialize_from(ByteSpan bytes, T& value, OutOfBandInput* out_of_band = nullptr) {
  if constexpr (all_plain_bytes_v<T>) {
    if (bytes.size < plain_size_of<T>()) {  // SpanInputArchive's words for it
      throw cereal::Exception("Failed to read " + std::to_string(plain_size_of<T>()) +
                              " bytes from input! " + std::to_string(bytes.size) + " bytes left");
    }
    read_plain(bytes.data, value);
  } else {
    SpanInputArchive archive(bytes, out_of_band);
    archive(value);
  }
}

/// Encodes a value the encoder owns (a task's result) into a new buffer, after `reserve_front`
/// unwritten bytes. With `out_of_band`, large blocks go out of band: `value` is then moved into a
/// shared holder that the blocks point into and that `out_of_band` keeps (nothing is held when the
/// value has no large blocks); its vectors' storage is recycled once the holder is let go.
template <class T>
Buffer serialize_owned(T&& value, std::size_t reserve_front, OutOfBand* out_of_band) {
  using V = std::decay_t<T>;
  if constexpr (all_plain_bytes_v<V>) {
    Buffer out(reserve_front + plain_size_of<V>());
    write_plain(out.data() + reserve_front, value);
    return out;
  } else {
    SpanOutputArchive counter;
    counter.allow_out_of_band(out_of_band != nullptr);
    counter(value);
    Buffer out(reserve_front + counter.size());
    if (counter.out_of_band_blocks() == 0) {
      serialize_into(out.data() + reserve_front, counter.size(), value);
      return out;
    }
    auto held = make_recycling_holder<V>(std::forward<T>(value));
    SpanOutputArchive archive(out.data() + reserve_front, counter.size(), &out_of_band->blocks);
    archive.allow_out_of_band(true);
    archive(*held);
    out_of_band->owners.push_back(std::move(held));
    return out;
  }
}

/// Decodes a T into a new shared object (its out-of-band blocks from `out_of_band`).
/// @throws cereal::Exception on truncated or corrupt input
template <class T>
std::shared_ptr<void> decode_shared(ByteSpan bytes, OutOfBandInput* out_of_band) {
  auto value = std::make_shared<T>();
  deserialize_from(bytes, *value, out_of_band);
  return value;
}

}  // namespace spawnpool::detail

CEREAL_REGISTER_ARCHIVE(spawnpool::detail::SpanInputArchive)
CEREAL_REGISTER_ARCHIVE(spawnpool::detail::SpanOutputArchive)
// The two archives are each other's counterpart (cereal checks that a type's save has a load).
CEREAL_SETUP_ARCHIVE_TRAITS(spawnpool::detail::SpanInputArchive,
                            spawnpool::detail::SpanOutputArchive)
