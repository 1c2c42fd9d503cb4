#include <spawnpool/wait.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>

namespace spawnpool {

namespace detail {

namespace {

/// What a wait_any call waits on. The callbacks hold it weakly: once the call has returned, a
/// callback that fires later finds nothing and does nothing.
struct FirstCompletion {
  std::mutex mutex;
  std::condition_variable done;
  std::optional<std::size_t> index;
};

}  // namespace

std::optional<std::size_t> wait_any_state(const StateList& states, const Deadline& deadline) {
  bool any_valid = false;
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (!states[i]) continue;
    any_valid = true;
    if (states[i]->ready()) return i;
  }
  if (!any_valid) {
    throw Error("spawnpool::wait_any: no valid future to wait for (the range is empty, or every "
                "future is default-constructed or already consumed by get())");
  }
  auto first = std::make_shared<FirstCompletion>();
  const std::weak_ptr<FirstCompletion> weak = first;
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (!states[i]) continue;
    // Runs on the completing thread (or here, at once, if the state completed meanwhile).
    states[i]->on_complete([weak, i] {
      if (auto target = weak.lock()) {
        {
          std::lock_guard<std::mutex> lock(target->mutex);
          if (target->index) return;
          target->index = i;
        }
        target->done.notify_all();
      }
    });
    std::lock_guard<std::mutex> lock(first->mutex);
    if (first->index) break;  // no need to register on the rest
  }
  std::unique_lock<std::mutex> lock(first->mutex);
  const auto completed = [&] { return first->index.has_value(); };
  if (!deadline) {
    first->done.wait(lock, completed);
    return first->index;
  }
  if (first->done.wait_until(lock, *deadline, completed)) return first->index;
  // A state completes (and wakes its waiters) just before it runs its callbacks, so one may be
  // complete already with its callback still to come: that counts as completed in time.
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (states[i] && states[i]->ready()) return i;
  }
  return std::nullopt;
}

bool wait_all_states(const StateList& states, const Deadline& deadline) {
  for (const auto& state : states) {
    if (!state) continue;
    if (deadline) {
      if (!state->wait_until(*deadline)) return false;
    } else {
      state->wait();
    }
  }
  return true;
}

}  // namespace detail

/// Completed indices not yet handed out. Held strongly by the AsCompleted and weakly by the
/// callbacks, so abandoning an iteration frees it even while futures are still running.
struct AsCompleted::Shared {
  std::mutex mutex;
  std::condition_variable arrived;
  std::deque<std::size_t> completed;
  std::vector<bool> reported;  // per index: its callback has run
  // The states, to tell at a timeout whether one completed but has not run its callback yet. Weak:
  // the futures own their results, the iteration must not keep them alive.
  std::vector<std::weak_ptr<detail::TaskState>> states;
};

AsCompleted::AsCompleted(const detail::StateList& states, detail::Deadline deadline)
    : shared_(std::make_shared<Shared>()), deadline_(deadline) {
  shared_->reported.assign(states.size(), false);
  if (deadline_) shared_->states.assign(states.begin(), states.end());
  const std::weak_ptr<Shared> weak = shared_;
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (!states[i]) continue;
    ++total_;
    // Runs on the completing thread, or here at once for a state that is already complete, so
    // those come first, in index order.
    states[i]->on_complete([weak, i] {
      if (auto shared = weak.lock()) {
        {
          std::lock_guard<std::mutex> lock(shared->mutex);
          shared->completed.push_back(i);
          shared->reported[i] = true;
        }
        shared->arrived.notify_one();
      }
    });
  }
}

AsCompleted::AsCompleted(AsCompleted&&) noexcept = default;
AsCompleted& AsCompleted::operator=(AsCompleted&&) noexcept = default;
AsCompleted::~AsCompleted() = default;

bool AsCompleted::callback_pending() const {
  // Called with shared_->mutex held. A state completes (and wakes its waiters) just before it runs
  // its callbacks: one that is complete but not reported yet is about to arrive.
  for (std::size_t i = 0; i < shared_->states.size(); ++i) {
    if (shared_->reported[i]) continue;
    if (auto state = shared_->states[i].lock(); state && state->ready()) return true;
  }
  return false;
}

std::optional<std::size_t> AsCompleted::next() {
  if (!shared_ || yielded_ == total_) return std::nullopt;
  std::unique_lock<std::mutex> lock(shared_->mutex);
  const auto arrived = [this] { return !shared_->completed.empty(); };
  if (deadline_) {
    if (!shared_->arrived.wait_until(lock, *deadline_, arrived) && !callback_pending()) {
      throw Timeout("spawnpool::as_completed: " + std::to_string(total_ - yielded_) + " of " +
                    std::to_string(total_) +
                    " futures were still not complete when the timeout ran out");
    }
  }
  // Without a deadline, or with a completion whose callback is about to run: wait for it.
  shared_->arrived.wait(lock, arrived);
  const std::size_t index = shared_->completed.front();
  shared_->completed.pop_front();
  ++yielded_;
  return index;
}

}  // namespace spawnpool
