#pragma once
// Futures as task arguments: pool.submit(fn, future_a, 3). The call is encoded and enqueued from the
// completion callback of the last input to resolve (the progress thread or a worker thread: it only
// decodes the inputs, encodes the call and queues it, never blocks). An input that failed fails the
// dependent call with the same exception; an input that was cancelled cancels it.

#include <spawnpool/detail/encode_calls.hpp>
#include <spawnpool/detail/submit_gate.hpp>
#include <spawnpool/detail/task_state.hpp>
#include <spawnpool/future.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace spawnpool::detail {

template <class A>
struct is_future : std::false_type {};
template <class T>
struct is_future<Future<T>> : std::true_type {};

/// True when the argument type A (as passed to submit) is a spawnpool::Future.
template <class A>
inline constexpr bool is_future_v = is_future<std::decay_t<A>>::value;

/// Whether an argument of type A may be passed for parameter P: converted directly, or a Future
/// whose value converts.
template <class P, class A, bool = is_future_v<A>>
struct accepts_argument : std::is_constructible<stored_t<P>, A> {};
template <class P, class A>
struct accepts_argument<P, A, true>
    : std::bool_constant<!std::is_void_v<typename std::decay_t<A>::value_type> &&
                         std::is_constructible_v<stored_t<P>,
                                                 typename std::decay_t<A>::value_type&&>> {};
template <class P, class A>
inline constexpr bool accepts_argument_v = accepts_argument<P, A>::value;

/// An argument held until the call is encoded: converted at submit for a plain value...
template <class P, class A>
struct HeldArgument {
  template <class X>
  explicit HeldArgument(X&& x) : value(std::forward<X>(x)) {}
  const stored_t<P>& get() const { return value; }
  static constexpr bool is_input = false;
  TaskState* input() const { return nullptr; }
  stored_t<P> value;
};

/// ...or the state of the input future, decoded once it resolved.
template <class P, class T>
struct HeldArgument<P, Future<T>> {
  explicit HeldArgument(const Future<T>& f) : state(f.state()) {
    if (!state) {
      throw Error("spawnpool::submit: a Future passed as a task argument has no state "
                  "(default-constructed, or get() was already called)");
    }
    state->share_result();
  }
  T get() const { return Future<T>(state).get(); }
  static constexpr bool is_input = true;
  TaskState* input() const { return state.get(); }
  std::shared_ptr<TaskState> state;
};

template <class Signature, class... Held>
class DependentCall;

/// One dependent call waiting for its inputs.
template <class R, class... P, class... Held>
class DependentCall<R(P...), Held...>
    : public std::enable_shared_from_this<DependentCall<R(P...), Held...>> {
 public:
  DependentCall(R (*fn)(P...), const TaskEntry& task, std::uint32_t threads,
                std::shared_ptr<SubmitGate::Shared> gate, std::tuple<Held...> held)
      : fn_(fn), task_(task), threads_(threads), gate_(std::move(gate)), held_(std::move(held)),
        state_(std::make_shared<TaskState>(task.name, result_decoder<R>())) {}

  const std::shared_ptr<TaskState>& state() const noexcept { return state_; }

  /// Registers on every input; the call is enqueued when the last one resolves.
  void start() {
    std::size_t inputs = 0;
    std::apply([&](const auto&... h) { ((inputs += h.is_input ? 1 : 0), ...); }, held_);
    waiting_.store(inputs);
    auto self = this->shared_from_this();
    auto watch = [&](const auto& h) {
      if constexpr (std::decay_t<decltype(h)>::is_input) {
        TaskState* input = h.input();  // alive while it runs its callbacks
        input->on_complete([self, input] { self->input_done(*input); });
      }
    };
    std::apply([&](const auto&... h) { (watch(h), ...); }, held_);
  }

 private:
  void input_done(TaskState& input) {
    if (input.phase() == TaskState::Phase::kCancelled) {
      if (!finished_.exchange(true)) state_->cancel();
      return;
    }
    try {
      input.result();
    } catch (...) {
      if (!finished_.exchange(true)) state_->set_error(std::current_exception());
      return;
    }
    if (waiting_.fetch_sub(1) != 1 || finished_.exchange(true)) return;
    if (state_->ready()) return;  // cancelled through its future meanwhile
    try {
      submit_through(*gate_, 1, [&](std::uint64_t id) {
        WorkItem item = std::apply(
            [&](const auto&... h) { return encode_call(fn_, task_, id, h.get()...); }, held_);
        wire::set_call_threads(item.message.data() + wire::kHeaderSize, threads_);
        item.calls.front().state = state_;
        return item;
      });
    } catch (...) {
      state_->set_error(std::current_exception());
    }
  }

  R (*fn_)(P...);
  const TaskEntry& task_;
  std::uint32_t threads_;
  std::shared_ptr<SubmitGate::Shared> gate_;
  std::tuple<Held...> held_;
  std::shared_ptr<TaskState> state_;
  std::atomic<std::size_t> waiting_{0};
  std::atomic<bool> finished_{false};
};

/// submit() with at least one Future among `args`.
template <class R, class... P, class... A>
Future<R> submit_dependent(std::shared_ptr<SubmitGate::Shared> gate, R (*fn)(P...),
                           const TaskEntry& task, std::uint32_t threads, A&&... args) {
  using Call = DependentCall<R(P...), HeldArgument<P, std::decay_t<A>>...>;
  auto call = std::make_shared<Call>(
      fn, task, threads, std::move(gate),
      std::tuple<HeldArgument<P, std::decay_t<A>>...>(
          HeldArgument<P, std::decay_t<A>>(std::forward<A>(args))...));
  call->start();
  return Future<R>(call->state());
}

}  // namespace spawnpool::detail
