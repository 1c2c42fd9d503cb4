#include <spawnpool/detail/packed_chunk.hpp>

#include "exception_type.hpp"
#include "wire.hpp"

#include <spawnpool/detail/registry.hpp>
#include <spawnpool/errors.hpp>

#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>

namespace spawnpool::detail {

namespace {

template <class T>
T read_at(const char* at) {
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

/// Reads the failures that follow the results; the payload must end with the last one.
void read_failures(ByteSpan bytes, std::uint64_t expected, std::size_t count,
                   std::vector<PackedFailure>& failures) {
  wire::Reader in(bytes);
  failures.clear();
  for (std::uint64_t k = 0; k < expected; ++k) {
    PackedFailure failure;
    failure.index = in.get<std::uint64_t>();
    if (failure.index >= count || (!failures.empty() && failure.index <= failures.back().index)) {
      throw Error("spawnpool: a packed chunk's result names a failed call out of order or range");
    }
    failure.type_name = std::string(in.string32());
    failure.message = std::string(in.string32());
    failures.push_back(std::move(failure));
  }
  if (!in.at_end()) throw Error("spawnpool: a packed chunk's result has bytes left over");
}

}  // namespace

std::shared_ptr<void> packed_result_marker(ByteSpan, OutOfBandInput*) {
  throw Error("a packed chunk's result cannot have out-of-band bytes");
}

bool packed_has_failures(ByteSpan payload) {
  return payload.size >= kPackedResultPrefix && read_at<std::uint64_t>(payload.data + 8) != 0;
}

PackedCounts packed_counts(ByteSpan payload) {
  PackedCounts counts;
  if (payload.size < kPackedResultPrefix) return counts;
  counts.calls = read_at<std::uint64_t>(payload.data);
  counts.failed = std::min(counts.calls, read_at<std::uint64_t>(payload.data + 8));
  return counts;
}

std::string packed_task_name(std::string_view name) { return std::string(name) + "[packed]"; }

ByteSpan packed_records(ByteSpan args, std::size_t record_size, std::size_t& count) {
  if (args.size < kPackedArgsPrefix) throw BadArguments{"a packed chunk's count is missing"};
  const auto declared = read_at<std::uint64_t>(args.data);
  const std::size_t body = args.size - kPackedArgsPrefix;
  if (record_size == 0 || body % record_size != 0 || body / record_size != declared) {
    throw BadArguments{"a packed chunk declares " + std::to_string(declared) + " calls of " +
                       std::to_string(record_size) + " bytes but holds " + std::to_string(body) +
                       " bytes"};
  }
  count = static_cast<std::size_t>(declared);
  return ByteSpan{args.data + kPackedArgsPrefix, body};
}

void note_packed_failure(std::vector<PackedFailure>& failures, std::uint64_t index) {
  PackedFailure failure;
  failure.index = index;
  failure.type_name = current_exception_type();
  try {
    throw;
  } catch (const std::exception& e) {
    failure.message = e.what();
  } catch (...) {
    failure.message = "(not a std::exception)";
  }
  failures.push_back(std::move(failure));
}

Buffer finish_packed_results(Buffer buffer, std::size_t reserve_front, std::uint64_t count,
                             std::size_t value_size, const std::vector<PackedFailure>& failures) {
  const std::size_t results_end = reserve_front + kPackedResultPrefix + count * value_size;
  if (!failures.empty()) {
    std::size_t extra = 0;
    for (const PackedFailure& f : failures) {
      extra += 8 + 4 + f.type_name.size() + 4 + f.message.size();
    }
    Buffer grown(results_end + extra);
    std::memcpy(grown.data(), buffer.data(), results_end);
    char* out = grown.data() + results_end;
    auto put_string = [&](const std::string& s) {
      const auto size = static_cast<std::uint32_t>(s.size());
      std::memcpy(out, &size, 4);
      std::memcpy(out + 4, s.data(), s.size());
      out += 4 + s.size();
    };
    for (const PackedFailure& f : failures) {
      std::memcpy(out, &f.index, 8);
      out += 8;
      put_string(f.type_name);
      put_string(f.message);
    }
    buffer = std::move(grown);
  }
  const std::uint64_t failed = failures.size();
  std::memcpy(buffer.data() + reserve_front, &count, 8);
  std::memcpy(buffer.data() + reserve_front + 8, &failed, 8);
  return buffer;
}

ByteSpan read_packed_results(ByteSpan payload, std::size_t count, std::size_t value_size,
                             std::vector<PackedFailure>& failures) {
  if (payload.size < kPackedResultPrefix) {
    throw Error("spawnpool: a packed chunk's result is truncated");
  }
  const auto declared = read_at<std::uint64_t>(payload.data);
  const auto failed = read_at<std::uint64_t>(payload.data + 8);
  if (declared != count) {
    throw Error("spawnpool: a packed chunk's result holds " + std::to_string(declared) +
                " results for " + std::to_string(count) + " calls");
  }
  const std::size_t body = payload.size - kPackedResultPrefix;
  if (value_size != 0 && count > body / value_size) {
    throw Error("spawnpool: a packed chunk's result is truncated in its values");
  }
  const std::size_t values = count * value_size;
  // Each failure takes at least 16 bytes: a count beyond that is corrupt (and must not reserve).
  if (failed > count || failed > (body - values) / 16) {
    throw Error("spawnpool: a packed chunk's result declares " + std::to_string(failed) +
                " failures it cannot hold");
  }
  const char* start = payload.data + kPackedResultPrefix;
  read_failures(ByteSpan{start + values, body - values}, failed, count, failures);
  return ByteSpan{start, values};
}

}  // namespace spawnpool::detail
