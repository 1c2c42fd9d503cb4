#pragma once
/// @file future.hpp
/// Future<T>: the result of a task that runs on a worker.
///
/// Like std::future: get() is called once, after which the future is no longer valid(). A task's
/// exception comes back from get() as spawnpool::RemoteError.
///
/// Thread-safety: different Future objects may be used from different threads freely; one Future
/// object must not be used from two threads at once (same as std::future).

#include <spawnpool/detail/serialize.hpp>
#include <spawnpool/detail/task_state.hpp>
#include <spawnpool/errors.hpp>

#include <chrono>
#include <memory>
#include <type_traits>
#include <utility>

namespace spawnpool {

/// Result of Future::wait_for / wait_until, as in std::future_status.
enum class FutureStatus { ready, timeout };

template <class T>
class Future {
 public:
  using value_type = T;

  /// An empty future; valid() is false.
  Future() = default;

  /// True until get() has been called (or for a default-constructed future, never).
  bool valid() const noexcept { return state_ != nullptr; }

  /// True when the result (or error) is available; get() would not block.
  bool ready() const { return checked().ready(); }

  /// Blocks until the result or error is available.
  void wait() const { checked().wait(); }

  /// Waits at most `timeout`.
  template <class Rep, class Period>
  FutureStatus wait_for(const std::chrono::duration<Rep, Period>& timeout) const {
    return wait_until(std::chrono::steady_clock::now() + timeout);
  }

  /// Waits until `deadline` at the latest.
  template <class Clock, class Duration>
  FutureStatus wait_until(const std::chrono::time_point<Clock, Duration>& deadline) const {
    const auto steady_deadline =
        std::chrono::steady_clock::now() +
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(deadline - Clock::now());
    return checked().wait_until(steady_deadline) ? FutureStatus::ready : FutureStatus::timeout;
  }

  /// Cancels the task if it has not been sent to a worker yet; then get() throws Cancelled.
  /// Returns false when the task is already running or done. Thread-safe.
  bool cancel() { return checked().cancel(); }

  /// True when the task was cancelled.
  bool cancelled() const { return checked().phase() == detail::TaskState::Phase::kCancelled; }

  /// Waits for and returns the result; the future is invalid afterwards.
  /// @throws RemoteError      the task threw on its worker
  /// @throws UnregisteredTask the worker does not have the task
  /// @throws WorkerLost       the worker died while running it
  /// @throws Cancelled        the task was cancelled
  /// @throws BrokenExecutor   the executor shut down or broke before the task ran
  /// @throws Error            the result could not be decoded, or the future is not valid()
  T get() {
    std::shared_ptr<detail::TaskState> state = std::move(state_);
    if (!state) throw Error("spawnpool::Future::get() called on a future without a state "
                            "(default-constructed, or get() was already called)");
    state->wait();
    const detail::SharedBytes& bytes = state->result();
    if constexpr (!std::is_void_v<T>) {
      T value{};
      try {
        detail::deserialize_from(bytes.span, value);
      } catch (const std::exception& e) {
        throw Error("spawnpool: could not decode the result of task \"" + state->task_name() +
                    "\": " + e.what());
      }
      return value;
    }
  }

  /// Internal: used by Executor.
  explicit Future(std::shared_ptr<detail::TaskState> state) : state_(std::move(state)) {}
  /// Internal: the shared state (for wait_all / as_completed).
  const std::shared_ptr<detail::TaskState>& state() const noexcept { return state_; }

 private:
  detail::TaskState& checked() const {
    if (!state_) throw Error("spawnpool::Future used without a state (default-constructed, or "
                             "get() was already called)");
    return *state_;
  }

  std::shared_ptr<detail::TaskState> state_;
};

}  // namespace spawnpool
