#pragma once
// Encoded calls waiting for a worker, in order, and the ways a batch of waiting calls ends without
// running (an error, a cancel). Not thread-safe: the engine's queue is engine-only; user threads
// hand work over through the engine's own locked list.

#include <spawnpool/detail/work_item.hpp>

#include <cstddef>
#include <deque>
#include <exception>

namespace spawnpool::detail {

/// Fails every call of `items` with `error` and empties it.
void fail_items(std::deque<WorkItem>& items, const std::exception_ptr& error);
/// Cancels every call of `items` and empties it.
void cancel_items(std::deque<WorkItem>& items);

class CallQueue {
 public:
  bool empty() const noexcept { return items_.empty(); }
  /// Calls waiting (an item holds one or more).
  std::size_t calls() const noexcept { return calls_; }
  const WorkItem& front() const { return items_.front(); }

  /// Takes every item of `items` (emptied) at the back.
  void append(std::deque<WorkItem>& items);
  /// Puts an item back in front (calls of a lost worker that never started).
  void push_front(WorkItem item);
  WorkItem pop_front();
  /// Takes the front item, or only its first `most_calls` calls when it holds more: the rest stays
  /// in front, in order, as an item of its own. Items with out-of-band blocks and items sent once
  /// before are taken whole.
  /// @throws wire::ProtocolError if the item's call entries cannot be read (a bug)
  WorkItem pop_front(std::size_t most_calls);

  void fail_all(const std::exception_ptr& error);
  void cancel_all();

 private:
  std::deque<WorkItem> items_;
  std::size_t calls_ = 0;
};

}  // namespace spawnpool::detail
