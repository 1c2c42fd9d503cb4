#pragma once
/// @file wait.hpp
/// Waiting on several futures at once: wait_all, wait_any, as_completed. They work with the
/// futures of any executor, take any range of Future<T> (a std::vector, an array, a MapResult's
/// futures(), ...), and block without polling: each registers a completion callback on the
/// futures it waits for.
///
/// @code
///   std::vector<spawnpool::Future<double>> futures = ...;
///   for (std::size_t i : spawnpool::as_completed(futures)) {   // in completion order
///     double x = futures[i].get();                              // ready: does not block
///   }
///   std::size_t first = spawnpool::wait_any(futures);          // index of a completed future
///   spawnpool::wait_all(futures);                              // all complete
///   spawnpool::wait_all(f_int, f_string);                      // futures of different types
/// @endcode
///
/// A future completes with a value, with an error (get() throws) or by being cancelled; all three
/// count as complete here, and none of these functions calls get() or throws a task's error.
/// Futures that are not valid() (default-constructed, or already consumed by get()) are skipped.
///
/// Thread-safety: these functions only read the futures (their shared states are thread-safe);
/// the usual rule applies that one Future object must not be used from two threads at once.

#include <spawnpool/detail/next_iterator.hpp>
#include <spawnpool/errors.hpp>
#include <spawnpool/future.hpp>

#include <chrono>
#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace spawnpool {

namespace detail {

using StateList = std::vector<std::shared_ptr<TaskState>>;
using Deadline = std::optional<std::chrono::steady_clock::time_point>;

/// Enables the range overloads for ranges whose elements are Futures.
template <class Range>
using future_range_t = decltype(std::begin(std::declval<const Range&>())->state());

/// The states of a range of futures, one per element, nullptr for a future that is not valid().
template <class Range>
StateList states_of(const Range& futures) {
  StateList states;
  for (const auto& f : futures) states.push_back(f.state());
  return states;
}

template <class... T>
StateList states_of_each(const Future<T>&... futures) {
  return StateList{futures.state()...};
}

/// The index of the first state to complete (the lowest index among those already complete);
/// nullopt when `deadline` passes first.
/// @throws Error when `states` holds no valid state
std::optional<std::size_t> wait_any_state(const StateList& states, const Deadline& deadline);

/// True when every valid state completed before `deadline` (or, without one, when they all have).
bool wait_all_states(const StateList& states, const Deadline& deadline);

template <class Rep, class Period>
std::chrono::steady_clock::time_point deadline_after(
    const std::chrono::duration<Rep, Period>& timeout) {
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
}

template <class Clock, class Duration>
std::chrono::steady_clock::time_point steady_deadline(
    const std::chrono::time_point<Clock, Duration>& deadline) {
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(deadline - Clock::now());
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// wait_all

/// Blocks until every future of the range is complete.
template <class Range, class = detail::future_range_t<Range>>
void wait_all(const Range& futures) {
  detail::wait_all_states(detail::states_of(futures), std::nullopt);
}

/// Blocks until every one of the given futures (of any result types) is complete.
template <class... T>
void wait_all(const Future<T>&... futures) {
  detail::wait_all_states(detail::states_of_each(futures...), std::nullopt);
}

/// Waits at most `timeout` for every future of the range; true when all are complete.
template <class Range, class Rep, class Period, class = detail::future_range_t<Range>>
bool wait_all_for(const Range& futures, const std::chrono::duration<Rep, Period>& timeout) {
  return detail::wait_all_states(detail::states_of(futures), detail::deadline_after(timeout));
}

/// Waits until `deadline` at the latest for every future of the range; true when all are complete.
template <class Range, class Clock, class Duration, class = detail::future_range_t<Range>>
bool wait_all_until(const Range& futures,
                    const std::chrono::time_point<Clock, Duration>& deadline) {
  return detail::wait_all_states(detail::states_of(futures), detail::steady_deadline(deadline));
}

// ---------------------------------------------------------------------------------------------
// wait_any
//
// Each call registers a small callback on every future that is not complete yet; the callbacks are
// released as those futures complete. To handle many futures one by one in completion order, use
// as_completed, which registers once, rather than calling wait_any in a loop.

/// Blocks until at least one future of the range is complete and returns its index in the range
/// (when several are complete already, the lowest such index).
/// @throws Error when the range holds no valid future (the wait could never end)
template <class Range, class = detail::future_range_t<Range>>
std::size_t wait_any(const Range& futures) {
  return *detail::wait_any_state(detail::states_of(futures), std::nullopt);
}

/// Blocks until at least one of the given futures (of any result types) is complete and returns its
/// position among the arguments (0 for the first).
/// @throws Error when none of them is valid()
template <class T, class... U>
std::size_t wait_any(const Future<T>& first, const Future<U>&... rest) {
  return *detail::wait_any_state(detail::states_of_each(first, rest...), std::nullopt);
}

/// wait_any() waiting at most `timeout`: the index, or nullopt when none completed in time.
/// A future that is complete at the deadline is never reported as a timeout.
/// @throws Error when the range holds no valid future
template <class Range, class Rep, class Period, class = detail::future_range_t<Range>>
std::optional<std::size_t> wait_any_for(const Range& futures,
                                        const std::chrono::duration<Rep, Period>& timeout) {
  return detail::wait_any_state(detail::states_of(futures), detail::deadline_after(timeout));
}

/// wait_any() waiting until `deadline` at the latest: the index, or nullopt when none completed.
/// @throws Error when the range holds no valid future
template <class Range, class Clock, class Duration, class = detail::future_range_t<Range>>
std::optional<std::size_t> wait_any_until(const Range& futures,
                                          const std::chrono::time_point<Clock, Duration>& deadline) {
  return detail::wait_any_state(detail::states_of(futures), detail::steady_deadline(deadline));
}

// ---------------------------------------------------------------------------------------------
// as_completed

/// The indices of a set of futures in the order they complete; what as_completed() returns.
/// A single-pass input range: iterate it once (begin() waits for the first completion, each ++ for
/// the next), or call next() directly. Futures already complete when it is created come first, in
/// index order. It keeps no reference to the futures or the range: calling get() on each future as
/// its index comes up is the intended use. Not copyable; one object must not be used from two
/// threads at once.
class AsCompleted {
 public:
  /// Internal: use as_completed().
  AsCompleted(const detail::StateList& states, detail::Deadline deadline);
  AsCompleted(AsCompleted&&) noexcept;
  AsCompleted& operator=(AsCompleted&&) noexcept;
  AsCompleted(const AsCompleted&) = delete;
  AsCompleted& operator=(const AsCompleted&) = delete;
  ~AsCompleted();

  /// How many indices the whole iteration yields: the number of valid futures.
  std::size_t size() const noexcept { return total_; }

  /// How many indices are still to come.
  std::size_t remaining() const noexcept { return total_ - yielded_; }

  /// Blocks until the next future completes and returns its index; nullopt once every index has
  /// been returned.
  /// @throws Timeout when the deadline given to as_completed() passes first (later calls throw
  ///         again unless another future has completed meanwhile)
  std::optional<std::size_t> next();

  /// Single-pass input iterator over next(): each ++ waits for the next index and throws what
  /// next() throws.
  using iterator = detail::NextIterator<AsCompleted, std::size_t>;

  /// Waits for the first completion (same throws as next()).
  iterator begin() { return iterator(this, next()); }
  iterator end() { return iterator(); }

 private:
  struct Shared;
  bool callback_pending() const;
  std::shared_ptr<Shared> shared_;
  std::size_t total_ = 0;
  std::size_t yielded_ = 0;
  detail::Deadline deadline_;
};

/// The indices of the range's futures in completion order (see AsCompleted):
/// `for (std::size_t i : as_completed(futures)) use(futures[i].get());`
template <class Range, class = detail::future_range_t<Range>>
AsCompleted as_completed(const Range& futures) {
  return AsCompleted(detail::states_of(futures), std::nullopt);
}

/// as_completed() where the whole iteration must end within `timeout` (counted from this call):
/// waiting for the next index past the deadline throws Timeout, as mpi4py's
/// as_completed(fs, timeout) does. Futures that completed before the deadline are still yielded.
template <class Range, class Rep, class Period, class = detail::future_range_t<Range>>
AsCompleted as_completed(const Range& futures, const std::chrono::duration<Rep, Period>& timeout) {
  return AsCompleted(detail::states_of(futures), detail::deadline_after(timeout));
}

}  // namespace spawnpool
