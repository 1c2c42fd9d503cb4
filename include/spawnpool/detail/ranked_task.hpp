#pragma once
// k-rank tasks (task_comm.hpp) on the worker side, and their registration. A task whose first
// parameter is spawnpool::TaskComm is registered twice: under its name (the result of rank 0) and
// under its all-ranks twin's name (every rank's result, a std::vector<R> in rank order). The
// manager sends a call to the group's rank 0, the leader, which runs it like any worker; the
// entry's PreparedCall then forwards the call to the other ranks (the followers, rank_group.cpp),
// runs its own share and gathers theirs before answering.

#include <spawnpool/detail/invoke.hpp>
#include <spawnpool/task_comm.hpp>

#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace spawnpool::detail {

/// Where the calling process stands in a k-rank call: a member of a group spawned together
/// (size > 1), or alone (rank 0, size 1, MPI_COMM_SELF; MPI_COMM_NULL when MPI is not
/// initialized). Never throws.
struct RankGroupView {
  MPI_Comm task_comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
};
RankGroupView rank_group_view() noexcept;

/// One follower's part of a call, as the leader receives it.
struct RankOutcome {
  bool ok = true;
  std::vector<char> bytes;  // ok: its encoded result (all-ranks calls only); else what failed
};

/// Leader: hands the call (task entry `entry_name`, arguments encoded inline) to every follower.
/// @throws Error when a follower cannot be reached
void send_call_to_followers(std::string_view entry_name, ByteSpan args);
/// Leader: its own part of the current call failed; the group is ended if the other ranks do not
/// finish within kRankStuckLimit (control_messages.hpp). Never throws.
void note_leader_part_failed() noexcept;
/// Follower: hands its outcome of the current call to the leader (a failure also starts the
/// stuck clock: the leader's in a spawned group, this follower's own in a static group).
void send_outcome_to_leader(bool ok, ByteSpan bytes);
/// Leader: every follower's outcome of the current call, index 0 being rank 1.
/// @throws Error when a follower cannot be reached
std::vector<RankOutcome> gather_follower_outcomes();
/// The text a follower sends for the exception `error`: "type: what".
std::string describe_rank_failure(std::exception_ptr error);
/// Thrown on the leader when rank `rank` of `size` failed: a std::runtime_error naming the rank.
[[noreturn]] void throw_rank_failure(int rank, int size, const std::vector<char>& what);

/// The registry name of the all-ranks twin of k-rank task `name`.
std::string all_ranks_task_name(std::string_view name);
/// The all-ranks twin of k-rank task entry `plain`.
/// @throws UnregisteredTask when it has none (cannot happen for a task registered as k-rank)
const TaskEntry& require_all_ranks_twin(const TaskEntry& plain);
/// @throws Error when `ranks` < 1
void check_ranks(int ranks);
/// Signatures of a k-rank task and of its all-ranks twin (both sides must agree on the kind).
constexpr std::uint64_t ranked_signature(std::uint64_t s) { return s ^ 0x72616e6b65642121ull; }
constexpr std::uint64_t all_ranks_signature(std::uint64_t s) { return s ^ 0x616c6c72616e6b73ull; }

/// One call of k-rank task Fn (R Fn(TaskComm, P...)); AllRanks: answer every rank's result.
template <auto Fn, bool AllRanks, class R, class... P>
class RankedCallOf final : public PreparedCall {
 public:
  explicit RankedCallOf(std::string entry_name) : entry_name_(std::move(entry_name)) {}

  /// @throws BadArguments when the bytes do not decode into the parameter types
  void decode(ByteSpan args_bytes, OutOfBandInput* args_out_of_band) {
    decode_arguments(args_bytes, args_out_of_band, args_);
  }

  EncodedResult run(std::size_t reserve_front, bool out_of_band) override {
    const RankGroupView group = rank_group_view();
    if (group.size > 1 && group.rank == 0) forward_to_followers();
    using Value = std::conditional_t<std::is_void_v<R>, char, std::decay_t<R>>;
    std::optional<Value> mine;
    std::exception_ptr error;
    try {
      TaskComm comm(group.task_comm, group.rank, group.size);
      if constexpr (std::is_void_v<R>) {
        call(comm);
        mine.emplace();
      } else {
        mine.emplace(call(comm));
      }
    } catch (...) {
      error = std::current_exception();
      if (group.rank == 0 && group.size > 1) note_leader_part_failed();
    }
    if (group.rank != 0) {  // a follower: its part goes to the leader, the manager hears nothing
      if (error) {
        const std::string what = describe_rank_failure(error);
        send_outcome_to_leader(false, ByteSpan{what.data(), what.size()});
      } else if constexpr (AllRanks) {
        const Buffer bytes = serialize_owned(std::move(*mine), 0, nullptr);
        send_outcome_to_leader(true, ByteSpan{bytes.data(), bytes.size()});
      } else {
        send_outcome_to_leader(true, ByteSpan{});
      }
      return EncodedResult{Buffer(reserve_front), {}};
    }
    std::vector<RankOutcome> others;
    if (group.size > 1) others = gather_follower_outcomes();
    if (error) std::rethrow_exception(error);
    for (std::size_t i = 0; i < others.size(); ++i) {
      if (!others[i].ok) throw_rank_failure(static_cast<int>(i) + 1, group.size, others[i].bytes);
    }
    EncodedResult out;
    if constexpr (AllRanks) {
      std::vector<Value> all;
      all.reserve(others.size() + 1);
      all.push_back(std::move(*mine));
      for (const RankOutcome& o : others) {
        Value value{};
        deserialize_from(ByteSpan{o.bytes.data(), o.bytes.size()}, value);
        all.push_back(std::move(value));
      }
      out.buffer = serialize_owned(std::move(all), reserve_front,
                                   out_of_band ? &out.out_of_band : nullptr);
    } else if constexpr (std::is_void_v<R>) {
      out.buffer = Buffer(reserve_front);
    } else {
      out.buffer = serialize_owned(std::move(*mine), reserve_front,
                                   out_of_band ? &out.out_of_band : nullptr);
    }
    return out;
  }

 private:
  template <std::size_t... I>
  R call_with_comm(TaskComm comm, std::index_sequence<I...>) {
    return Fn(comm, pass_argument<P>(std::get<I>(args_))...);
  }
  R call(TaskComm comm) { return call_with_comm(comm, std::index_sequence_for<P...>{}); }

  /// The arguments encoded inline (out-of-band blocks included), before the task consumes them.
  void forward_to_followers() {
    Buffer bytes;
    if constexpr (sizeof...(P) > 0) bytes = serialize_owned(args_, 0, nullptr);
    send_call_to_followers(entry_name_, ByteSpan{bytes.data(), bytes.size()});
  }

  std::string entry_name_;
  std::tuple<stored_t<P>...> args_;
};

/// The registry name of the k-rank task entry Fn (all-ranks twin when AllRanks).
std::string ranked_entry_name(FunctionKey function, bool all_ranks);

template <auto Fn, bool AllRanks, class R, class... P>
std::unique_ptr<PreparedCall> prepare_ranked(ByteSpan args, OutOfBandInput* args_out_of_band) {
  auto call = std::make_unique<RankedCallOf<Fn, AllRanks, R, P...>>(
      ranked_entry_name(reinterpret_cast<FunctionKey>(Fn), AllRanks));
  call->decode(args, args_out_of_band);
  return call;
}

template <auto Fn, bool AllRanks, class R, class... P>
EncodedResult invoke_ranked(ByteSpan args, OutOfBandInput* args_out_of_band,
                            std::size_t reserve_front, bool out_of_band) {
  return prepare_ranked<Fn, AllRanks, R, P...>(args, args_out_of_band)
      ->run(reserve_front, out_of_band);
}

/// Registration of a k-rank task: its entry (rank 0's result) and its all-ranks twin (non-void
/// results only).
template <class R, class... P>
struct TaskTraits<R (*)(TaskComm, P...)> {
  using result_type = R;
  template <auto Fn>
  static TaskEntry entry(const char* name) {
    check_task_types<R, P...>();
    constexpr auto fn = static_cast<R (*)(TaskComm, P...)>(Fn);
    TaskEntry e;
    e.name = name;
    e.invoke = &invoke_ranked<fn, false, R, P...>;
    e.prepare = &prepare_ranked<fn, false, R, P...>;
    e.signature = ranked_signature(signature_of<R, P...>());
    e.signature_text = demangle(typeid(R(stored_t<P>...)).name()) + " (with a TaskComm)";
    e.function = reinterpret_cast<FunctionKey>(Fn);
    return e;
  }

  template <auto Fn>
  static void register_packed(const TaskEntry& plain) {
    if constexpr (!std::is_void_v<R>) {
      constexpr auto fn = static_cast<R (*)(TaskComm, P...)>(Fn);
      TaskEntry e;
      e.name = all_ranks_task_name(plain.name);
      e.invoke = &invoke_ranked<fn, true, R, P...>;
      e.prepare = &prepare_ranked<fn, true, R, P...>;
      e.signature = all_ranks_signature(signature_of<R, P...>());
      e.signature_text = plain.signature_text + " (every rank's result)";
      e.function = reinterpret_cast<FunctionKey>(e.invoke);
      e.builtin = plain.builtin;
      register_task(std::move(e));
    }
  }
};

}  // namespace spawnpool::detail
