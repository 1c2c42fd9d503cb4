#pragma once
// Decoding spawnpool messages (layout in include/spawnpool/detail/wire_format.hpp). Every read is
// bounds-checked: a truncated or corrupt message ends in ProtocolError, never in a read past the end.

#include <spawnpool/detail/bytes.hpp>
#include <spawnpool/detail/wire_format.hpp>
#include <spawnpool/errors.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace spawnpool::detail::wire {

/// A message that does not follow the protocol.
class ProtocolError : public Error {
 public:
  using Error::Error;
};

/// Reads the fixed-size header and checks magic and version.
/// @throws ProtocolError for a short buffer, a bad magic number or another protocol version
Header decode_header(ByteSpan message);

/// Sequential bounds-checked reader over a body.
class Reader {
 public:
  explicit Reader(ByteSpan bytes) : at_(bytes.data), end_(bytes.data + bytes.size) {}

  template <class T>
  T get() {
    T value;
    std::memcpy(&value, take(sizeof value), sizeof value);
    return value;
  }
  ByteSpan bytes(std::uint64_t size) { return ByteSpan{take(size), static_cast<std::size_t>(size)}; }
  std::string_view string32() {
    const auto size = get<std::uint32_t>();
    const ByteSpan b = bytes(size);
    return std::string_view(b.data, b.size);
  }
  bool at_end() const noexcept { return at_ == end_; }
  /// Where the next read starts.
  const char* position() const noexcept { return at_; }

 private:
  const char* take(std::uint64_t size) {
    if (size > static_cast<std::uint64_t>(end_ - at_)) {
      throw ProtocolError("spawnpool: truncated message (needs " + std::to_string(size) +
                          " more bytes, has " + std::to_string(end_ - at_) + ")");
    }
    const char* here = at_;
    at_ += size;
    return here;
  }

  const char* at_;
  const char* end_;
};

struct CallView {
  std::uint64_t id;
  std::uint64_t signature;
  std::uint32_t threads;
  std::string_view name;
  ByteSpan args;
  std::uint64_t args_oob = 0;  // out-of-band bytes of the args (wire_format.hpp)
};

struct ResultView {
  std::uint64_t id;
  ResultStatus status;
  std::uint64_t started_us;
  std::uint64_t ended_us;
  ByteSpan payload;
  std::uint64_t payload_oob = 0;  // out-of-band bytes of the payload (wire_format.hpp)
};

/// The call entries of a kTasks message (views into `message`).
/// @throws ProtocolError for a malformed body, or out-of-band sizes that do not add up to the
///         header's
std::vector<CallView> decode_calls(const Header& header, ByteSpan message);

/// Reads one call entry at the reader's position.
CallView read_call(Reader& in);

/// The result entries of a kResults message (views into `message`).
/// @throws ProtocolError as decode_calls
std::vector<ResultView> decode_results(const Header& header, ByteSpan message);

/// Payload of a failed result: exception type and message.
struct ErrorPayload {
  std::string type_name;
  std::string message;
};
std::size_t error_payload_size(const ErrorPayload& error);
char* put_error_payload(char* out, const ErrorPayload& error);
ErrorPayload decode_error_payload(ByteSpan payload);

}  // namespace spawnpool::detail::wire
