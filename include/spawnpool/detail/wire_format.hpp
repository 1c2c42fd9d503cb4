#pragma once
// The byte layout of spawnpool messages. Manager and workers run the same build of this file; the
// protocol version in every header guards against mixing builds.
//
// Every MPI message is   [Header: 48 bytes][body: header.body_size bytes]
// A message whose total size exceeds the per-MPI-message limit is announced by its bare header and
// then sent in parts (on the session's continuation tag) from the same sender, received straight
// into one buffer.
//
// Out-of-band blocks: an entry (call or result) may leave its large contiguous arrays out of its
// args/payload (serialize.hpp, kOutOfBandMin). Its `oob_size` says how many bytes it left out; the
// header's oob_size is the sum over the message. Those bytes follow the message, after its parts if
// it has any, on the continuation tag as one stream: the blocks in entry order, cut into MPI
// messages of header.oob_part_size bytes (the last one shorter) regardless of block boundaries.
// The sender sends them from the objects themselves; the receiver decodes the entries first and
// receives the stream straight into the decoded objects.
//
// Sessions: every executor talks to its workers on its own pair of tags (session_tag(s) for
// messages, +1 for continuation parts), so several executors can share one communicator and the
// same workers (static mode) without mixing their messages. Session 0 also carries kExit.
//
// Body of a kTasks message: header.count call entries, each
//   u64 call_id | u64 signature | u32 threads | u32 name_size | name | u64 args_size
//   | u64 args_oob_size | args
//   (args: cereal binary, or for a packed chunk's call the array of packed_chunk.hpp;
//    threads: 0, or the thread count the task asked for)
// Body of a kResults message: header.count result entries, each
//   u64 call_id | u8 ResultStatus | u64 started_us | u64 ended_us | u64 payload_size
//   | u64 payload_oob_size | payload
//   (started/ended: the worker's wall clock, microseconds since the epoch)
//   (payload: cereal binary result for kOk, or a packed chunk's array of results; for errors
//    u32 size | type name | u32 size | message)
// Integers are in host byte order: a pool is homogeneous.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace spawnpool::detail::wire {

inline constexpr std::uint32_t kMagic = 0x50575053;  // "SPWP" in memory on little-endian
// 6: packed chunks (packed_chunk.hpp): a manager sends calls of "<name>[packed]", which a worker
// of an older build would not know.
inline constexpr std::uint16_t kProtocolVersion = 6;
inline constexpr int kTagBase = 21328;  // tags reserved for spawnpool on its own communicators
inline constexpr int kSessionTagSlots = 4096;

/// The message tag of session `session`; its continuation parts use the next tag.
constexpr int session_tag(unsigned session) {
  return kTagBase + 2 * static_cast<int>(session % kSessionTagSlots);
}
/// True for a tag session_tag() can produce.
constexpr bool is_session_tag(int tag) {
  return tag >= kTagBase && tag < kTagBase + 2 * kSessionTagSlots && (tag - kTagBase) % 2 == 0;
}

// The control messages (hello, ready, loss report) are cereal-encoded structs, written and read in
// src/control_messages.hpp; the kinds without a body are bare headers.
enum class Kind : std::uint16_t {
  kHello = 1,     // manager -> worker: Hello (settings, worker set-up)
  kReady = 2,     // worker -> manager: Ready (pid, host, program, set-up outcome)
  kTasks = 3,     // manager -> worker: call entries
  kResults = 4,   // worker -> manager: result entries
  kShutdown = 5,  // manager -> worker: finish queued messages, then leave
  kBye = 6,       // worker -> manager: this session is over
  kExit = 7,      // manager -> static worker (session 0): the job is over, leave the serve loop
  // On the control tag of a spawned worker's intercommunicator:
  kHeartbeat = 8,  // both ways, about once a second: "still here"
  kLost = 9,       // worker -> manager: LossReport: this worker is about to die, and why
  // Static and communicator mode, on the session's tag:
  kGroup = 10,  // manager -> each of k ranks: StaticGroup (static_group.hpp): form a group for the
                // next call; its rank 0 then gets the call (kTasks), the others answer kResults
                // with no entries when the call is over
};

/// Tag of control messages (heartbeats, loss reports) on a spawned worker's intercommunicator.
inline constexpr int kControlTag = kTagBase - 2;
/// Tag of a pool service client's token and the service's answer (src/service/service_token.hpp).
inline constexpr int kAdmissionTag = kTagBase - 4;

enum class ResultStatus : std::uint8_t {
  kOk = 0,
  kException = 1,          // the task threw
  kUnknownTask = 2,        // the worker has no task of that name
  kBadArguments = 3,       // the arguments could not be decoded
  kSignatureMismatch = 4,  // same name, different parameter/result types
};

struct Header {
  std::uint32_t magic = kMagic;
  std::uint16_t version = kProtocolVersion;
  std::uint16_t kind = 0;
  std::uint32_t count = 0;      // entries in the body
  std::uint32_t part_size = 0;  // 0: one MPI message; else announced, sent in parts of this size
  std::uint64_t body_size = 0;  // bytes after the header
  std::uint64_t aux = 0;        // kResults: nanoseconds the worker spent running the calls
  std::uint64_t oob_size = 0;   // out-of-band bytes following the message (sum over its entries)
  std::uint32_t oob_part_size = 0;  // size of the MPI messages the out-of-band stream is cut into
  std::uint32_t reserved = 0;
};
static_assert(sizeof(Header) == 48, "the header layout is part of the protocol");
inline constexpr std::size_t kHeaderSize = sizeof(Header);

/// Bytes a call entry takes before its args.
inline constexpr std::size_t call_entry_overhead(std::size_t name_size) {
  return 8 + 8 + 4 + 4 + name_size + 8 + 8;
}
/// Bytes a result entry takes before its payload.
inline constexpr std::size_t kResultEntryOverhead = 8 + 1 + 8 + 8 + 8 + 8;

template <class T>
inline char* put(char* out, T value) {
  std::memcpy(out, &value, sizeof value);
  return out + sizeof value;
}
inline char* put_bytes(char* out, const void* data, std::size_t size) {
  if (size) std::memcpy(out, data, size);
  return out + size;
}

/// Writes the part of a call entry that precedes the args; returns where the args go.
inline char* put_call_prefix(char* out, std::uint64_t call_id, std::uint64_t signature,
                             std::string_view name, std::uint64_t args_size,
                             std::uint64_t args_oob_size = 0, std::uint32_t threads = 0) {
  out = put(out, call_id);
  out = put(out, signature);
  out = put(out, threads);
  out = put(out, static_cast<std::uint32_t>(name.size()));
  out = put_bytes(out, name.data(), name.size());
  out = put(out, args_size);
  return put(out, args_oob_size);
}

/// Sets the thread count of the call entry at `entry`.
inline void set_call_threads(char* entry, std::uint32_t threads) { put(entry + 16, threads); }

/// Writes the part of a result entry that precedes the payload; returns where the payload goes.
inline char* put_result_prefix(char* out, std::uint64_t call_id, ResultStatus status,
                               std::uint64_t payload_size, std::uint64_t payload_oob_size = 0,
                               std::uint64_t started_us = 0, std::uint64_t ended_us = 0) {
  out = put(out, call_id);
  out = put(out, static_cast<std::uint8_t>(status));
  out = put(out, started_us);
  out = put(out, ended_us);
  out = put(out, payload_size);
  return put(out, payload_oob_size);
}

}  // namespace spawnpool::detail::wire
