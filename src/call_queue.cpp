#include "call_queue.hpp"

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

void CallQueue::fail_all(const std::exception_ptr& error) {
  fail_items(items_, error);
  calls_ = 0;
}

void CallQueue::cancel_all() {
  cancel_items(items_);
  calls_ = 0;
}

}  // namespace spawnpool::detail
