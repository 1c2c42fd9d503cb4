#pragma once
// Encoding calls into WorkItems, shared by every executor (Executor, ThreadExecutor): the task is
// looked up by address, the arguments are converted to the function's parameter types and cereal-
// encoded into exactly-sized wire messages (layout in wire_format.hpp). Whatever runs the calls
// afterwards, a process over MPI or a thread, gets the same bytes.

#include <spawnpool/detail/invoke.hpp>
#include <spawnpool/detail/registry.hpp>
#include <spawnpool/detail/wire_format.hpp>
#include <spawnpool/detail/work_item.hpp>
#include <spawnpool/future.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

namespace spawnpool::detail {

/// The registry entry of `fn`.
/// @throws UnregisteredTask (naming the function and the macro to register it) when `fn` is not
///         registered
const TaskEntry& require_task(FunctionKey fn);

/// Calls per message for a map of `n` calls over `workers` workers: `requested` when non-zero, else
/// about four chunks per worker, between 1 and 1024 calls.
std::size_t map_chunk_size(std::size_t requested, std::size_t n, int workers);

/// Number of calls a map over `ranges` makes: the length of the shortest range (0 for none).
template <class... Ranges>
std::size_t zipped_size(const Ranges&... ranges) {
  if constexpr (sizeof...(Ranges) == 0) {
    return 0;
  } else {
    std::size_t n = SIZE_MAX;
    ((n = std::min<std::size_t>(
          n, static_cast<std::size_t>(std::distance(std::begin(ranges), std::end(ranges))))),
     ...);
    return n;
  }
}

/// Counts (or writes) one argument; large blocks of an argument handed over as an rvalue may go
/// out of band.
template <class P, class A, class V>
void archive_argument(SpanOutputArchive& archive, V& value) {
  archive.allow_out_of_band(!std::is_lvalue_reference_v<A>);
  archive(as_parameter<P>(value));
}

/// The call task(args...) with id `id` as a one-call WorkItem; its state is item.calls[0].state.
///
/// Arguments are encoded now, so the caller may change or free them once this returns. Large
/// arrays (serialize.hpp, kOutOfBandMin) in arguments handed over as rvalues (`std::move(v)`) are
/// not copied: all arguments are moved (or copied) into a holder the item keeps, and those arrays
/// travel out of band, sent from the holder (whose vectors' storage is recycled once they are sent:
/// vector_recycling.hpp).
template <class R, class... P, class... A>
WorkItem encode_call(R (*)(P...), const TaskEntry& task, std::uint64_t id, A&&... args) {
  const std::size_t overhead = wire::kHeaderSize + wire::call_entry_overhead(task.name.size());
  WorkItem item;
  const auto encode_inline = [&](std::size_t args_size) {
    item.message = Buffer(overhead + args_size);
    char* out = wire::put_call_prefix(item.message.data() + wire::kHeaderSize, id,
                                      task.signature, task.name, args_size);
    serialize_into(out, args_size, as_parameter<P>(args)...);
  };
  if constexpr (all_plain_bytes_v<stored_t<P>...>) {
    encode_inline(plain_size_of<stored_t<P>...>());  // no archive needed to measure them
  } else {
    SpanOutputArchive counter;
    (archive_argument<P, A>(counter, args), ...);
    if (counter.out_of_band_blocks() == 0) {
      encode_inline(counter.size());
    } else if constexpr (sizeof...(P) > 0) {
      auto held = make_recycling_holder<std::tuple<stored_t<P>...>>(
          stored_t<P>(std::forward<A>(args))...);
      SpanOutputArchive measure;
      measure.allow_out_of_band(true);
      std::apply([&](const auto&... value) { measure(value...); }, *held);
      item.message = Buffer(overhead + measure.size());
      char* out = item.message.data() + wire::kHeaderSize;
      out = wire::put_call_prefix(out, id, task.signature, task.name, measure.size(),
                                  measure.out_of_band_bytes());
      SpanOutputArchive archive(out, measure.size(), &item.out_of_band.blocks);
      archive.allow_out_of_band(true);
      std::apply([&](const auto&... value) { archive(value...); }, *held);
      item.out_of_band.owners.push_back(std::move(held));
    }
  }
  item.calls.push_back({id, std::make_shared<TaskState>(task.name, result_decoder<R>())});
  return item;
}

/// The next `count` zipped calls at `cursor` (a tuple of iterators, one per parameter, advanced
/// past them) as one WorkItem with ids first_id, first_id + 1, ... The iterators are read twice:
/// once to size the message, once to encode.
template <class R, class... P, class... Iterators>
WorkItem encode_calls(R (*)(P...), const TaskEntry& task, std::uint64_t first_id,
                      std::size_t count, std::tuple<Iterators...>& cursor) {
  std::vector<std::size_t> args_sizes;
  args_sizes.reserve(count);
  std::size_t total = wire::kHeaderSize;
  auto pass = cursor;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t size = std::apply(
        [](auto&... it) { return serialized_size(as_parameter<P>(*it)...); }, pass);
    args_sizes.push_back(size);
    total += wire::call_entry_overhead(task.name.size()) + size;
    std::apply([](auto&... it) { (++it, ...); }, pass);
  }
  WorkItem item;
  item.message = Buffer(total);
  item.calls.reserve(count);
  char* out = item.message.data() + wire::kHeaderSize;
  for (std::size_t i = 0; i < count; ++i) {
    out = wire::put_call_prefix(out, first_id + i, task.signature, task.name, args_sizes[i]);
    std::apply(
        [&](auto&... it) { serialize_into(out, args_sizes[i], as_parameter<P>(*it)...); },
        cursor);
    out += args_sizes[i];
    std::apply([](auto&... it) { (++it, ...); }, cursor);
    item.calls.push_back({first_id + i, std::make_shared<TaskState>(task.name, result_decoder<R>())});
  }
  return item;
}

/// `n` calls, `chunk` per WorkItem: `encode(first_id, count)` encodes the next `count` calls
/// with ids first_id, first_id + 1, ..., and each item is handed to `enqueue(WorkItem&&)` as soon
/// as it is encoded. `reserve_ids(count)` returns the first of `count` consecutive call ids.
/// Returns one future per call, in input order.
template <class R, class ReserveIds, class Enqueue, class Encode>
std::vector<Future<R>> encode_in_chunks(std::size_t n, std::size_t chunk, ReserveIds&& reserve_ids,
                                        Enqueue&& enqueue, Encode&& encode) {
  std::vector<Future<R>> futures;
  futures.reserve(n);
  for (std::size_t first = 0; first < n; first += chunk) {
    const std::size_t count = std::min(chunk, n - first);
    WorkItem item = encode(reserve_ids(count), count);
    for (const PendingCall& call : item.calls) futures.emplace_back(call.state);
    enqueue(std::move(item));
  }
  return futures;
}

/// The whole of a map: the first `n` zipped calls over `ranges`, `chunk` calls per WorkItem, each
/// item handed to `enqueue(WorkItem&&)` as soon as it is encoded. `reserve_ids(count)` returns the
/// first of `count` consecutive call ids. Returns one future per call, in input order.
template <class R, class... P, class ReserveIds, class Enqueue, class... Ranges>
std::vector<Future<R>> encode_map(R (*fn)(P...), const TaskEntry& task, std::size_t n,
                                  std::size_t chunk, ReserveIds&& reserve_ids, Enqueue&& enqueue,
                                  const Ranges&... ranges) {
  auto cursor = std::make_tuple(std::begin(ranges)...);
  return encode_in_chunks<R>(n, chunk, reserve_ids, enqueue,
                             [&](std::uint64_t first_id, std::size_t count) {
                               return encode_calls(fn, task, first_id, count, cursor);
                             });
}

}  // namespace spawnpool::detail
