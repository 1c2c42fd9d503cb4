#pragma once
// The manager's side of packed chunks (packed_chunk.hpp): a completed packed call's results copied
// straight into the caller's array, its failed calls turned into the RemoteErrors plain calls
// would have given, and PackedMap, what MapResult holds for a map that ran as packed chunks.

#include <spawnpool/detail/invoke.hpp>
#include <spawnpool/detail/packed_chunk.hpp>
#include <spawnpool/detail/task_state.hpp>
#include <spawnpool/errors.hpp>
#include <spawnpool/future.hpp>
#include <spawnpool/wait.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace spawnpool::detail {

/// A call of a packed chunk that failed: its index in the chunk and its error.
struct PackedError {
  std::size_t index;
  std::exception_ptr error;
};

/// The results of the completed packed call `state` over `count` calls of `value_size` bytes
/// each, checked; their failed calls in `errors` (increasing index), as RemoteErrors of task
/// `task_name`.
/// @throws what the packed call itself failed with (WorkerLost, Cancelled, BrokenExecutor, ...),
///         or Error when its result is corrupt
ByteSpan read_packed_state(const TaskState& state, std::size_t count, std::size_t value_size,
                           const std::string& task_name, std::vector<PackedError>& errors);

/// The task a packed twin's name stands for ("f[packed]" -> "f").
std::string plain_task_name(const std::string& packed_name);

/// Copies the results of the completed packed call `state` over `count` calls into
/// out[0, count) (nothing for void: `out` may be null) and returns its failed calls (their slots
/// in `out` hold value-initialised results).
/// @throws as read_packed_state
template <class R>
std::vector<PackedError> take_packed_results(const TaskState& state, std::size_t count, void* out) {
  std::vector<PackedError> errors;
  const ByteSpan values = read_packed_state(state, count, packed_value_size<R>(),
                                            plain_task_name(state.task_name()), errors);
  if (values.size != 0) std::memcpy(out, values.data, values.size);
  return errors;
}

/// Where one result of a packed chunk is copied to: R itself, char for void, and char for bool
/// (never packed, see packable_v: std::vector<bool> has no array to copy into).
template <class R>
using PackedSlot = std::conditional_t<std::is_void_v<R> || std::is_same_v<R, bool>, char, R>;

/// One completed packed chunk, decoded once: then each call's result or error, in any order.
/// Not thread-safe (one result object owns it).
template <class R>
class DecodedPackedChunk {
 public:
  /// Decodes the completed packed call `state` over `count` calls. When the packed call itself
  /// failed (WorkerLost, Cancelled, a corrupt result, ...), that error is kept: every take throws it.
  void decode(const TaskState& state, std::size_t count) {
    values_.assign(count, PackedSlot<R>{});
    errors_.clear();
    chunk_error_ = nullptr;
    try {
      errors_ = take_packed_results<R>(state, count, values_.data());
    } catch (...) {
      chunk_error_ = std::current_exception();
    }
  }

  /// Call k's result (nothing for void).
  /// @throws its error, or the packed call's own error
  R take(std::size_t k) const {
    if (chunk_error_) std::rethrow_exception(chunk_error_);
    const auto error = std::lower_bound(
        errors_.begin(), errors_.end(), k,
        [](const PackedError& e, std::size_t index) { return e.index < index; });
    if (error != errors_.end() && error->index == k) std::rethrow_exception(error->error);
    if constexpr (!std::is_void_v<R>) return static_cast<R>(values_[k]);
  }

 private:
  std::vector<PackedSlot<R>> values_;
  std::vector<PackedError> errors_;  // increasing index
  std::exception_ptr chunk_error_;
};

/// The packed calls of a map: one state per chunk, `chunk` calls each (the last one fewer).
/// Not thread-safe (one MapResult owns it).
template <class R>
class PackedMap {
 public:
  using Slot = PackedSlot<R>;

  PackedMap(std::vector<std::shared_ptr<TaskState>> chunks, std::size_t n, std::size_t chunk)
      : chunks_(std::move(chunks)), n_(n), chunk_(std::max<std::size_t>(1, chunk)) {}

  std::size_t size() const noexcept { return n_; }

  bool ready() const {
    return std::all_of(chunks_.begin(), chunks_.end(), [](const auto& s) { return s->ready(); });
  }
  void wait() const {
    for (const auto& s : chunks_) s->wait();
  }

  /// Every result in input order (for void: waits for all).
  /// @throws the first error in input order; Timeout when `deadline` passes first
  auto get(const Deadline& deadline) {
    if constexpr (std::is_void_v<R>) {
      for (std::size_t c = 0; c < chunks_.size(); ++c) {
        wait_chunk(c, deadline);
        mark_chunk_taken(c);
        rethrow_first(take_packed_results<R>(*chunks_[c], count_of(c), nullptr));
      }
    } else {
      std::vector<Slot> out(n_);
      for (std::size_t c = 0; c < chunks_.size(); ++c) {
        wait_chunk(c, deadline);
        mark_chunk_taken(c);
        rethrow_first(take_packed_results<R>(*chunks_[c], count_of(c), out.data() + c * chunk_));
      }
      if constexpr (std::is_same_v<Slot, R>) {
        return out;
      } else {
        return std::vector<R>(out.begin(), out.end());
      }
    }
  }

  /// The result of input `i` (waits for its chunk); taken once, as a future's get().
  /// @throws its error; Timeout when `deadline` passes first; Error when it was taken before
  R take(std::size_t i, const Deadline& deadline) {
    const std::size_t c = i / chunk_;
    if (taken_.empty()) {
      taken_.assign(n_, false);
      taken_in_chunk_.assign(chunks_.size(), 0);
    }
    if (taken_[i]) {
      throw Error("spawnpool: the result of map input " + std::to_string(i) +
                  " was already taken");
    }
    if (c != decoded_chunk_) {
      wait_chunk(c, deadline);
      decoded_.decode(*chunks_[c], count_of(c));
      decoded_chunk_ = c;
    }
    taken_[i] = true;
    ++taken_in_chunk_[c];
    return decoded_.take(i % chunk_);
  }

  /// For map_unordered: the input index of the next result in completion order, to read with
  /// take(). Chunks come in the order they complete (those complete already first, in input
  /// order), each one's calls in input order. nullopt once every chunk was gone through.
  /// @throws Timeout when `deadline` passes first (the chunks not yet sent are cancelled)
  std::optional<std::size_t> next_completed(const Deadline& deadline) {
    if (!completion_order_) completion_order_.emplace(chunks_, deadline);
    while (left_in_chunk_ == 0) {
      std::optional<std::size_t> c;
      try {
        c = completion_order_->next();
      } catch (const Timeout&) {
        fail_timeout();
      }
      if (!c) return std::nullopt;
      completed_chunk_ = *c;
      left_in_chunk_ = count_of(*c);
    }
    return completed_chunk_ * chunk_ + (count_of(completed_chunk_) - left_in_chunk_--);
  }

  /// One future per input, completed as its chunk completes (each costs what a plain call's
  /// future does: a map whose futures are asked for pays what the per-call path pays).
  std::vector<Future<R>> futures() const {
    std::vector<Future<R>> out;
    out.reserve(n_);
    const std::string task = chunks_.empty() ? std::string() : plain_task_name(chunks_[0]->task_name());
    for (std::size_t c = 0; c < chunks_.size(); ++c) {
      auto states = std::make_shared<std::vector<std::shared_ptr<TaskState>>>();
      for (std::size_t k = 0; k < count_of(c); ++k) {
        states->push_back(std::make_shared<TaskState>(task));
        out.emplace_back(states->back());
      }
      std::shared_ptr<TaskState> chunk = chunks_[c];
      chunk->on_complete([chunk, states] { complete_each(*chunk, *states); });
    }
    return out;
  }

  /// The map's timeout passed: cancels the chunks not sent yet and throws Timeout.
  /// The words are those of the per-call path (fail_map_timeout in map_result.hpp).
  [[noreturn]] void fail_timeout() {
    std::size_t ready = 0;
    std::size_t not_taken = 0;
    for (std::size_t c = 0; c < chunks_.size(); ++c) {
      const std::size_t left = count_of(c) - (taken_in_chunk_.empty() ? 0 : taken_in_chunk_[c]);
      not_taken += left;
      if (chunks_[c]->ready()) ready += left;
    }
    const std::string task =
        chunks_.empty() ? std::string("?") : plain_task_name(chunks_[0]->task_name());
    Timeout error("spawnpool: map of task \"" + task + "\" did not finish within its timeout (" +
                  std::to_string(ready) + " of " + std::to_string(not_taken) +
                  " results not yet taken were ready); the calls not yet sent were cancelled");
    for (const auto& s : chunks_) {
      if (!s->ready()) s->cancel();
    }
    throw error;
  }

 private:
  std::size_t count_of(std::size_t c) const { return std::min(chunk_, n_ - c * chunk_); }

  void mark_chunk_taken(std::size_t c) {
    if (taken_in_chunk_.empty()) taken_in_chunk_.assign(chunks_.size(), 0);
    taken_in_chunk_[c] = count_of(c);
  }

  void wait_chunk(std::size_t c, const Deadline& deadline) {
    TaskState& s = *chunks_[c];
    if (deadline && !s.ready() && !s.wait_until(*deadline)) fail_timeout();
    s.wait();
  }

  static void rethrow_first(const std::vector<PackedError>& errors) {
    if (!errors.empty()) std::rethrow_exception(errors.front().error);
  }

  static void complete_each(const TaskState& chunk,
                            const std::vector<std::shared_ptr<TaskState>>& states) {
    if (chunk.phase() == TaskState::Phase::kCancelled) {
      for (const auto& s : states) s->cancel();  // their futures say cancelled(), as per call
      return;
    }
    std::vector<Slot> values(states.size());
    std::vector<PackedError> errors;
    try {
      errors = take_packed_results<R>(chunk, states.size(), values.data());
    } catch (...) {
      for (const auto& s : states) s->set_error(std::current_exception());
      return;
    }
    auto error = errors.begin();
    for (std::size_t k = 0; k < states.size(); ++k) {
      if (error != errors.end() && error->index == k) {
        states[k]->set_error((error++)->error);
      } else if constexpr (std::is_void_v<R>) {
        states[k]->set_value(SharedBytes{});
      } else {
        states[k]->set_decoded(std::make_shared<R>(static_cast<R>(values[k])));
      }
    }
  }

  std::vector<std::shared_ptr<TaskState>> chunks_;
  std::size_t n_;
  std::size_t chunk_;
  std::size_t decoded_chunk_ = SIZE_MAX;  // the chunk in decoded_
  DecodedPackedChunk<R> decoded_;          // take()'s chunk
  std::optional<AsCompleted> completion_order_;  // of the chunks, for next_completed()
  std::size_t completed_chunk_ = 0;              // next_completed()'s chunk
  std::size_t left_in_chunk_ = 0;                // its calls not yet returned
  std::vector<bool> taken_;                  // by take(), made on its first use
  std::vector<std::size_t> taken_in_chunk_;  // results taken per chunk (take() and get())
};

}  // namespace spawnpool::detail
