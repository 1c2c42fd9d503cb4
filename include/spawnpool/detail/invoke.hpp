#pragma once
// Worker-side decoding and calling of a registered function, and manager-side encoding of its
// arguments. Both sides use the function's own parameter types, so what is sent is exactly what the
// function takes.

#include <spawnpool/detail/packed_chunk.hpp>
#include <spawnpool/detail/registry.hpp>
#include <spawnpool/detail/serialize.hpp>
#include <spawnpool/detail/task_state.hpp>
#include <spawnpool/detail/wire_layout.hpp>

#include <cereal/types/tuple.hpp>

#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

namespace spawnpool::detail {

/// The stored (decoded) form of parameter P.
template <class P>
using stored_t = std::remove_cv_t<std::remove_reference_t<P>>;

/// Passes a decoded argument to a parameter of type P: by lvalue for `T&`, otherwise by move.
template <class P, class E>
decltype(auto) pass_argument(E& element) {
  if constexpr (std::is_lvalue_reference_v<P>) {
    return (element);
  } else {
    return std::move(element);
  }
}

/// Presents a submitted argument as the parameter's stored type: the same object when the types
/// match (no copy), otherwise a converted value.
template <class P, class A>
decltype(auto) as_parameter(A&& argument) {
  using T = stored_t<P>;
  if constexpr (std::is_same_v<std::decay_t<A>, T>) {
    return static_cast<const T&>(argument);
  } else {
    return T(std::forward<A>(argument));
  }
}

/// The hash both sides compare before a call runs: the function type's name and the wire layout
/// of its types (wire_layout.hpp).
template <class R, class... P>
std::uint64_t signature_of() {
  static const std::uint64_t hash = fnv1a(std::string(typeid(R(stored_t<P>...)).name()) + '|' +
                                          wire_layout_of<R, stored_t<P>...>());
  return hash;
}

template <class R, class... P, std::size_t... I>
R call_with(R (*fn)(P...), std::tuple<stored_t<P>...>& args, std::index_sequence<I...>) {
  return fn(pass_argument<P>(std::get<I>(args))...);
}

/// Decodes a call's arguments into their stored types (nothing to do for a task without any).
/// @throws BadArguments when the bytes do not decode into those types
template <class... T>
void decode_arguments(ByteSpan args_bytes, OutOfBandInput* args_out_of_band,
                      std::tuple<T...>& args) {
  if constexpr (sizeof...(T) > 0) {
    try {
      deserialize_from(args_bytes, args, args_out_of_band);
    } catch (const std::exception& e) {
      throw BadArguments{e.what()};
    }
  }
}

/// One call of task Fn: its decoded arguments, then its run.
template <auto Fn, class R, class... P>
class CallOf final : public PreparedCall {
 public:
  CallOf() = default;
  CallOf(const CallOf&) = delete;
  CallOf& operator=(const CallOf&) = delete;
  /// Arguments the task did not take over (say a `const std::vector<double>&`) give their
  /// storage to the next decoded argument (vector_recycling.hpp).
  ~CallOf() override { recycle_storage_of(args_); }

  /// @throws BadArguments when the bytes do not decode into the parameter types
  void decode(ByteSpan args_bytes, OutOfBandInput* args_out_of_band) {
    decode_arguments(args_bytes, args_out_of_band, args_);
  }

  EncodedResult run(std::size_t reserve_front, bool out_of_band) override {
    EncodedResult out;
    if constexpr (std::is_void_v<R>) {
      call_with(Fn, args_, std::index_sequence_for<P...>{});
      out.buffer = Buffer(reserve_front);
    } else {
      out.buffer = serialize_owned(call_with(Fn, args_, std::index_sequence_for<P...>{}),
                                   reserve_front, out_of_band ? &out.out_of_band : nullptr);
    }
    return out;
  }

 private:
  std::tuple<stored_t<P>...> args_;
};

template <auto Fn, class R, class... P>
EncodedResult invoke_task(ByteSpan args, OutOfBandInput* args_out_of_band,
                          std::size_t reserve_front, bool out_of_band) {
  CallOf<Fn, R, P...> call;
  call.decode(args, args_out_of_band);
  return call.run(reserve_front, out_of_band);
}

template <auto Fn, class R, class... P>
std::unique_ptr<PreparedCall> prepare_task(ByteSpan args, OutOfBandInput* args_out_of_band) {
  auto call = std::make_unique<CallOf<Fn, R, P...>>();
  call->decode(args, args_out_of_band);
  return call;
}

/// Copies one record of a packed chunk (packed_chunk.hpp) into the arguments of a call.
template <class... T, std::size_t... I>
void read_packed_record(const char* record, std::tuple<T...>& args, std::index_sequence<I...>) {
  std::size_t offset = 0;
  ((std::memcpy(&std::get<I>(args), record + offset, sizeof(T)), offset += sizeof(T)), ...);
}

/// Bytes one result of type R takes in a packed chunk's result (0 for void).
template <class R>
constexpr std::size_t packed_value_size() {
  if constexpr (std::is_void_v<R>) {
    return 0;
  } else {
    return sizeof(std::decay_t<R>);
  }
}

/// The packed twin's Invoker: runs every call of a packed chunk in order and returns their results
/// as one array (packed_chunk.hpp). A call that throws is recorded as a failure and the next one
/// runs. @throws BadArguments when the args are not whole records
template <auto Fn, class R, class... P>
EncodedResult invoke_packed(ByteSpan args, OutOfBandInput*, std::size_t reserve_front, bool) {
  constexpr std::size_t record = (sizeof(stored_t<P>) + ...);
  constexpr std::size_t value_size = packed_value_size<R>();
  std::size_t count = 0;
  const ByteSpan records = packed_records(args, record, count);
  EncodedResult out;
  out.buffer = Buffer(reserve_front + kPackedResultPrefix + count * value_size);
  char* values = out.buffer.data() + reserve_front + kPackedResultPrefix;
  std::vector<PackedFailure> failures;
  std::tuple<stored_t<P>...> call_args;
  for (std::size_t i = 0; i < count; ++i) {
    read_packed_record(records.data + i * record, call_args, std::index_sequence_for<P...>{});
    try {
      if constexpr (std::is_void_v<R>) {
        call_with(Fn, call_args, std::index_sequence_for<P...>{});
      } else {
        const std::decay_t<R> value = call_with(Fn, call_args, std::index_sequence_for<P...>{});
        std::memcpy(values + i * value_size, &value, value_size);
      }
    } catch (...) {
      if constexpr (!std::is_void_v<R>) {
        const std::decay_t<R> value{};
        std::memcpy(values + i * value_size, &value, value_size);
      }
      note_packed_failure(failures, i);
    }
  }
  out.buffer =
      finish_packed_results(std::move(out.buffer), reserve_front, count, value_size, failures);
  return out;
}

/// A packed chunk kept to run later (its args copied out of the message).
template <auto Fn, class R, class... P>
class PackedCallOf final : public PreparedCall {
 public:
  explicit PackedCallOf(ByteSpan args) : args_(args.data, args.data + args.size) {}
  EncodedResult run(std::size_t reserve_front, bool out_of_band) override {
    return invoke_packed<Fn, R, P...>(ByteSpan{args_.data(), args_.size()}, nullptr,
                                      reserve_front, out_of_band);
  }

 private:
  std::vector<char> args_;
};

template <auto Fn, class R, class... P>
std::unique_ptr<PreparedCall> prepare_packed(ByteSpan args, OutOfBandInput*) {
  std::size_t count = 0;
  packed_records(args, (sizeof(stored_t<P>) + ...), count);  // throws BadArguments
  return std::make_unique<PackedCallOf<Fn, R, P...>>(args);
}

/// How a manager decodes a result of type R that arrived with out-of-band blocks (nullptr for
/// void, which has no result bytes).
template <class R>
constexpr TaskState::ResultDecoder result_decoder() {
  if constexpr (std::is_void_v<R>) {
    return nullptr;
  } else {
    return &decode_shared<std::decay_t<R>>;
  }
}

template <class F>
struct TaskTraits;

/// Compile-time checks of a task's parameter and result types (serializable, default-constructible).
template <class R, class... P>
void check_task_types() {
    (require_serializable<stored_t<P>>(), ...);
    if constexpr (!std::is_void_v<R>) {
      require_serializable<std::decay_t<R>>();
      static_assert(std::is_default_constructible_v<std::decay_t<R>>,
                    "spawnpool: a task's result type must be default-constructible to be decoded "
                    "on the manager");
    }
    static_assert((std::is_default_constructible_v<stored_t<P>> && ...),
                  "spawnpool: task parameter types must be default-constructible to be decoded "
                  "on the worker");
}

template <class R, class... P>
struct TaskTraits<R (*)(P...) noexcept> : TaskTraits<R (*)(P...)> {};

template <class R, class... P>
struct TaskTraits<R (*)(P...)> {
  using result_type = R;
  template <auto Fn>
  static TaskEntry entry(const char* name) {
    check_task_types<R, P...>();
    TaskEntry e;
    e.name = name;
    e.invoke = &invoke_task<static_cast<R (*)(P...)>(Fn), R, P...>;
    e.prepare = &prepare_task<static_cast<R (*)(P...)>(Fn), R, P...>;
    e.signature = signature_of<R, P...>();
    e.signature_text = demangle(typeid(R(stored_t<P>...)).name());
    e.function = reinterpret_cast<FunctionKey>(Fn);
    return e;
  }

  /// Registers the packed twin of task `plain` (packed_chunk.hpp) when its types allow one.
  template <auto Fn>
  static void register_packed(const TaskEntry& plain) {
    if constexpr (packable_v<R, P...>) {
      constexpr auto fn = static_cast<R (*)(P...)>(Fn);
      TaskEntry e;
      e.name = packed_task_name(plain.name);
      e.invoke = &invoke_packed<fn, R, P...>;
      e.prepare = &prepare_packed<fn, R, P...>;
      e.signature = packed_signature(plain.signature);
      e.signature_text = plain.signature_text + " (packed chunk)";
      e.function = reinterpret_cast<FunctionKey>(e.invoke);
      e.builtin = plain.builtin;
      register_task(std::move(e));
    }
  }
};

/// Static registration object created by SPAWNPOOL_TASK.
template <auto Fn>
struct Registration {
  /// `builtin`: one of the library's own tasks (TaskEntry::builtin).
  explicit Registration(const char* name, bool builtin = false) {
    TaskEntry entry = TaskTraits<decltype(Fn)>::template entry<Fn>(name);
    entry.builtin = builtin;
    TaskTraits<decltype(Fn)>::template register_packed<Fn>(entry);
    register_task(std::move(entry));
  }
};

}  // namespace spawnpool::detail
