// The message decoder: well-formed messages decode to what was written; truncated and corrupt ones
// are rejected with ProtocolError, never read out of bounds.
#include "src/wire.hpp"

#include <spawnpool/detail/packed_chunk.hpp>
#include <spawnpool/detail/registry.hpp>
#include <spawnpool/errors.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace wire = spawnpool::detail::wire;
using spawnpool::detail::Buffer;
using spawnpool::detail::ByteSpan;

namespace {

Buffer tasks_message(const std::vector<std::pair<std::string, std::string>>& calls) {
  std::size_t size = wire::kHeaderSize;
  for (const auto& [name, args] : calls) size += wire::call_entry_overhead(name.size()) + args.size();
  Buffer message(size);
  wire::Header header;
  header.kind = static_cast<std::uint16_t>(wire::Kind::kTasks);
  header.count = static_cast<std::uint32_t>(calls.size());
  header.body_size = size - wire::kHeaderSize;
  std::memcpy(message.data(), &header, sizeof header);
  char* out = message.data() + wire::kHeaderSize;
  std::uint64_t id = 100;
  for (const auto& [name, args] : calls) {
    out = wire::put_call_prefix(out, id++, 0xabc, name, args.size());
    out = wire::put_bytes(out, args.data(), args.size());
  }
  return message;
}

ByteSpan span(const Buffer& b, std::size_t size) { return ByteSpan{b.data(), size}; }

TEST(Wire, CallsRoundTrip) {
  const Buffer m = tasks_message({{"simulate", "abc"}, {"f", ""}, {"", "xyz"}});
  const wire::Header h = wire::decode_header(span(m, m.size()));
  const auto calls = wire::decode_calls(h, span(m, m.size()));
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].id, 100u);
  EXPECT_EQ(calls[0].signature, 0xabcu);
  EXPECT_EQ(calls[0].name, "simulate");
  EXPECT_EQ(std::string(calls[0].args.data, calls[0].args.size), "abc");
  EXPECT_EQ(calls[1].args.size, 0u);
  EXPECT_EQ(calls[2].name, "");
}

TEST(Wire, EveryTruncationIsRejected) {
  const Buffer m = tasks_message({{"simulate", "abcdef"}, {"g", "12"}});
  for (std::size_t size = 0; size < m.size(); ++size) {
    EXPECT_THROW(
        {
          const wire::Header h = wire::decode_header(span(m, size));
          wire::decode_calls(h, span(m, size));
        },
        wire::ProtocolError)
        << "size " << size;
  }
}

TEST(Wire, BadMagicAndVersionAreRejectedWithClearText) {
  Buffer m = tasks_message({{"f", "1"}});
  m.data()[0] ^= 0x55;
  try {
    wire::decode_header(span(m, m.size()));
    FAIL();
  } catch (const wire::ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("magic"), std::string::npos);
  }
  m.data()[0] ^= 0x55;
  const std::uint16_t other_version = wire::kProtocolVersion + 1;
  std::memcpy(m.data() + 4, &other_version, 2);
  try {
    wire::decode_header(span(m, m.size()));
    FAIL();
  } catch (const wire::ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("version mismatch"), std::string::npos);
  }
}

TEST(Wire, HugeCountsAndLengthsAreRejected) {
  Buffer m = tasks_message({{"f", "1"}});
  wire::Header h = wire::decode_header(span(m, m.size()));
  h.count = 0xffffffffu;
  EXPECT_THROW(wire::decode_calls(h, span(m, m.size())), wire::ProtocolError);
  // Corrupt the name length to something enormous.
  const std::uint32_t huge = 0xfffffff0u;
  std::memcpy(m.data() + wire::kHeaderSize + 20, &huge, 4);
  h = wire::decode_header(span(m, m.size()));
  EXPECT_THROW(wire::decode_calls(h, span(m, m.size())), wire::ProtocolError);
}

TEST(Wire, ResultsAndErrorPayloadsRoundTrip) {
  const wire::ErrorPayload error{"std::invalid_argument", "bad input"};
  const std::size_t payload = wire::error_payload_size(error);
  Buffer m(wire::kHeaderSize + wire::kResultEntryOverhead * 2 + payload + 4);
  wire::Header header;
  header.kind = static_cast<std::uint16_t>(wire::Kind::kResults);
  header.count = 2;
  header.body_size = m.size() - wire::kHeaderSize;
  std::memcpy(m.data(), &header, sizeof header);
  char* out = wire::put_result_prefix(m.data() + wire::kHeaderSize, 1, wire::ResultStatus::kOk, 4);
  out = wire::put_bytes(out, "\x01\x02\x03\x04", 4);
  out = wire::put_result_prefix(out, 2, wire::ResultStatus::kException, payload);
  wire::put_error_payload(out, error);
  const auto results = wire::decode_results(wire::decode_header(span(m, m.size())), span(m, m.size()));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status, wire::ResultStatus::kOk);
  EXPECT_EQ(results[0].payload.size, 4u);
  const auto decoded = wire::decode_error_payload(results[1].payload);
  EXPECT_EQ(decoded.type_name, error.type_name);
  EXPECT_EQ(decoded.message, error.message);
  // An unknown status byte is rejected.
  m.data()[wire::kHeaderSize + 8] = 99;
  EXPECT_THROW(wire::decode_results(wire::decode_header(span(m, m.size())), span(m, m.size())),
               wire::ProtocolError);
}

TEST(Wire, OutOfBandSizesMustAddUpToTheHeader) {
  // One call entry claiming 1000 out-of-band bytes.
  Buffer m(wire::kHeaderSize + wire::call_entry_overhead(1) + 2);
  char* out = wire::put_call_prefix(m.data() + wire::kHeaderSize, 7, 0xabc, "t", 2, 1000);
  wire::put_bytes(out, "ab", 2);
  auto with_header = [&](std::uint64_t oob_size, std::uint32_t part) {
    wire::Header header;
    header.kind = static_cast<std::uint16_t>(wire::Kind::kTasks);
    header.count = 1;
    header.body_size = m.size() - wire::kHeaderSize;
    header.oob_size = oob_size;
    header.oob_part_size = part;
    std::memcpy(m.data(), &header, sizeof header);
    return wire::decode_calls(wire::decode_header(span(m, m.size())), span(m, m.size()));
  };
  const auto calls = with_header(1000, 4096);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].args_oob, 1000u);
  EXPECT_EQ(calls[0].args.size, 2u);
  EXPECT_THROW(with_header(999, 4096), wire::ProtocolError);   // entries claim more
  EXPECT_THROW(with_header(1001, 4096), wire::ProtocolError);  // header announces more
  EXPECT_THROW(with_header(1000, 0), wire::ProtocolError);     // no part size to cut them by
}

}  // namespace

// Packed chunks (include/spawnpool/detail/packed_chunk.hpp): a chunk's args and results as arrays.
namespace packed {

using spawnpool::detail::PackedFailure;

Buffer results_payload(const std::vector<std::int32_t>& values,
                       const std::vector<PackedFailure>& failures) {
  Buffer b(spawnpool::detail::kPackedResultPrefix + values.size() * 4);
  std::memcpy(b.data() + spawnpool::detail::kPackedResultPrefix, values.data(), values.size() * 4);
  return spawnpool::detail::finish_packed_results(std::move(b), 0, values.size(), 4, failures);
}

TEST(PackedChunk, ResultsRoundTrip) {
  const Buffer b = results_payload({5, 0, 7}, {{1, "std::invalid_argument", "bad x"}});
  std::vector<PackedFailure> failures;
  const ByteSpan values = spawnpool::detail::read_packed_results(span(b, b.size()), 3, 4, failures);
  ASSERT_EQ(values.size, 12u);
  std::int32_t got[3];
  std::memcpy(got, values.data, 12);
  EXPECT_EQ(got[0], 5);
  EXPECT_EQ(got[2], 7);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].index, 1u);
  EXPECT_EQ(failures[0].type_name, "std::invalid_argument");
  EXPECT_EQ(failures[0].message, "bad x");
  // The count must be the chunk's.
  EXPECT_THROW(spawnpool::detail::read_packed_results(span(b, b.size()), 4, 4, failures),
               spawnpool::Error);
}

TEST(PackedChunk, EveryTruncationOfResultsIsRejected) {
  const Buffer b = results_payload({1, 2, 3, 4}, {{0, "E", "m"}, {3, "F", "longer message"}});
  for (std::size_t size = 0; size < b.size(); ++size) {
    std::vector<PackedFailure> failures;
    EXPECT_THROW(spawnpool::detail::read_packed_results(span(b, size), 4, 4, failures),
                 spawnpool::Error)
        << size;
  }
}

TEST(PackedChunk, CorruptResultsAreRejected) {
  std::vector<PackedFailure> failures;
  auto rejected = [&](const Buffer& b) {
    EXPECT_THROW(spawnpool::detail::read_packed_results(span(b, b.size()), 2, 4, failures),
                 spawnpool::Error);
  };
  // A failure out of range, and two out of order.
  rejected(results_payload({1, 2}, {{2, "E", "m"}}));
  rejected(results_payload({1, 2}, {{1, "E", "m"}, {0, "E", "m"}}));
  // A failure count the bytes cannot hold (must not be trusted to reserve memory).
  Buffer huge = results_payload({1, 2}, {});
  const std::uint64_t many = ~std::uint64_t{0};
  std::memcpy(huge.data() + 8, &many, 8);
  rejected(huge);
  // Bytes left over after the last failure.
  const Buffer ok = results_payload({1, 2}, {{0, "E", "m"}});
  Buffer longer(ok.size() + 1);
  std::memcpy(longer.data(), ok.data(), ok.size());
  longer.data()[ok.size()] = 'x';
  rejected(longer);
  // A string length past the end.
  Buffer cut = results_payload({1, 2}, {{0, "E", "m"}});
  const std::uint32_t too_long = 1000;
  std::memcpy(cut.data() + spawnpool::detail::kPackedResultPrefix + 8 + 8, &too_long, 4);
  rejected(cut);
}

TEST(PackedChunk, ArgsMustBeWholeRecords) {
  std::string args(8 + 3 * 12, '\0');
  const std::uint64_t three = 3;
  std::memcpy(args.data(), &three, 8);
  std::size_t count = 0;
  const ByteSpan records =
      spawnpool::detail::packed_records(ByteSpan{args.data(), args.size()}, 12, count);
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(records.size, 36u);
  using spawnpool::detail::BadArguments;
  EXPECT_THROW(spawnpool::detail::packed_records(ByteSpan{args.data(), args.size() - 1}, 12, count),
               BadArguments);
  EXPECT_THROW(spawnpool::detail::packed_records(ByteSpan{args.data(), 7}, 12, count), BadArguments);
  const std::uint64_t lie = 4;
  std::memcpy(args.data(), &lie, 8);
  EXPECT_THROW(spawnpool::detail::packed_records(ByteSpan{args.data(), args.size()}, 12, count),
               BadArguments);
}

}  // namespace packed
