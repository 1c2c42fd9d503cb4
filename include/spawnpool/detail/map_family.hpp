#pragma once
// The map family's work, shared by every executor (Executor, ThreadExecutor): each executor passes
// its worker count and how to reserve call ids and enqueue a WorkItem.

#include <spawnpool/detail/encode_calls.hpp>
#include <spawnpool/detail/encode_packed.hpp>
#include <spawnpool/detail/encode_tuples.hpp>
#include <spawnpool/detail/map_progress.hpp>
#include <spawnpool/detail/packed_results.hpp>
#include <spawnpool/map_result.hpp>
#include <spawnpool/options.hpp>
#include <spawnpool/wait.hpp>

#include <chrono>
#include <iterator>
#include <utility>
#include <vector>

namespace spawnpool::detail {

/// When a map started now must be done (MapOptions::timeout), or none.
inline Deadline map_deadline(const MapOptions& options) {
  if (!options.timeout()) return std::nullopt;
  return std::chrono::steady_clock::now() + *options.timeout();
}

template <class R>
void watch_map_progress(const MapOptions& options, const std::vector<Future<R>>& futures) {
  if (options.progress()) MapProgress::watch_if_terminal(states_of(futures));
}

/// map over zipped ranges: one future per call, in input order.
template <class R, class... P, class ReserveIds, class Enqueue, class... Ranges>
std::vector<Future<R>> run_map(const MapOptions& options, R (*fn)(P...), const TaskEntry& task,
                               int workers, ReserveIds&& reserve_ids, Enqueue&& enqueue,
                               const Ranges&... ranges) {
  const std::size_t n = zipped_size(ranges...);
  std::vector<Future<R>> futures =
      encode_map(fn, task, n, map_chunk_size(options.chunksize(), n, workers), reserve_ids,
                 enqueue, ranges...);
  watch_map_progress(options, futures);
  return futures;
}

/// The packed twin a map with `options` of task `task` runs as (packed_chunk.hpp), or nullptr for
/// the per-call path: a packable task, an executor that `packs` (not one tracing each call), and
/// no progress line (it counts calls as they complete).
template <class R, class... P>
const TaskEntry* packed_map_twin(const MapOptions& options, bool packs, R (*fn)(P...),
                                 const TaskEntry& task) {
  return options.progress() || !packs ? nullptr : packed_twin(fn, task);
}

/// Encodes `n` calls as packed chunks of `chunk` calls, each WorkItem handed to `enqueue` as soon
/// as it is encoded; `encode(id, count)` encodes the next `count` calls as one packed call.
template <class R, class ReserveIds, class Enqueue, class Encode>
PackedMap<R> encode_packed_in_chunks(std::size_t n, std::size_t chunk, ReserveIds&& reserve_ids,
                                     Enqueue&& enqueue, Encode&& encode) {
  std::vector<std::shared_ptr<TaskState>> states;
  states.reserve((n + chunk - 1) / chunk);
  for (std::size_t first = 0; first < n; first += chunk) {
    WorkItem item = encode(reserve_ids(1), std::min(chunk, n - first));
    states.push_back(item.calls.front().state);
    enqueue(std::move(item));
  }
  return PackedMap<R>(std::move(states), n, chunk);
}

/// map over zipped ranges as packed chunks of `packed` (the task's packed twin).
template <class R, class... P, class ReserveIds, class Enqueue, class... Ranges>
PackedMap<R> run_packed_map(const MapOptions& options, R (*fn)(P...), const TaskEntry& packed,
                            int workers, ReserveIds&& reserve_ids, Enqueue&& enqueue,
                            const Ranges&... ranges) {
  const std::size_t n = zipped_size(ranges...);
  auto cursor = std::make_tuple(std::begin(ranges)...);
  return encode_packed_in_chunks<R>(
      n, map_chunk_size(options.chunksize(), n, workers), reserve_ids, enqueue,
      [&](std::uint64_t id, std::size_t count) {
        return encode_packed_calls(fn, packed, id, count, cursor);
      });
}

/// starmap over a range of tuples as packed chunks of `packed` (the task's packed twin).
template <class R, class... P, class ReserveIds, class Enqueue, class Range>
PackedMap<R> run_packed_starmap(const MapOptions& options, R (*fn)(P...), const TaskEntry& packed,
                                int workers, ReserveIds&& reserve_ids, Enqueue&& enqueue,
                                const Range& tuples) {
  const auto n = static_cast<std::size_t>(std::distance(std::begin(tuples), std::end(tuples)));
  auto it = std::begin(tuples);
  return encode_packed_in_chunks<R>(
      n, map_chunk_size(options.chunksize(), n, workers), reserve_ids, enqueue,
      [&](std::uint64_t id, std::size_t count) {
        return encode_packed_tuples(fn, packed, id, count, it);
      });
}

/// starmap over a range of tuples: one future per call, in input order.
template <class R, class... P, class ReserveIds, class Enqueue, class Range>
std::vector<Future<R>> run_starmap(const MapOptions& options, R (*fn)(P...),
                                   const TaskEntry& task, int workers, ReserveIds&& reserve_ids,
                                   Enqueue&& enqueue, const Range& tuples) {
  const auto n = static_cast<std::size_t>(std::distance(std::begin(tuples), std::end(tuples)));
  std::vector<Future<R>> futures =
      encode_starmap(fn, task, n, map_chunk_size(options.chunksize(), n, workers), reserve_ids,
                     enqueue, tuples);
  watch_map_progress(options, futures);
  return futures;
}

}  // namespace spawnpool::detail
