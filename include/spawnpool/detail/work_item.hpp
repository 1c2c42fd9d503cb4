#pragma once
// A unit the progress thread sends: one message buffer holding one or more encoded calls, and the
// futures' states those calls complete.

#include <spawnpool/detail/bytes.hpp>
#include <spawnpool/detail/task_state.hpp>
#include <spawnpool/detail/wire_format.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace spawnpool::detail {

struct PendingCall {
  std::uint64_t id;
  std::shared_ptr<TaskState> state;
};

struct WorkItem {
  Buffer message;  // wire::kHeaderSize unwritten bytes, then the call entries
  OutOfBand out_of_band;  // the entries' out-of-band blocks (wire_format.hpp), in entry order
  std::vector<PendingCall> calls;
  bool requeued = false;  // sent once to a worker that was lost before starting it
  std::size_t packed_calls = 0;  // a packed chunk (packed_chunk.hpp): the calls it holds; else 0
};

/// The calls `item` stands for, as Stats counts them: a packed chunk counts each call it holds.
inline std::size_t calls_in(const WorkItem& item) {
  return item.packed_calls != 0 ? item.packed_calls : item.calls.size();
}

}  // namespace spawnpool::detail
