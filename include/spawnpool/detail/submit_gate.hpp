#pragma once
// Submitting later, from another thread: dependent tasks (futures as arguments) are enqueued from a
// completion callback, and submit_batch keeps enqueueing chunks after it returned. Both go through
// the executor's SubmitGate, which the executor closes when it is destroyed, so late work meets a
// BrokenExecutor instead of a dangling executor.

#include <spawnpool/detail/work_item.hpp>
#include <spawnpool/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>

namespace spawnpool::detail {

class SubmitGate {
 public:
  /// What the gate submits to: an executor and two of its private members.
  struct Target {
    void* owner = nullptr;
    std::uint64_t (*reserve_ids)(void* owner, std::size_t count) = nullptr;
    void (*enqueue)(void* owner, WorkItem&& item) = nullptr;
  };
  struct Shared {
    std::mutex mutex;
    Target target;
  };

  SubmitGate() = default;
  /// A moved-to executor binds its own gate on first use; the moved-from one keeps its gate (which
  /// reaches the moved-from executor, whose submits throw BrokenExecutor).
  SubmitGate(SubmitGate&&) noexcept {}
  SubmitGate& operator=(SubmitGate&&) noexcept { return *this; }
  SubmitGate(const SubmitGate&) = delete;
  SubmitGate& operator=(const SubmitGate&) = delete;
  ~SubmitGate() { close(); }

  /// The shared end of the gate, (re)pointed at `target`. Thread-safe with respect to submit().
  std::shared_ptr<Shared> bind(const Target& target) {
    std::lock_guard<std::mutex> lock(bind_mutex_);
    if (!shared_) shared_ = std::make_shared<Shared>();
    std::lock_guard<std::mutex> target_lock(shared_->mutex);
    shared_->target = target;
    return shared_;
  }

  /// Later submits through this gate throw BrokenExecutor; waits for one in progress.
  void close() {
    std::lock_guard<std::mutex> lock(bind_mutex_);
    if (!shared_) return;
    std::lock_guard<std::mutex> target_lock(shared_->mutex);
    shared_->target = Target{};
  }

 private:
  std::mutex bind_mutex_;
  std::shared_ptr<Shared> shared_;
};

/// Reserves `count` call ids, builds the WorkItem with `make(first_id)` and enqueues it, all while
/// the executor cannot go away.
/// @throws BrokenExecutor when the executor is gone (or from its enqueue), or what `make` throws
template <class Make>
void submit_through(SubmitGate::Shared& gate, std::size_t count, Make&& make) {
  std::lock_guard<std::mutex> lock(gate.mutex);
  const SubmitGate::Target& target = gate.target;
  if (target.owner == nullptr) {
    throw BrokenExecutor("spawnpool: cannot submit: the executor was destroyed before this work "
                         "could be submitted");
  }
  WorkItem item = make(target.reserve_ids(target.owner, count));
  target.enqueue(target.owner, std::move(item));
}

}  // namespace spawnpool::detail
