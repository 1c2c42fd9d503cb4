#pragma once
// The map family's work, shared by every executor (Executor, ThreadExecutor): each executor passes
// its worker count and how to reserve call ids and enqueue a WorkItem.

#include <spawnpool/detail/encode_calls.hpp>
#include <spawnpool/detail/encode_tuples.hpp>
#include <spawnpool/detail/map_progress.hpp>
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
