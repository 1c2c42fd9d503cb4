#pragma once
// Encoding a chunk of calls as one packed call (packed_chunk.hpp): the arguments are copied into
// one array, one record per call; the WorkItem holds one call, of the task's packed twin.

#include <spawnpool/detail/encode_calls.hpp>
#include <spawnpool/detail/encode_tuples.hpp>
#include <spawnpool/detail/packed_chunk.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <tuple>
#include <utility>

namespace spawnpool::detail {

/// The packed twin of `task` when calls of fn may travel packed (packable_v), else nullptr.
template <class R, class... P>
const TaskEntry* packed_twin(R (*)(P...), const TaskEntry& task) {
  if constexpr (packable_v<R, P...>) {
    return find_task(packed_task_name(task.name));
  } else {
    return nullptr;
  }
}

/// Writes one call's arguments as a record; returns where the next record goes.
template <class... P, class... A>
char* put_packed_record(char* out, const A&... args) {
  ((std::memcpy(out, &static_cast<const stored_t<P>&>(as_parameter<P>(args)), sizeof(stored_t<P>)),
    out += sizeof(stored_t<P>)),
   ...);
  return out;
}

/// A WorkItem of one packed call with id `id` over `count` calls; `write(out, i)` writes the
/// record of call i at `out` and returns its end.
template <class R, class... P, class WriteRecord>
WorkItem encode_packed_chunk(R (*)(P...), const TaskEntry& packed, std::uint64_t id,
                             std::size_t count, WriteRecord&& write) {
  constexpr std::size_t record = (sizeof(stored_t<P>) + ...);
  const std::size_t args_size = kPackedArgsPrefix + count * record;
  WorkItem item;
  item.message =
      Buffer(wire::kHeaderSize + wire::call_entry_overhead(packed.name.size()) + args_size);
  char* out = wire::put_call_prefix(item.message.data() + wire::kHeaderSize, id, packed.signature,
                                    packed.name, args_size);
  out = wire::put(out, static_cast<std::uint64_t>(count));
  for (std::size_t i = 0; i < count; ++i) out = write(out, i);
  item.calls.push_back({id, std::make_shared<TaskState>(packed.name, &packed_result_marker)});
  item.calls.back().state->set_packed_calls(count);
  return item;
}

/// The next `count` zipped calls at `cursor` (advanced past them) as one packed call.
template <class R, class... P, class... Iterators>
WorkItem encode_packed_calls(R (*fn)(P...), const TaskEntry& packed, std::uint64_t id,
                             std::size_t count, std::tuple<Iterators...>& cursor) {
  return encode_packed_chunk(fn, packed, id, count, [&](char* out, std::size_t) {
    out = std::apply([&](auto&... it) { return put_packed_record<P...>(out, *it...); }, cursor);
    std::apply([](auto&... it) { (++it, ...); }, cursor);
    return out;
  });
}

template <class... P, class Tuple, std::size_t... I>
char* put_packed_tuple(char* out, const Tuple& args, std::index_sequence<I...>) {
  return put_packed_record<P...>(out, std::get<I>(args)...);
}

/// The next `count` calls at `it` (advanced past them), one element per call (see call_args), as
/// one packed call.
template <class R, class... P, class Iterator>
WorkItem encode_packed_tuples(R (*fn)(P...), const TaskEntry& packed, std::uint64_t id,
                              std::size_t count, Iterator& it) {
  return encode_packed_chunk(fn, packed, id, count, [&](char* out, std::size_t) {
    out = put_packed_tuple<P...>(out, call_args<P...>(*it), std::index_sequence_for<P...>{});
    ++it;
    return out;
  });
}

}  // namespace spawnpool::detail
