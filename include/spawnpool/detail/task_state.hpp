#pragma once
// The shared state behind one Future: filled by the manager's progress thread (or by a waiting
// thread that drives the pool's progress itself, see progress_driver.hpp), read by user threads.

#include <spawnpool/detail/bytes.hpp>
#include <spawnpool/detail/progress_driver.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace spawnpool::detail {

class OutOfBandInput;

class TaskState {
 public:
  enum class Phase : int { kQueued, kSent, kDone, kCancelled };

  /// Decodes an encoded result into a new object of the future's type (its out-of-band blocks
  /// noted by the OutOfBandInput, to be received into it afterwards). Throws on corrupt input.
  using ResultDecoder = std::shared_ptr<void> (*)(ByteSpan bytes, OutOfBandInput* out_of_band);

  /// `result_decoder`: how to decode a result that comes with out-of-band blocks (nullptr: void
  /// task).
  explicit TaskState(std::string name, ResultDecoder result_decoder = nullptr)
      : task_name_(std::move(name)), decoder_(result_decoder) {}

  const std::string& task_name() const noexcept { return task_name_; }
  ResultDecoder decoder() const noexcept { return decoder_; }

  /// A packed chunk's state (packed_chunk.hpp) stands for this many calls; 0 for a plain call.
  /// Set once, before the state is handed to a pool.
  void set_packed_calls(std::size_t calls) noexcept { packed_calls_ = calls; }
  std::size_t packed_calls() const noexcept { return packed_calls_; }
  /// The calls this state stands for, as Stats counts them: a packed chunk's, else 1.
  std::size_t calls_held() const noexcept { return packed_calls_ != 0 ? packed_calls_ : 1; }

  /// Queued -> Sent. False when the task was cancelled first (then it must not be sent).
  bool mark_sent() {
    Phase expected = Phase::kQueued;
    return phase_.compare_exchange_strong(expected, Phase::kSent);
  }
  /// Queued -> Cancelled, completing the state with a Cancelled error. False once the task was sent.
  bool cancel();

  /// Completes with the encoded result (a view into the received message).
  void set_value(SharedBytes result);
  /// Completes with a result already decoded by decoder() (one that had out-of-band blocks).
  void set_decoded(std::shared_ptr<void> value);
  /// Completes with an exception.
  void set_error(std::exception_ptr error);

  bool ready() const noexcept { return completed_.load(std::memory_order_acquire); }
  Phase phase() const noexcept { return phase_.load(); }
  /// Waiting threads first drive the progress of the pool this state was handed to (if any).
  void wait() const;
  /// True when completed before the deadline.
  bool wait_until(std::chrono::steady_clock::time_point deadline) const;

  /// The pool that will complete this state: waiters may drive its progress. Thread-safe.
  void set_driver(std::shared_ptr<DriverLink> driver);

  /// After completion: rethrows the error, or returns the encoded result.
  const SharedBytes& result() const;
  /// After completion without error: the decoded result given to set_decoded (else null).
  const std::shared_ptr<void>& decoded() const noexcept { return decoded_; }
  /// Marks the result as read by more than the task's own future (a continuation, a dependent
  /// call): its get() then copies a decoded result instead of moving it out. Thread-safe.
  void share_result() noexcept { result_shared_.store(true); }
  bool result_shared() const noexcept { return result_shared_.load(); }

  /// Runs `callback` once the state completes (at once, on this thread, if it already has).
  /// Callbacks run on the thread that completes the state and must not block.
  void on_complete(std::function<void()> callback);

 private:
  void complete();
  void drive_until(std::chrono::steady_clock::time_point deadline) const;

  std::string task_name_;
  ResultDecoder decoder_;
  std::size_t packed_calls_ = 0;
  std::atomic<Phase> phase_{Phase::kQueued};
  std::atomic<bool> completed_{false};
  std::atomic<bool> result_shared_{false};
  mutable std::mutex mutex_;
  mutable std::condition_variable done_;
  SharedBytes result_;
  std::shared_ptr<void> decoded_;
  std::exception_ptr error_;
  std::vector<std::function<void()>> callbacks_;
  std::shared_ptr<DriverLink> driver_;
};

}  // namespace spawnpool::detail
