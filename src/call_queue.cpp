#include "call_queue.hpp"

#include "wire.hpp"

#include <cstring>
#include <iterator>

namespace spawnpool::detail {

void fail_items(std::deque<WorkItem>& items, const std::exception_ptr& error) {
  for (auto& item : items) {
    for (auto& call : item.calls) call.state->set_error(error);
  }
  items.clear();
}

void cancel_items(std::deque<WorkItem>& items) {
  for (auto& item : items) {
    for (auto& call : item.calls) call.state->cancel();
  }
  items.clear();
}

void CallQueue::append(std::deque<WorkItem>& items) {
  for (auto& item : items) {
    calls_ += item.calls.size();
    items_.push_back(std::move(item));
  }
  items.clear();
}

void CallQueue::push_front(WorkItem item) {
  calls_ += item.calls.size();
  items_.push_front(std::move(item));
}

WorkItem CallQueue::pop_front() {
  WorkItem item = std::move(items_.front());
  items_.pop_front();
  calls_ -= item.calls.size();
  return item;
}

WorkItem CallQueue::pop_front(std::size_t most_calls) {
  WorkItem& front = items_.front();
  if (most_calls == 0 || front.calls.size() <= most_calls || !front.out_of_band.empty() ||
      front.requeued) {
    return pop_front();
  }
  // The first `most_calls` entries go into a message of their own, the others into a new one.
  const char* entries = front.message.data() + wire::kHeaderSize;
  const char* end = front.message.data() + front.message.size();
  wire::Reader in(ByteSpan{entries, static_cast<std::size_t>(end - entries)});
  for (std::size_t i = 0; i < most_calls; ++i) (void)wire::read_call(in);
  const std::size_t head_bytes = static_cast<std::size_t>(in.position() - entries);
  const std::size_t rest_bytes = static_cast<std::size_t>(end - in.position());

  WorkItem head;
  head.message = Buffer(wire::kHeaderSize + head_bytes);
  std::memcpy(head.message.data() + wire::kHeaderSize, entries, head_bytes);
  head.calls.assign(std::make_move_iterator(front.calls.begin()),
                    std::make_move_iterator(front.calls.begin() + static_cast<std::ptrdiff_t>(most_calls)));
  Buffer rest(wire::kHeaderSize + rest_bytes);
  std::memcpy(rest.data() + wire::kHeaderSize, in.position(), rest_bytes);
  front.message = std::move(rest);
  front.calls.erase(front.calls.begin(), front.calls.begin() + static_cast<std::ptrdiff_t>(most_calls));
  calls_ -= most_calls;
  return head;
}

void CallQueue::fail_all(const std::exception_ptr& error) {
  fail_items(items_, error);
  calls_ = 0;
}

void CallQueue::cancel_all() {
  cancel_items(items_);
  calls_ = 0;
}

}  // namespace spawnpool::detail
