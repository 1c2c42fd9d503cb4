#pragma once
// The task registry: name -> how to run it, and function address -> name. Filled at static
// initialisation by SPAWNPOOL_TASK; read-only afterwards, so lookups need no lock.

#include <spawnpool/detail/bytes.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace spawnpool::detail {

class OutOfBandInput;

/// A task's encoded result: cereal bytes after `reserve_front` unwritten ones (room for the
/// message header and entry prefix) and, when asked for, its out-of-band blocks (serialize.hpp).
struct EncodedResult {
  Buffer buffer;
  OutOfBand out_of_band;
};

/// A call whose arguments are decoded, waiting to run (their out-of-band bytes may still be
/// arriving: run it only once they have).
class PreparedCall {
 public:
  virtual ~PreparedCall() = default;
  /// Runs the task and encodes its result (with `out_of_band`, large blocks out of band).
  /// Anything the task throws passes through.
  virtual EncodedResult run(std::size_t reserve_front, bool out_of_band) = 0;
};

/// Decodes the arguments (large blocks from `args_out_of_band` when not null), runs the task and
/// encodes the result as PreparedCall::run does.
/// Throws BadArguments when the arguments cannot be decoded; anything the task throws passes through.
using Invoker = EncodedResult (*)(ByteSpan args, OutOfBandInput* args_out_of_band,
                                  std::size_t reserve_front, bool out_of_band);

/// Decodes the arguments into a call to run later; out-of-band blocks are only noted by
/// `args_out_of_band` (OutOfBandTargets) and must be received before the call runs.
/// Throws BadArguments when the arguments cannot be decoded.
using Preparer = std::unique_ptr<PreparedCall> (*)(ByteSpan args, OutOfBandInput* args_out_of_band);

/// A type-erased function address, used as the key from `submit(fn, ...)` to the task's name.
using FunctionKey = void (*)();

struct TaskEntry {
  std::string name;
  Invoker invoke = nullptr;
  Preparer prepare = nullptr;
  std::uint64_t signature = 0;  // hash of the function type: both sides must agree
  std::string signature_text;   // the function type, for messages
  FunctionKey function = nullptr;
  bool builtin = false;  // one of the library's own tasks: a pool service offers it only on request
};

/// Thrown by an Invoker when the argument bytes do not decode into the task's parameter types.
struct BadArguments {
  std::string what;
};

/// Registers a task; called from static initialisers. Registering the same function under the same
/// name again is harmless; a name used for two different functions is reported by
/// registry_conflicts() and makes Runtime's constructor throw.
void register_task(TaskEntry entry);

/// The entry for a task name, or nullptr.
const TaskEntry* find_task(std::string_view name);

/// The entry for a function address, or nullptr when the function was never registered.
const TaskEntry* find_task(FunctionKey function);

/// Descriptions of names registered for more than one function; empty when all is well.
std::string registry_conflicts();

/// Best-effort readable name of a function address (the symbol name when the binary exports it).
std::string describe_function(FunctionKey function);

/// 64-bit FNV-1a of a string; used for signatures.
constexpr std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

/// The demangled name of a type.
std::string demangle(const char* mangled);

}  // namespace spawnpool::detail
