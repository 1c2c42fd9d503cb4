#pragma once
/// @file future.hpp
/// Future<T>: the result of a task that runs on a worker.
///
/// Like std::future: get() is called once, after which the future is no longer valid(). A task's
/// exception comes back from get() as spawnpool::RemoteError.
///
/// Thread-safety: different Future objects may be used from different threads freely; one Future
/// object must not be used from two threads at once (same as std::future).
///
/// Composing futures:
/// @code
///   spawnpool::Future<int> a = pool.submit(square, 3);
///   spawnpool::Future<int> b = pool.submit(add, a, 1);          // runs once `a` is done: add(9, 1)
///   spawnpool::Future<std::string> c = a.then([](int x) { return std::to_string(x); });
/// @endcode
/// A Future passed as a task argument (see Executor::submit) or continued with then() is only
/// observed, not consumed: it stays valid and its own get() still works.

#include <spawnpool/detail/continuation_thread.hpp>
#include <spawnpool/detail/serialize.hpp>
#include <spawnpool/detail/task_state.hpp>
#include <spawnpool/errors.hpp>

#include <chrono>
#include <exception>
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
      if (const std::shared_ptr<void>& decoded = state->decoded()) {
        // A result that came with out-of-band blocks, decoded on arrival: moved out, unless a
        // continuation or a dependent call reads it too (then each gets a copy).
        T& stored = *static_cast<T*>(decoded.get());
        if (!state->result_shared()) return std::move(stored);
        return stored;
      }
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

  /// Continuation: a future for the result of `f` applied to this future's outcome, once it is
  /// complete. Two forms, chosen by what `f` accepts:
  ///  - `f(T)` (or `f()` for Future<void>): called with the value. If this future fails or is
  ///    cancelled, `f` is not called and the returned future fails with the same exception (or is
  ///    cancelled).
  ///  - `f(Future<T>)`: called with a ready future sharing this one's state, whatever the outcome
  ///    (call get() inside to see the value or the error).
  /// An exception thrown by `f` is what the returned future's get() throws (as is, not wrapped in
  /// RemoteError). `f`'s result must be void or a type a task could return (cereal-serializable,
  /// default-constructible): it is stored encoded, like a task's result.
  ///
  /// Where `f` runs: on spawnpool's continuation thread (one per process, shared by all futures),
  /// never on an executor's progress thread or worker threads. Continuations run one at a time in
  /// the order their futures completed, so `f` should be short; it may submit tasks and may wait
  /// for other tasks' futures, but waiting for another continuation's future from inside `f`
  /// deadlocks. Cancelling the returned future before `f` starts skips `f`.
  ///
  /// This future stays valid (then() only observes it).
  /// @throws Error when this future is not valid()
  /// Thread-safety: as any other use of this Future object.
  template <class F>
  auto then(F f) {
    using U = typename ThenTraits<F>::type;
    static_assert(std::is_void_v<U> || std::is_default_constructible_v<U>,
                  "spawnpool::Future::then: the continuation's result must be default-constructible "
                  "(it is stored encoded, like a task's result)");
    std::shared_ptr<detail::TaskState> source = checked_state();
    source->share_result();
    auto next = std::make_shared<detail::TaskState>(source->task_name());
    source->on_complete([source, next, f = std::move(f)]() mutable {
      detail::ContinuationThread::instance().post(
          [source = std::move(source), next, f = std::move(f)]() mutable {
            run_continuation<U>(f, source, *next);
          });
    });
    return Future<U>(std::move(next));
  }

  /// Internal: used by Executor.
  explicit Future(std::shared_ptr<detail::TaskState> state) : state_(std::move(state)) {}
  /// Internal: the shared state (for wait_all / as_completed).
  const std::shared_ptr<detail::TaskState>& state() const noexcept { return state_; }

 private:
  template <class F, class = void>
  struct ThenTraits {
    static constexpr bool takes_future = false;
    using type = typename std::conditional_t<std::is_void_v<T>, std::invoke_result<F>,
                                             std::invoke_result<F, T>>::type;
  };

  template <class F>
  struct ThenTraits<F, std::enable_if_t<std::is_invocable_v<F, Future<T>>>> {
    static constexpr bool takes_future = true;
    using type = std::invoke_result_t<F, Future<T>>;
  };

  const std::shared_ptr<detail::TaskState>& checked_state() const {
    checked();
    return state_;
  }

  template <class U, class F>
  static void run_continuation(F& f, const std::shared_ptr<detail::TaskState>& source,
                               detail::TaskState& next) {
    if (!ThenTraits<F>::takes_future && source->phase() == detail::TaskState::Phase::kCancelled) {
      next.cancel();  // the value never came: the continuation is cancelled too
      return;
    }
    if (!next.mark_sent()) return;  // the continuation's future was cancelled
    try {
      if constexpr (ThenTraits<F>::takes_future) {
        complete_with<U>(next, [&] { return f(Future<T>(source)); });
      } else if constexpr (std::is_void_v<T>) {
        Future<T>(source).get();
        complete_with<U>(next, [&] { return f(); });
      } else {
        T value = Future<T>(source).get();
        complete_with<U>(next, [&] { return f(std::move(value)); });
      }
    } catch (...) {
      next.set_error(std::current_exception());
    }
  }

  template <class U, class Call>
  static void complete_with(detail::TaskState& next, Call&& call) {
    if constexpr (std::is_void_v<U>) {
      call();
      next.set_value(detail::SharedBytes{});
    } else {
      U result = call();
      const std::size_t size = detail::serialized_size(result);
      auto buffer = std::make_shared<detail::Buffer>(size);
      detail::serialize_into(buffer->data(), size, result);
      const detail::ByteSpan span{buffer->data(), buffer->size()};
      next.set_value(detail::SharedBytes{std::move(buffer), span});
    }
  }

  detail::TaskState& checked() const {
    if (!state_) throw Error("spawnpool::Future used without a state (default-constructed, or "
                             "get() was already called)");
    return *state_;
  }

  std::shared_ptr<detail::TaskState> state_;
};

}  // namespace spawnpool
