#include "wire.hpp"

namespace spawnpool::detail::wire {

namespace {
ByteSpan body_of(const Header& header, ByteSpan message) {
  if (message.size - kHeaderSize != header.body_size) {
    throw ProtocolError("spawnpool: message body is " + std::to_string(message.size - kHeaderSize) +
                        " bytes but its header says " + std::to_string(header.body_size));
  }
  return ByteSpan{message.data + kHeaderSize, message.size - kHeaderSize};
}

/// Adds an entry's out-of-band bytes to the running sum, refusing more than the header announced.
void add_out_of_band(const Header& header, std::uint64_t& sum, std::uint64_t entry) {
  if (entry > header.oob_size - sum) {
    throw ProtocolError("spawnpool: the entries of a message claim more out-of-band bytes than "
                        "its header's " + std::to_string(header.oob_size));
  }
  sum += entry;
}

void check_out_of_band_sum(const Header& header, std::uint64_t sum) {
  if (sum != header.oob_size) {
    throw ProtocolError("spawnpool: the entries of a message claim " + std::to_string(sum) +
                        " out-of-band bytes but its header says " +
                        std::to_string(header.oob_size));
  }
  if (sum > 0 && header.oob_part_size == 0) {
    throw ProtocolError("spawnpool: a message with out-of-band bytes has no part size");
  }
}

void check_count(const Header& header, ByteSpan body, std::size_t min_entry_size) {
  if (header.count > body.size / min_entry_size) {
    throw ProtocolError("spawnpool: message claims " + std::to_string(header.count) +
                        " entries, more than its " + std::to_string(body.size) + " bytes can hold");
  }
}
}  // namespace

Header decode_header(ByteSpan message) {
  if (message.size < kHeaderSize) {
    throw ProtocolError("spawnpool: message of " + std::to_string(message.size) +
                        " bytes is shorter than a header");
  }
  Header header;
  std::memcpy(&header, message.data, kHeaderSize);
  if (header.magic != kMagic) {
    throw ProtocolError("spawnpool: message does not start with spawnpool's magic number; "
                        "another program is using spawnpool's communicator or tags");
  }
  if (header.version != kProtocolVersion) {
    throw ProtocolError("spawnpool: protocol version mismatch: got version " +
                        std::to_string(header.version) + ", this build speaks version " +
                        std::to_string(kProtocolVersion) +
                        "; rebuild manager and worker programs against the same spawnpool");
  }
  return header;
}

std::vector<CallView> decode_calls(const Header& header, ByteSpan message) {
  const ByteSpan body = body_of(header, message);
  check_count(header, body, call_entry_overhead(0));
  Reader in(body);
  std::vector<CallView> calls;
  calls.reserve(header.count);
  std::uint64_t out_of_band = 0;
  for (std::uint32_t i = 0; i < header.count; ++i) {
    calls.push_back(read_call(in));
    add_out_of_band(header, out_of_band, calls.back().args_oob);
  }
  if (!in.at_end()) throw ProtocolError("spawnpool: trailing bytes after the last call entry");
  check_out_of_band_sum(header, out_of_band);
  return calls;
}

CallView read_call(Reader& in) {
  CallView call{};
  call.id = in.get<std::uint64_t>();
  call.signature = in.get<std::uint64_t>();
  call.threads = in.get<std::uint32_t>();
  call.name = in.string32();
  const auto args_size = in.get<std::uint64_t>();
  call.args_oob = in.get<std::uint64_t>();
  call.args = in.bytes(args_size);
  return call;
}

std::vector<ResultView> decode_results(const Header& header, ByteSpan message) {
  const ByteSpan body = body_of(header, message);
  check_count(header, body, kResultEntryOverhead);
  Reader in(body);
  std::vector<ResultView> results;
  results.reserve(header.count);
  std::uint64_t out_of_band = 0;
  for (std::uint32_t i = 0; i < header.count; ++i) {
    ResultView result{};
    result.id = in.get<std::uint64_t>();
    const auto status = in.get<std::uint8_t>();
    if (status > static_cast<std::uint8_t>(ResultStatus::kSignatureMismatch)) {
      throw ProtocolError("spawnpool: unknown result status " + std::to_string(status));
    }
    result.status = static_cast<ResultStatus>(status);
    result.started_us = in.get<std::uint64_t>();
    result.ended_us = in.get<std::uint64_t>();
    const auto payload_size = in.get<std::uint64_t>();
    result.payload_oob = in.get<std::uint64_t>();
    result.payload = in.bytes(payload_size);
    add_out_of_band(header, out_of_band, result.payload_oob);
    results.push_back(result);
  }
  if (!in.at_end()) throw ProtocolError("spawnpool: trailing bytes after the last result entry");
  check_out_of_band_sum(header, out_of_band);
  return results;
}

std::size_t error_payload_size(const ErrorPayload& error) {
  return 4 + error.type_name.size() + 4 + error.message.size();
}

char* put_error_payload(char* out, const ErrorPayload& error) {
  out = put(out, static_cast<std::uint32_t>(error.type_name.size()));
  out = put_bytes(out, error.type_name.data(), error.type_name.size());
  out = put(out, static_cast<std::uint32_t>(error.message.size()));
  return put_bytes(out, error.message.data(), error.message.size());
}

ErrorPayload decode_error_payload(ByteSpan payload) {
  Reader in(payload);
  ErrorPayload error;
  error.type_name = std::string(in.string32());
  error.message = std::string(in.string32());
  return error;
}

}  // namespace spawnpool::detail::wire
