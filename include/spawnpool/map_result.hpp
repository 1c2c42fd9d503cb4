#pragma once
/// @file map_result.hpp
/// The handles the map family returns.
///  - MapResult<R> (map, starmap): results in input order.
///  - UnorderedMapResult<R> (map_unordered, starmap_unordered): (input index, result) pairs in the
///    order the calls complete.
///
/// @code
///   auto results = pool.map(simulate, seeds, params);   // returns at once
///   for (double x : results) use(x);                    // each result as soon as it is there
///   std::vector<double> all = pool.map(simulate, seeds, params).get();
///   for (auto [i, x] : pool.map_unordered(simulate, seeds, params)) out[i] = x;
/// @endcode
///
/// Timeout (MapOptions::timeout): the deadline counts from the map call. Waiting for a result past
/// it (iterating, get(), next()) throws spawnpool::Timeout and cancels the calls not yet sent to a
/// worker (as concurrent.futures' map does); results that were ready before are still returned.
/// ready() and wait() ignore the timeout.
///
/// Packed chunks: a map or starmap of a task whose parameter and result types are all trivially
/// copyable (numbers, plain structs; not a bool result) runs as packed chunks
/// (detail/packed_chunk.hpp): one message and one state per chunk instead of one future per call.
/// The handle behaves the same; futures() then makes the per-call futures on first use.
///
/// Thread-safety: one handle must not be used from two threads at once.

#include <spawnpool/detail/next_iterator.hpp>
#include <spawnpool/detail/packed_results.hpp>
#include <spawnpool/errors.hpp>
#include <spawnpool/future.hpp>
#include <spawnpool/wait.hpp>

#include <chrono>
#include <cstddef>
#include <iterator>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace spawnpool {

namespace detail {

/// A map's timeout passed: cancels every call of `futures` not sent to a worker yet and throws
/// the Timeout a map throws (saying how many results not yet taken were ready before that).
/// Results already taken (their futures consumed) are counted in neither number.
template <class R>
[[noreturn]] void fail_map_timeout(std::vector<Future<R>>& futures) {
  std::size_t ready = 0;
  std::size_t not_taken = 0;
  std::string task = "?";
  for (const auto& f : futures) {
    if (!f.valid()) continue;
    task = f.state()->task_name();
    ++not_taken;
    if (f.ready()) ++ready;
  }
  Timeout error("spawnpool: map of task \"" + task + "\" did not finish within its timeout (" +
                std::to_string(ready) + " of " + std::to_string(not_taken) +
                " results not yet taken were ready); the calls not yet sent were cancelled");
  for (auto& f : futures) {
    if (f.valid() && !f.ready()) f.cancel();
  }
  throw error;
}

/// True when every valid future of `futures` is ready. Does not block.
template <class R>
bool all_ready(const std::vector<Future<R>>& futures) {
  for (const auto& f : futures)
    if (f.valid() && !f.ready()) return false;
  return true;
}

/// Blocks until every valid future of `futures` is ready.
template <class R>
void wait_each(const std::vector<Future<R>>& futures) {
  for (const auto& f : futures)
    if (f.valid()) f.wait();
}

}  // namespace detail

/// Results of a map in input order.
template <class R>
class MapResult {
 public:
  /// Internal: made by the executors' map() and starmap().
  explicit MapResult(std::vector<Future<R>> futures, detail::Deadline deadline = std::nullopt)
      : futures_(std::move(futures)), deadline_(deadline) {}
  /// Internal: a map that ran as packed chunks.
  explicit MapResult(detail::PackedMap<R> packed, detail::Deadline deadline = std::nullopt)
      : packed_(std::move(packed)), deadline_(deadline) {}

  /// Number of results.
  std::size_t size() const noexcept { return packed_ ? packed_->size() : futures_.size(); }

  /// True when every result is available. Does not block.
  bool ready() const { return packed_ ? packed_->ready() : detail::all_ready(futures_); }

  /// Blocks until every result is available (regardless of MapOptions::timeout).
  void wait() const {
    if (packed_) {
      packed_->wait();
    } else {
      detail::wait_each(futures_);
    }
  }

  /// All results in input order (for R = void: waits for all). Consumes the handle.
  /// @throws the first error in input order (RemoteError, WorkerLost, ...)
  /// @throws Timeout when MapOptions::timeout passes first
  auto get() {
    if (packed_) return packed_->get(deadline_);
    if constexpr (std::is_void_v<R>) {
      for (std::size_t i = 0; i < futures_.size(); ++i) take(i);
    } else {
      std::vector<R> out;
      out.reserve(futures_.size());
      for (std::size_t i = 0; i < futures_.size(); ++i) out.push_back(take(i));
      return out;
    }
  }

  /// The futures, one per input, in input order (for packed chunks: made now, on first use; take()
  /// and get() then read them).
  std::vector<Future<R>>& futures() {
    if (packed_) {
      futures_ = packed_->futures();
      packed_.reset();
    }
    return futures_;
  }

  /// The result of input `i` (waits for it); the future of `i` is consumed (with packed chunks
  /// the result stays readable until another chunk's result is taken).
  /// @throws its error, or Timeout as get()
  R take(std::size_t i) {
    if (packed_) return packed_->take(i, deadline_);
    Future<R>& f = futures_[i];
    if (deadline_ && f.valid() && !f.ready() &&
        f.wait_until(*deadline_) == FutureStatus::timeout) {
      detail::fail_map_timeout(futures_);
    }
    return f.get();
  }

  /// Input iterator over the results in order; dereferencing waits for that result (and throws
  /// what take() throws).
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = R;
    iterator(MapResult* owner, std::size_t index) : owner_(owner), index_(index) {}
    R operator*() const { return owner_->take(index_); }
    iterator& operator++() { ++index_; return *this; }
    void operator++(int) { ++index_; }
    bool operator==(const iterator& o) const { return index_ == o.index_; }
    bool operator!=(const iterator& o) const { return index_ != o.index_; }

   private:
    MapResult* owner_;
    std::size_t index_;
  };
  iterator begin() { return iterator(this, 0); }
  iterator end() { return iterator(this, size()); }

 private:
  std::vector<Future<R>> futures_;
  std::optional<detail::PackedMap<R>> packed_;
  detail::Deadline deadline_;
};

/// Results of a map in completion order, each with the index of its input: what map_unordered()
/// returns. Calls that were already complete come first, in input order. A single-pass range:
///
/// @code
///   for (auto [i, x] : pool.map_unordered(simulate, seeds)) out[i] = x;   // R = double
/// @endcode
/// For R = void the elements are the indices alone.
template <class R>
class UnorderedMapResult {
 public:
  /// std::pair<input index, result>, or the index alone for R = void.
  using value_type =
      std::conditional_t<std::is_void_v<R>, std::size_t, std::pair<std::size_t, R>>;

  /// Internal: made by the executors' map_unordered().
  explicit UnorderedMapResult(std::vector<Future<R>> futures,
                              detail::Deadline deadline = std::nullopt)
      : futures_(std::move(futures)),
        order_(std::in_place, detail::states_of(futures_), deadline),
        deadline_(deadline) {}
  /// Internal: a map_unordered that ran as packed chunks.
  explicit UnorderedMapResult(detail::PackedMap<R> packed, detail::Deadline deadline = std::nullopt)
      : packed_(std::move(packed)), deadline_(deadline) {}

  /// Number of results.
  std::size_t size() const noexcept { return packed_ ? packed_->size() : futures_.size(); }

  /// True when every result is available. Does not block.
  bool ready() const { return packed_ ? packed_->ready() : detail::all_ready(futures_); }

  /// Blocks until every result is available (regardless of MapOptions::timeout).
  void wait() const {
    if (packed_) {
      packed_->wait();
    } else {
      detail::wait_each(futures_);
    }
  }

  /// The next completed call: its input index and result; nullopt once all were returned. (With
  /// packed chunks, a chunk's calls come together, in input order, once the chunk completes.)
  /// @throws that call's error (RemoteError, ...): the call counts as returned, and the next
  ///         next() goes on with the following completion
  /// @throws Timeout when MapOptions::timeout passes first
  std::optional<value_type> next() {
    if (packed_) {
      const std::optional<std::size_t> i = packed_->next_completed(deadline_);
      if (!i) return std::nullopt;
      if constexpr (std::is_void_v<R>) {
        packed_->take(*i, deadline_);
        return *i;
      } else {
        return value_type(*i, packed_->take(*i, deadline_));
      }
    }
    if (!order_) order_.emplace(detail::states_of(futures_), deadline_);
    std::optional<std::size_t> i;
    try {
      i = order_->next();
    } catch (const Timeout&) {
      detail::fail_map_timeout(futures_);
    }
    if (!i) return std::nullopt;
    if constexpr (std::is_void_v<R>) {
      futures_[*i].get();
      return *i;
    } else {
      return value_type(*i, futures_[*i].get());
    }
  }

  /// Every remaining result, in completion order. Consumes the handle.
  /// @throws the first error met, or Timeout, as next()
  std::vector<value_type> get() {
    std::vector<value_type> out;
    out.reserve(size());
    while (auto item = next()) out.push_back(std::move(*item));
    return out;
  }

  /// The futures, one per input, in input order (for packed chunks: made now, on first use, and
  /// next() then reads them; ask before the first next()).
  std::vector<Future<R>>& futures() {
    if (packed_) {
      futures_ = packed_->futures();
      packed_.reset();
    }
    return futures_;
  }

  /// Single-pass input iterator over next(): each ++ waits for the next completion and throws
  /// what next() throws.
  using iterator = detail::NextIterator<UnorderedMapResult, value_type>;
  /// Waits for the first completion (throws what next() throws).
  iterator begin() { return iterator(this, next()); }
  iterator end() { return iterator(); }

 private:
  std::vector<Future<R>> futures_;
  std::optional<AsCompleted> order_;  // over futures_: made on the first next() without packed_
  std::optional<detail::PackedMap<R>> packed_;
  detail::Deadline deadline_;
};

}  // namespace spawnpool
