#pragma once
/// @file task_submitter.hpp
/// The task-submitting calls that spawnpool::Executor and spawnpool::ThreadExecutor share:
/// submit, map, map_unordered, starmap and submit_batch. Both executors derive from
/// TaskSubmitter<themselves> and provide how a call is queued; code written against one runs
/// unchanged on the other (see also executor_concept.hpp).
///
/// Thread-safety: every call here may be made from several threads at once.

#include <spawnpool/batch.hpp>
#include <spawnpool/detail/dependent_call.hpp>
#include <spawnpool/detail/encode_calls.hpp>
#include <spawnpool/detail/map_family.hpp>
#include <spawnpool/detail/ranked_task.hpp>
#include <spawnpool/detail/submit_gate.hpp>
#include <spawnpool/detail/work_item.hpp>
#include <spawnpool/future.hpp>
#include <spawnpool/map_result.hpp>
#include <spawnpool/options.hpp>
#include <spawnpool/task_comm.hpp>

#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace spawnpool {

/// Base of the executors (CRTP). `Derived` provides, to this class only:
///  - `const detail::TaskEntry& task_for(detail::FunctionKey) const` (throws UnregisteredTask),
///  - `std::uint64_t reserve_call_ids(std::size_t)` and `void enqueue(detail::WorkItem)` (throw
///    BrokenExecutor after shutdown or on a moved-from executor),
///  - `void enqueue_ranked(int ranks, detail::WorkItem)` for k-rank calls (throws Error when this
///    executor cannot run `ranks` processes together),
///  - `int num_workers() const` and a `detail::SubmitGate gate_` member.
template <class Derived>
class TaskSubmitter {
 public:
  /// Runs fn(args...) on a worker. Arguments are converted to fn's parameter types and encoded on the
  /// calling thread before submit returns, so they may be changed or destroyed right after.
  ///
  /// An argument may also be a spawnpool::Future<T> (of any executor, or from Future::then) for a
  /// parameter that T converts to: the call is then queued once every such input has resolved,
  /// with their values (the futures are observed, not consumed: they stay valid). If an input
  /// fails, the returned future fails with the same exception (same type and text, e.g. the
  /// input's RemoteError); if an input is cancelled, the returned future is cancelled too. The
  /// call is encoded and queued on the thread that completes the last input (for Executor, its
  /// progress thread), which never blocks on it; if the executor has shut down by then, the
  /// returned future fails with BrokenExecutor.
  /// @code
  ///   spawnpool::Future<int> a = pool.submit(square, 3);
  ///   spawnpool::Future<int> b = pool.submit(add, a, 1);   // add(9, 1), once `a` is done
  /// @endcode
  /// @throws UnregisteredTask fn was not registered with SPAWNPOOL_TASK
  /// @throws BrokenExecutor   after shutdown(), or on a moved-from executor
  /// @throws Error            a Future argument is not valid()
  template <class R, class... P, class... A>
  [[nodiscard]] Future<R> submit(R (*fn)(P...), A&&... args) {
    return submit(TaskOptions{}, fn, std::forward<A>(args)...);
  }

  /// submit() with per-task settings (ThreadExecutor ignores them):
  /// @code
  ///   auto f = pool.submit(spawnpool::TaskOptions{}.threads(4), solve, matrix);
  /// @endcode
  /// @throws UnregisteredTask, BrokenExecutor, Error as submit()
  template <class R, class... P, class... A>
  [[nodiscard]] Future<R> submit(const TaskOptions& options, R (*fn)(P...), A&&... args) {
    static_assert(sizeof...(P) == sizeof...(A),
                  "spawnpool: submit: wrong number of arguments for this task");
    static_assert((detail::accepts_argument_v<P, A&&> && ...),
                  "spawnpool: submit: an argument cannot be converted to the type of "
                  "the task's parameter");
    const detail::TaskEntry& task = self().task_for(reinterpret_cast<detail::FunctionKey>(fn));
    if constexpr ((detail::is_future_v<A> || ...)) {
      return detail::submit_dependent(submit_gate(), fn, task, options.threads(), std::forward<A>(args)...);
    } else {
      detail::WorkItem item =
          detail::encode_call(fn, task, self().reserve_call_ids(1), std::forward<A>(args)...);
      detail::wire::set_call_threads(item.message.data() + detail::wire::kHeaderSize,
                                     options.threads());
      Future<R> future(item.calls.front().state);
      self().enqueue(std::move(item));
      return future;
    }
  }

  /// Runs k-rank task fn (first parameter a spawnpool::TaskComm, see task_comm.hpp) on
  /// options.ranks() processes together, each with the same arguments (all but the TaskComm, which
  /// spawnpool supplies); the future gives rank 0's result. The arguments are encoded at once as
  /// for submit(). Future arguments are not accepted (yet). On an Executor in spawn mode, the first
  /// submit of a k > 1 starts the groups for that k (Options::rank_groups) and waits for them.
  /// If any rank's task throws, the future fails: with the exception of rank 0 when rank 0 threw
  /// (a RemoteError as usual), else with a RemoteError naming the first rank that failed.
  /// @code
  ///   auto f = pool.submit(spawnpool::TaskOptions{}.ranks(3), partial_sum, 1000L);
  /// @endcode
  /// @throws Error            options.ranks() < 1, or > 1 where groups cannot be had (a
  ///                          ThreadExecutor; a pool service: "not yet"; a static or
  ///                          communicator-mode Executor with fewer worker ranks than that)
  /// @throws SpawnError       the groups for this k could not be started
  /// @throws UnregisteredTask, BrokenExecutor as submit()
  template <class R, class... P, class... A>
  [[nodiscard]] Future<R> submit(const TaskOptions& options, R (*fn)(TaskComm, P...), A&&... args) {
    static_assert(sizeof...(P) == sizeof...(A),
                  "spawnpool: submit: wrong number of arguments for this k-rank task (not counting "
                  "its TaskComm)");
    static_assert((detail::accepts_argument_v<P, A&&> && ...),
                  "spawnpool: submit: an argument cannot be converted to the type of "
                  "the task's parameter");
    static_assert(!(detail::is_future_v<A> || ...),
                  "spawnpool: submit: a k-rank task takes no Future arguments (not yet)");
    const detail::TaskEntry& task = self().task_for(reinterpret_cast<detail::FunctionKey>(fn));
    return submit_ranked(options, static_cast<R (*)(P...)>(nullptr), task,
                         std::forward<A>(args)...);
  }

  /// submit() of a k-rank task on one process (TaskOptions::ranks 1).
  template <class R, class... P, class... A>
  [[nodiscard]] Future<R> submit(R (*fn)(TaskComm, P...), A&&... args) {
    return submit(TaskOptions{}, fn, std::forward<A>(args)...);
  }

  /// submit() of k-rank task fn whose future gives every rank's result, in rank order
  /// (options.ranks() of them). Tasks with a void result have no such form.
  /// @code
  ///   std::vector<double> parts =
  ///       pool.submit_all_ranks(spawnpool::TaskOptions{}.ranks(3), partial_sum, 1000L).get();
  /// @endcode
  /// @throws Error, SpawnError, UnregisteredTask, BrokenExecutor as submit() of a k-rank task
  template <class R, class... P, class... A>
  [[nodiscard]] Future<std::vector<R>> submit_all_ranks(const TaskOptions& options,
                                                        R (*fn)(TaskComm, P...), A&&... args) {
    static_assert(!std::is_void_v<R>,
                  "spawnpool: submit_all_ranks: the task returns void: there are no results to "
                  "collect (use submit)");
    static_assert(sizeof...(P) == sizeof...(A),
                  "spawnpool: submit_all_ranks: wrong number of arguments for this k-rank task "
                  "(not counting its TaskComm)");
    static_assert((detail::accepts_argument_v<P, A&&> && ...),
                  "spawnpool: submit_all_ranks: an argument cannot be converted to the type of "
                  "the task's parameter");
    static_assert(!(detail::is_future_v<A> || ...),
                  "spawnpool: submit_all_ranks: a k-rank task takes no Future arguments (not yet)");
    const detail::TaskEntry& plain = self().task_for(reinterpret_cast<detail::FunctionKey>(fn));
    return submit_ranked(options, static_cast<std::vector<R> (*)(P...)>(nullptr),
                         detail::require_all_ranks_twin(plain), std::forward<A>(args)...);
  }

  /// Runs fn over the zipped ranges: fn(a[0], b[0]), fn(a[1], b[1]), ... up to the shortest range.
  /// Results come back in input order, iterable as they arrive or collected with get() (see
  /// MapResult for MapOptions::timeout). Calls are sent in chunks (MapOptions::chunksize);
  /// MapOptions::progress shows a progress line on a terminal. Ranges must be forward ranges (they
  /// are read twice per chunk: to size and to encode). A task whose parameter and result types are
  /// all trivially copyable (numbers, plain structs; not a bool result) runs as packed chunks: one
  /// array of arguments and one of results per chunk, no per-call state (map_result.hpp). Such a
  /// chunk is one task on its worker: it counts once towards Options::task_timeout, and a future
  /// taken from futures() cancels only its own result.
  /// @throws UnregisteredTask, BrokenExecutor as submit()
  template <class R, class... P, class... Ranges>
  [[nodiscard]] MapResult<R> map(const MapOptions& options, R (*fn)(P...), const Ranges&... ranges) {
    static_assert(sizeof...(P) == sizeof...(Ranges),
                  "spawnpool: map: pass one range per task parameter");
    const detail::Deadline deadline = detail::map_deadline(options);
    const detail::TaskEntry& task = self().task_for(reinterpret_cast<detail::FunctionKey>(fn));
    if (const detail::TaskEntry* packed =
            detail::packed_map_twin(options, self().packs_chunks(), fn, task)) {
      return MapResult<R>(detail::run_packed_map(options, fn, *packed, self().num_workers(),
                                                 id_reserver(), enqueuer(), ranges...),
                          deadline);
    }
    return MapResult<R>(map_futures(options, fn, ranges...), deadline);
  }

  /// map() with default MapOptions.
  template <class R, class... P, class... Ranges>
  [[nodiscard]] MapResult<R> map(R (*fn)(P...), const Ranges&... ranges) {
    return map(MapOptions{}, fn, ranges...);
  }

  /// map() whose results come as the calls complete, each with its input index:
  /// @code
  ///   for (auto [i, x] : pool.map_unordered(simulate, seeds)) out[i] = x;
  /// @endcode
  /// See UnorderedMapResult (map_result.hpp), also for MapOptions::timeout. Packed chunks as map():
  /// a chunk's results then come together, in input order, when the chunk completes.
  /// @throws UnregisteredTask, BrokenExecutor as submit()
  template <class R, class... P, class... Ranges>
  [[nodiscard]] UnorderedMapResult<R> map_unordered(const MapOptions& options, R (*fn)(P...),
                                                    const Ranges&... ranges) {
    static_assert(sizeof...(P) == sizeof...(Ranges),
                  "spawnpool: map_unordered: pass one range per task parameter");
    const detail::Deadline deadline = detail::map_deadline(options);
    const detail::TaskEntry& task = self().task_for(reinterpret_cast<detail::FunctionKey>(fn));
    if (const detail::TaskEntry* packed =
            detail::packed_map_twin(options, self().packs_chunks(), fn, task)) {
      return UnorderedMapResult<R>(detail::run_packed_map(options, fn, *packed,
                                                          self().num_workers(), id_reserver(),
                                                          enqueuer(), ranges...),
                                   deadline);
    }
    return UnorderedMapResult<R>(map_futures(options, fn, ranges...), deadline);
  }

  /// map_unordered() with default MapOptions.
  template <class R, class... P, class... Ranges>
  [[nodiscard]] UnorderedMapResult<R> map_unordered(R (*fn)(P...), const Ranges&... ranges) {
    return map_unordered(MapOptions{}, fn, ranges...);
  }

  /// Runs fn once per element of `tuples`, each element holding one call's arguments (a
  /// std::tuple, std::pair or std::array with one entry per parameter; for a one-parameter task
  /// the element may also be the argument itself): starmap(fn, {{1, 2}, {3, 4}}) is
  /// fn(1, 2), fn(3, 4). Otherwise exactly map(): same options, same MapResult.
  /// @throws UnregisteredTask, BrokenExecutor as submit()
  template <class R, class... P, class Range>
  [[nodiscard]] MapResult<R> starmap(const MapOptions& options, R (*fn)(P...), const Range& tuples) {
    const detail::Deadline deadline = detail::map_deadline(options);
    const detail::TaskEntry& task = self().task_for(reinterpret_cast<detail::FunctionKey>(fn));
    if (const detail::TaskEntry* packed =
            detail::packed_map_twin(options, self().packs_chunks(), fn, task)) {
      return MapResult<R>(detail::run_packed_starmap(options, fn, *packed, self().num_workers(),
                                                     id_reserver(), enqueuer(), tuples),
                          deadline);
    }
    return MapResult<R>(
        detail::run_starmap(options, fn, task, self().num_workers(),
                            [self = &self()](std::size_t count) { return self->reserve_call_ids(count); },
                            [self = &self()](detail::WorkItem&& item) { self->enqueue(std::move(item)); },
                            tuples),
        deadline);
  }

  /// starmap() with default MapOptions.
  template <class R, class... P, class Range>
  [[nodiscard]] MapResult<R> starmap(R (*fn)(P...), const Range& tuples) {
    return starmap(MapOptions{}, fn, tuples);
  }

  /// Runs fn over a lazy input of any length with bounded memory: `next()` returns
  /// std::optional of one call's arguments (a tuple, or the value for a one-parameter task) and
  /// std::nullopt at the end. Inputs are pulled only as earlier results are taken; results come
  /// as completed with their input index. See BatchResult (batch.hpp). Uses
  /// MapOptions::chunksize (default 64) and MapOptions::window.
  /// @code
  ///   long i = 0;
  ///   auto inputs = [&]() -> std::optional<long> {
  ///     return i < 10'000'000 ? std::optional<long>(i++) : std::nullopt;
  ///   };
  ///   for (auto [index, x] : pool.submit_batch(simulate_one, inputs)) sum += x;
  /// @endcode
  /// @throws UnregisteredTask, BrokenExecutor as submit(); what the generator throws
  template <class R, class... P, class Next>
  [[nodiscard]] BatchResult<R> submit_batch(const MapOptions& options, R (*fn)(P...), Next next) {
    const detail::TaskEntry& task = self().task_for(reinterpret_cast<detail::FunctionKey>(fn));
    return detail::start_batch(submit_gate(), fn, task, self().packs_chunks(), options.chunksize(),
                               options.window(), self().num_workers(), std::move(next));
  }

  /// submit_batch() with default MapOptions.
  template <class R, class... P, class Next>
  [[nodiscard]] BatchResult<R> submit_batch(R (*fn)(P...), Next next) {
    return submit_batch(MapOptions{}, fn, std::move(next));
  }

  /// submit_batch() over [first, last): input iterators, each element one call's arguments (as
  /// for starmap). Read one element at a time, as the batch needs them.
  template <class R, class... P, class Iterator>
  [[nodiscard]] BatchResult<R> submit_batch(const MapOptions& options, R (*fn)(P...),
                                            Iterator first, Iterator last) {
    return submit_batch(options, fn, detail::iterator_generator(first, last));
  }

  /// submit_batch() over [first, last) with default MapOptions.
  template <class R, class... P, class Iterator>
  [[nodiscard]] BatchResult<R> submit_batch(R (*fn)(P...), Iterator first, Iterator last) {
    return submit_batch(MapOptions{}, fn, detail::iterator_generator(first, last));
  }

 protected:
  TaskSubmitter() = default;

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
  const Derived& self() const { return static_cast<const Derived&>(*this); }

  /// A k-rank call, encoded as a call of `as` (its parameters without the TaskComm, and the
  /// result its future gives) of entry `task`.
  template <class R, class... P, class... A>
  Future<R> submit_ranked(const TaskOptions& options, R (*as)(P...), const detail::TaskEntry& task,
                          A&&... args) {
    detail::check_ranks(options.ranks());
    detail::WorkItem item =
        detail::encode_call(as, task, self().reserve_call_ids(1), std::forward<A>(args)...);
    detail::wire::set_call_threads(item.message.data() + detail::wire::kHeaderSize,
                                   options.threads());
    item.spread_ranks = options.spread();
    Future<R> future(item.calls.front().state);
    self().enqueue_ranked(options.ranks(), std::move(item));
    return future;
  }

  auto id_reserver() {
    return [self = &self()](std::size_t count) { return self->reserve_call_ids(count); };
  }
  auto enqueuer() {
    return [self = &self()](detail::WorkItem&& item) { self->enqueue(std::move(item)); };
  }

  template <class R, class... P, class... Ranges>
  std::vector<Future<R>> map_futures(const MapOptions& options, R (*fn)(P...),
                                     const Ranges&... ranges) {
    const detail::TaskEntry& task = self().task_for(reinterpret_cast<detail::FunctionKey>(fn));
    return detail::run_map(options, fn, task, self().num_workers(),
                           [self = &self()](std::size_t count) { return self->reserve_call_ids(count); },
                           [self = &self()](detail::WorkItem&& item) { self->enqueue(std::move(item)); },
                           ranges...);
  }

  /// Where late submits (dependent tasks, batches) go; closed when this executor is destroyed.
  std::shared_ptr<detail::SubmitGate::Shared> submit_gate() {
    return self().gate_.bind(detail::SubmitGate::Target{
        &self(),
        [](void* self, std::size_t count) {
          return static_cast<Derived*>(self)->reserve_call_ids(count);
        },
        [](void* self, detail::WorkItem&& item) {
          static_cast<Derived*>(self)->enqueue(std::move(item));
        }});
  }

};

}  // namespace spawnpool
