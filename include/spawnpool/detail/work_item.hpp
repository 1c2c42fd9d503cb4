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
  /// Processes that run the item's one call together (a k-rank task, TaskOptions::ranks); > 1
  /// only in static and communicator mode, where the pool forms a group of idle ranks for it.
  int ranks = 1;
  /// Its ranks on as many hosts as possible (TaskOptions::spread) instead of on one host.
  bool spread_ranks = false;
};

/// The calls `calls` stand for, as Stats counts them: a packed chunk counts each call it holds.
inline std::size_t calls_held(const std::vector<PendingCall>& calls) {
  std::size_t held = 0;
  for (const PendingCall& call : calls) held += call.state->calls_held();
  return held;
}

}  // namespace spawnpool::detail
