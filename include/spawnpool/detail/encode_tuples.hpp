#pragma once
// Encoding calls whose arguments come packed, one tuple per call (starmap, submit_batch), into the
// same WorkItems encode_calls.hpp makes from zipped ranges.

#include <spawnpool/detail/encode_calls.hpp>

#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace spawnpool::detail {

/// The arguments of one call of a task with parameters P... given as `element`: for a one-parameter
/// task, an element convertible to that parameter is the argument itself; otherwise the element is
/// tuple-like (std::tuple, std::pair, std::array) with one entry per parameter.
template <class... P, class E>
decltype(auto) call_args(const E& element) {
  if constexpr (sizeof...(P) == 1 &&
                std::is_constructible_v<stored_t<std::tuple_element_t<0, std::tuple<P...>>>,
                                        const E&>) {
    return std::tuple<const E&>(element);
  } else {
    static_assert(std::tuple_size<E>::value == sizeof...(P),
                  "spawnpool: each input must be a tuple with one entry per task parameter");
    return (element);
  }
}

template <class... P, class Tuple, std::size_t... I>
std::size_t tuple_args_size(const Tuple& args, std::index_sequence<I...>) {
  return serialized_size(as_parameter<P>(std::get<I>(args))...);
}

template <class... P, class Tuple, std::size_t... I>
void tuple_args_into(char* out, std::size_t size, const Tuple& args, std::index_sequence<I...>) {
  serialize_into(out, size, as_parameter<P>(std::get<I>(args))...);
}

/// The next `count` calls at `it` (advanced past them), one element per call (see call_args), as
/// one WorkItem with ids first_id, first_id + 1, ... The elements are read twice.
template <class R, class... P, class Iterator>
WorkItem encode_tuple_calls(R (*)(P...), const TaskEntry& task, std::uint64_t first_id,
                            std::size_t count, Iterator& it) {
  using Seq = std::index_sequence_for<P...>;
  std::vector<std::size_t> args_sizes;
  args_sizes.reserve(count);
  std::size_t total = wire::kHeaderSize;
  Iterator pass = it;
  for (std::size_t i = 0; i < count; ++i, ++pass) {
    const std::size_t size = tuple_args_size<P...>(call_args<P...>(*pass), Seq{});
    args_sizes.push_back(size);
    total += wire::call_entry_overhead(task.name.size()) + size;
  }
  WorkItem item;
  item.message = Buffer(total);
  item.calls.reserve(count);
  char* out = item.message.data() + wire::kHeaderSize;
  for (std::size_t i = 0; i < count; ++i, ++it) {
    out = wire::put_call_prefix(out, first_id + i, task.signature, task.name, args_sizes[i]);
    tuple_args_into<P...>(out, args_sizes[i], call_args<P...>(*it), Seq{});
    out += args_sizes[i];
    item.calls.push_back({first_id + i, std::make_shared<TaskState>(task.name, result_decoder<R>())});
  }
  return item;
}

/// starmap: the `n` first elements of `tuples`, `chunk` calls per WorkItem, each handed to
/// `enqueue(WorkItem&&)` once encoded. Returns one future per call, in input order.
template <class R, class... P, class ReserveIds, class Enqueue, class Range>
std::vector<Future<R>> encode_starmap(R (*fn)(P...), const TaskEntry& task, std::size_t n,
                                      std::size_t chunk, ReserveIds&& reserve_ids,
                                      Enqueue&& enqueue, const Range& tuples) {
  auto it = std::begin(tuples);
  return encode_in_chunks<R>(n, chunk, reserve_ids, enqueue,
                             [&](std::uint64_t first_id, std::size_t count) {
                               return encode_tuple_calls(fn, task, first_id, count, it);
                             });
}

}  // namespace spawnpool::detail
