#pragma once
/// @file batch.hpp
/// BatchResult<R>: what submit_batch returns: the results of a lazy input of any length (an
/// iterator pair or a generator), run with bounded memory.
///
/// @code
///   long next_seed = 0;
///   auto seeds = [&]() -> std::optional<long> {          // a generator: nullopt ends the input
///     if (next_seed == 10'000'000) return std::nullopt;
///     return next_seed++;
///   };
///   double sum = 0;
///   for (auto [i, x] : pool.submit_batch(simulate_one, seeds)) sum += x;   // as they complete
/// @endcode
///
/// How it runs: inputs are pulled chunk by chunk (MapOptions::chunksize, default 64; 1024 for a
/// task whose parameter and result types are all trivially copyable, whose chunks travel packed,
/// one message and one state per chunk: see map_result.hpp) on the thread
/// that iterates the handle, encoded and queued. At most MapOptions::window chunks (default four
/// per worker) are out at once: queued, running, or completed but not yet taken. A new chunk is
/// pulled only when the consumer has taken every result of an earlier one, so memory (manager and
/// queue) stays bounded by the window whatever the input's length, provided the results are taken
/// as they come. submit_batch itself pulls and queues the first window.
///
/// Order: results come as completed, chunk by chunk: whole chunks in the order they complete, and
/// within a chunk in input order. Each element carries its input index (the position in the
/// input, from 0). For R = void the elements are the indices alone.
///
/// Thread-safety: one BatchResult must not be used from two threads at once. The generator (or
/// iterators) are only ever called from the thread using the handle (and from submit_batch).

#include <spawnpool/detail/encode_packed.hpp>
#include <spawnpool/detail/encode_tuples.hpp>
#include <spawnpool/detail/next_iterator.hpp>
#include <spawnpool/detail/packed_results.hpp>
#include <spawnpool/detail/submit_gate.hpp>
#include <spawnpool/errors.hpp>
#include <spawnpool/future.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace spawnpool {

namespace detail {

/// A lazy input, type-erased: pull() reads the next inputs into a buffer, encode() turns the
/// buffer into one WorkItem.
class BatchInput {
 public:
  virtual ~BatchInput() = default;
  /// Reads up to `max` inputs; returns how many (0: the input is exhausted).
  virtual std::size_t pull(std::size_t max) = 0;
  /// The inputs of the last pull() as one WorkItem with ids first_id, first_id + 1, ... (one
  /// packed call with id first_id when packed()).
  virtual WorkItem encode(std::uint64_t first_id) = 0;
  /// True when chunks travel packed (packed_chunk.hpp).
  virtual bool packed() const = 0;
};

/// A generator: `next()` returns std::optional of one call's arguments (a tuple, or the value for
/// a one-parameter task); nullopt ends the input.
template <class Signature, class Next>
class GeneratorInput;

template <class R, class... P, class Next>
class GeneratorInput<R(P...), Next> final : public BatchInput {
 public:
  using Element = typename std::decay_t<std::invoke_result_t<Next&>>::value_type;

  /// `packed`: the task's packed twin when chunks travel packed, else nullptr.
  GeneratorInput(R (*fn)(P...), const TaskEntry& task, const TaskEntry* packed, Next next)
      : fn_(fn), task_(task), packed_(packed), next_(std::move(next)) {}

  std::size_t pull(std::size_t max) override {
    buffer_.clear();
    while (!exhausted_ && buffer_.size() < max) {
      auto element = next_();
      if (!element) {
        exhausted_ = true;
        break;
      }
      buffer_.push_back(std::move(*element));
    }
    return buffer_.size();
  }

  WorkItem encode(std::uint64_t first_id) override {
    auto it = buffer_.cbegin();
    WorkItem item = packed_ ? encode_packed_tuples(fn_, *packed_, first_id, buffer_.size(), it)
                            : encode_tuple_calls(fn_, task_, first_id, buffer_.size(), it);
    buffer_.clear();
    return item;
  }
  bool packed() const override { return packed_ != nullptr; }

 private:
  R (*fn_)(P...);
  const TaskEntry& task_;
  const TaskEntry* packed_;  // the task's packed twin, or nullptr
  Next next_;
  std::vector<Element> buffer_;
  bool exhausted_ = false;
};

/// An iterator pair as a generator.
template <class Iterator>
auto iterator_generator(Iterator first, Iterator last) {
  using Element = typename std::iterator_traits<Iterator>::value_type;
  return [first, last]() mutable -> std::optional<Element> {
    if (first == last) return std::nullopt;
    std::optional<Element> element(*first);
    ++first;
    return element;
  };
}

/// Chunk numbers of completed chunks, filled by completion callbacks (any thread), drained by
/// the consumer.
struct BatchCompletions {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::uint64_t> ready;
};

}  // namespace detail

template <class R>
class BatchResult {
 public:
  /// std::pair<input index, result>, or the index alone for R = void.
  using value_type =
      std::conditional_t<std::is_void_v<R>, std::size_t, std::pair<std::size_t, R>>;

  /// Internal: made by the executors' submit_batch(), which then calls fill().
  BatchResult(std::shared_ptr<detail::SubmitGate::Shared> gate,
              std::unique_ptr<detail::BatchInput> input, std::size_t chunk, std::size_t window)
      : gate_(std::move(gate)), input_(std::move(input)), chunk_(std::max<std::size_t>(1, chunk)),
        window_(std::max<std::size_t>(1, window)),
        completions_(std::make_shared<detail::BatchCompletions>()) {}

  BatchResult(BatchResult&&) noexcept = default;
  BatchResult& operator=(BatchResult&&) noexcept = default;

  /// The next result (as completed, see above); nullopt once every input's result was returned.
  /// Pulls and queues more inputs as chunks are used up.
  /// @throws that call's error (RemoteError, ...): it counts as returned, and the next next()
  ///         goes on with the following result
  /// @throws what the generator or iterators throw, and BrokenExecutor when the executor shut
  ///         down or was destroyed while inputs remained
  std::optional<value_type> next() {
    for (;;) {
      if (current_ && current_->taken < current_->count) {
        Chunk& chunk = *current_;
        const std::size_t k = chunk.taken++;
        const std::size_t index = chunk.first_index + k;
        if (chunk.packed) return take_packed(chunk, k, index);
        if constexpr (std::is_void_v<R>) {
          chunk.futures[k].get();
          return index;
        } else {
          return value_type(index, chunk.futures[k].get());
        }
      }
      current_.reset();  // taken: frees its states and results
      fill();
      if (outstanding_.empty()) return std::nullopt;
      std::uint64_t seq;
      {
        std::unique_lock<std::mutex> lock(completions_->mutex);
        completions_->changed.wait(lock, [this] { return !completions_->ready.empty(); });
        seq = completions_->ready.front();
        completions_->ready.pop_front();
      }
      auto found = outstanding_.find(seq);
      current_ = std::move(found->second);
      outstanding_.erase(found);
    }
  }

  /// Runs the whole input, keeping every result: the results in input order. Memory grows with
  /// the number of results (use next() or iteration to stream instead). For R = void: waits.
  /// @throws the first error met (in completion order), as next()
  auto get() {
    if constexpr (std::is_void_v<R>) {
      while (next()) {
      }
    } else {
      std::vector<std::pair<std::size_t, R>> all;
      while (auto item = next()) all.push_back(std::move(*item));
      std::sort(all.begin(), all.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      std::vector<R> out;
      out.reserve(all.size());
      for (auto& item : all) out.push_back(std::move(item.second));
      return out;
    }
  }

  /// Runs the whole input, discarding results.
  /// @throws the first error met, as next()
  void wait() {
    while (next()) {
    }
  }

  /// Inputs pulled and queued so far.
  std::size_t submitted() const noexcept { return pulled_; }

  /// Chunks queued, running or completed but not yet taken (at most the window).
  std::size_t chunks_out() const noexcept { return outstanding_.size() + (current_ ? 1 : 0); }

  /// Internal: pulls and queues chunks until the window is full or the input is exhausted.
  void fill() {
    while (!exhausted_ && chunks_out() < window_) {
      const std::size_t count = input_->pull(chunk_);
      if (count == 0) {
        exhausted_ = true;
        break;
      }
      auto chunk = std::make_unique<Chunk>();
      chunk->first_index = pulled_;
      chunk->count = count;
      const std::uint64_t seq = next_seq_++;
      const std::size_t calls = input_->packed() ? 1 : count;
      auto tracker = std::make_shared<Tracker>(calls, seq, completions_);
      detail::submit_through(*gate_, calls, [&](std::uint64_t first_id) {
        detail::WorkItem item = input_->encode(first_id);
        if (input_->packed()) {
          chunk->packed = item.calls.front().state;
        } else {
          chunk->futures.reserve(item.calls.size());
          for (const detail::PendingCall& call : item.calls) chunk->futures.emplace_back(call.state);
        }
        for (const detail::PendingCall& call : item.calls) {
          call.state->on_complete([tracker] { tracker->call_done(); });
        }
        return item;
      });
      pulled_ += count;
      outstanding_.emplace(seq, std::move(chunk));
    }
  }

  /// Single-pass input iterator over next(): each ++ takes the next result (pulling and queuing
  /// inputs as next() does) and throws what next() throws.
  using iterator = detail::NextIterator<BatchResult, value_type>;
  /// Waits for the first result (throws what next() throws).
  iterator begin() { return iterator(this, next()); }
  iterator end() { return iterator(); }

 private:
  struct Chunk {
    std::size_t first_index = 0;
    std::size_t count = 0;
    std::vector<Future<R>> futures;              // one per call, or
    std::shared_ptr<detail::TaskState> packed;  // the packed call, when packed
    bool decoded = false;                        // packed: `results` holds its decoded results
    detail::DecodedPackedChunk<R> results;
    std::size_t taken = 0;
  };

  /// Call k of a packed chunk (input `index`): its result, or throws its error.
  value_type take_packed(Chunk& chunk, std::size_t k, std::size_t index) {
    if (!chunk.decoded) {
      chunk.decoded = true;
      chunk.results.decode(*chunk.packed, chunk.count);
    }
    if constexpr (std::is_void_v<R>) {
      chunk.results.take(k);
      return index;
    } else {
      return value_type(index, chunk.results.take(k));
    }
  }
  /// Counts a chunk's completions; the last one reports the chunk (on the completing thread).
  struct Tracker {
    Tracker(std::size_t count, std::uint64_t chunk_seq,
            std::shared_ptr<detail::BatchCompletions> done)
        : remaining(count), seq(chunk_seq), completions(std::move(done)) {}
    std::atomic<std::size_t> remaining;
    std::uint64_t seq;
    std::shared_ptr<detail::BatchCompletions> completions;
    void call_done() {
      if (remaining.fetch_sub(1) != 1) return;
      {
        std::lock_guard<std::mutex> lock(completions->mutex);
        completions->ready.push_back(seq);
      }
      completions->changed.notify_one();
    }
  };

  std::shared_ptr<detail::SubmitGate::Shared> gate_;
  std::unique_ptr<detail::BatchInput> input_;
  std::size_t chunk_;
  std::size_t window_;
  std::shared_ptr<detail::BatchCompletions> completions_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Chunk>> outstanding_;
  std::unique_ptr<Chunk> current_;
  std::uint64_t next_seq_ = 0;
  std::size_t pulled_ = 0;
  bool exhausted_ = false;
};

namespace detail {

/// submit_batch for any executor: `gate` reaches it; `workers` sizes the default window.
template <class R, class... P, class Next>
BatchResult<R> start_batch(std::shared_ptr<SubmitGate::Shared> gate, R (*fn)(P...),
                           const TaskEntry& task, bool packs, std::size_t chunksize,
                           std::size_t window, int workers, Next next) {
  using Element = typename std::decay_t<std::invoke_result_t<Next&>>::value_type;
  (void)sizeof(decltype(call_args<P...>(std::declval<const Element&>())));
  const TaskEntry* packed = packs ? packed_twin(fn, task) : nullptr;
  const std::size_t chunk = chunksize > 0 ? chunksize : packed ? 1024 : 64;
  const std::size_t chunks =
      window > 0 ? window : 4 * static_cast<std::size_t>(std::max(1, workers));
  BatchResult<R> result(std::move(gate),
                        std::make_unique<GeneratorInput<R(P...), Next>>(fn, task, packed,
                                                                        std::move(next)),
                        chunk, chunks);
  result.fill();
  return result;
}

}  // namespace detail

}  // namespace spawnpool
