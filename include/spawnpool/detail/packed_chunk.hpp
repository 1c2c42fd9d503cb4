#pragma once
// Packed chunks: the fast path of map, starmap and submit_batch for tasks whose parameter and
// result types are all trivially copyable (numbers, plain structs). A chunk of such calls travels
// as ONE call of the task's packed twin (registered next to it as "<name>[packed]"), whose
// arguments are the chunk's argument tuples laid out as one array and whose result is one array
// of results: each side copies bytes, no cereal call, no per-call state, name or future.
//
// Args of a packed call (the args of its call entry, wire_format.hpp):
//   u64 count | count records, each the call's arguments' bytes back to back (no padding)
// Payload of its result (kOk even when some calls threw):
//   u64 count | u64 failures | count × sizeof(R) result bytes (none for void; a failed call's
//   slot holds a value-initialised R) | failures × (u64 index | u32 size | type name
//   | u32 size | message), indices increasing
// Both sides run the same build (the twin's signature is the task's, marked as packed), so the
// bytes are the objects' own.

#include <spawnpool/detail/bytes.hpp>

#include <memory>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace spawnpool::detail {

/// True when calls of a task R(P...) can travel as packed chunks: at least one parameter, and the
/// stored parameter types and the result (or void) all trivially copyable; not for a bool result
/// (std::vector<bool> has no array to copy into).
template <class R, class... P>
inline constexpr bool packable_v =
    sizeof...(P) > 0 &&
    (std::is_void_v<R> || (std::is_trivially_copyable_v<std::decay_t<R>> &&
                           std::is_default_constructible_v<std::decay_t<R>> &&
                           !std::is_same_v<std::decay_t<R>, bool>)) &&
    (std::is_trivially_copyable_v<std::remove_cv_t<std::remove_reference_t<P>>> && ...);

class OutOfBandInput;

/// The result decoder a packed call's TaskState is made with: it marks the state as a packed
/// chunk's (the result delivery then keeps where the chunk ran, see PackedOrigin). A packed result
/// never has out-of-band blocks, so it is never called to decode; if it is, it throws Error.
std::shared_ptr<void> packed_result_marker(ByteSpan payload, OutOfBandInput* out_of_band);

/// A packed chunk's result some of whose calls failed, with the worker that ran it (the manager
/// stores it as the state's decoded result, so that each failure's RemoteError names the worker).
struct PackedOrigin {
  SharedBytes payload;
  int worker_id = -1;
  long worker_pid = 0;
  std::string host;
};

/// True when `payload`, a packed chunk's result, reports failed calls (false when too short).
bool packed_has_failures(ByteSpan payload);

/// The calls a packed chunk's result holds and how many of them failed, as its prefix says (for
/// counting; zeros when too short; failed never above calls).
struct PackedCounts {
  std::uint64_t calls = 0;
  std::uint64_t failed = 0;
};
PackedCounts packed_counts(ByteSpan payload);

/// The name of the packed twin of task `name`.
std::string packed_task_name(std::string_view name);
/// The signature of the packed twin of a task of signature `signature`.
constexpr std::uint64_t packed_signature(std::uint64_t signature) {
  return signature ^ 0x7061636b65642121ull;  // "packed!!"
}

/// Bytes before the records of a packed call's args / the results of its payload.
inline constexpr std::size_t kPackedArgsPrefix = 8;
inline constexpr std::size_t kPackedResultPrefix = 16;

/// A call of a packed chunk that threw on the worker.
struct PackedFailure {
  std::uint64_t index = 0;  // in the chunk
  std::string type_name;
  std::string message;
};

/// The records of a packed call's args.
/// @throws BadArguments when the bytes are not `kPackedArgsPrefix` + count records of
///         `record_size` bytes
ByteSpan packed_records(ByteSpan args, std::size_t record_size, std::size_t& count);

/// Records the exception being handled as the failure of call `index` (call inside a catch block).
void note_packed_failure(std::vector<PackedFailure>& failures, std::uint64_t index);

/// The result payload of a packed call: `results` (count × value_size bytes, written by the
/// caller into the returned buffer at reserve_front + kPackedResultPrefix) are already in
/// `buffer`; appends `failures` (growing the buffer) and writes the prefix.
Buffer finish_packed_results(Buffer buffer, std::size_t reserve_front, std::uint64_t count,
                             std::size_t value_size, const std::vector<PackedFailure>& failures);

/// A packed call's result payload, checked: where the `count` results of `value_size` bytes are,
/// and the failures.
/// @throws Error when the payload is corrupt or truncated, or holds another count
ByteSpan read_packed_results(ByteSpan payload, std::size_t count, std::size_t value_size,
                             std::vector<PackedFailure>& failures);

}  // namespace spawnpool::detail
