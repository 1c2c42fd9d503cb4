#pragma once
// A unit the progress thread sends: one message buffer holding one or more encoded calls, and the
// futures' states those calls complete.

#include <spawnpool/detail/bytes.hpp>
#include <spawnpool/detail/task_state.hpp>
#include <spawnpool/detail/wire_format.hpp>

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
};

}  // namespace spawnpool::detail
