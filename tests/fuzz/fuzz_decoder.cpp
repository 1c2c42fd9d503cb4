// libFuzzer target for spawnpool's message decoder and argument decoding. Every input must either
// decode or be rejected with one of the documented exceptions; anything else (a crash, an ASan
// report, another exception type) is a bug. Built with clang -fsanitize=fuzzer,address,undefined
// by tests/fuzz/CMakeLists.txt, without MPI: only src/wire.cpp, src/control_messages.cpp,
// src/registry.cpp, src/large_blocks.cpp, src/storage_cache.cpp and src/environment.cpp are
// src/packed_chunk.cpp, src/exception_type.cpp compiled in.
//
// Input: any bytes. They are fed, whole, to
//   - wire::decode_header, then decode_calls and decode_results (whatever the header's kind),
//     read_hello, read_ready, read_loss_report and read_static_group (control_messages.hpp), decode_error_payload on each result payload and the argument decoding of each
//     call whose name is a task registered below;
//   - decode_error_payload on the raw bytes;
//   - read_packed_results (packed_chunk.hpp) on the raw bytes, for results of 0, 4 and 8 bytes;
//   - every registered task's invoker on the bytes after the first one (the first byte picks the task).
#include <spawnpool/errors.hpp>
#include <spawnpool/task.hpp>

#include <cereal/details/helpers.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/vector.hpp>

#include <spawnpool/detail/packed_chunk.hpp>

#include "src/control_messages.hpp"
#include "src/wire.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace fuzz_tasks {
struct Point {
  double x = 0, y = 0;
  std::string label;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, y, label);
  }
};
double scalar(int a, double b) { return a + b; }
std::size_t numbers(const std::vector<double>& v, std::vector<std::int32_t> w) {
  return v.size() + w.size();
}
std::size_t text(std::string s, const std::vector<std::string>& list) { return s.size() + list.size(); }
std::size_t nested(std::map<std::string, std::vector<Point>> m, std::optional<std::string> o,
                   std::tuple<int, std::vector<std::vector<std::uint8_t>>> t) {
  return m.size() + (o ? 1 : 0) + std::get<1>(t).size();
}
void nothing() {}
}  // namespace fuzz_tasks

SPAWNPOOL_TASK_AS(fuzz_tasks::scalar, "scalar");
SPAWNPOOL_TASK_AS(fuzz_tasks::numbers, "numbers");
SPAWNPOOL_TASK_AS(fuzz_tasks::text, "text");
SPAWNPOOL_TASK_AS(fuzz_tasks::nested, "nested");
SPAWNPOOL_TASK_AS(fuzz_tasks::nothing, "nothing");

namespace {

namespace sd = spawnpool::detail;
namespace wire = spawnpool::detail::wire;

// "scalar[packed]": the packed twin of scalar (packed_chunk.hpp), a chunk of calls as one array.
const char* const kTaskNames[] = {"scalar", "numbers", "text", "nested", "nothing",
                                  "scalar[packed]"};
constexpr std::size_t kTaskCount = sizeof kTaskNames / sizeof kTaskNames[0];

/// The largest message (inline and out-of-band bytes) a worker admits here: see the header check.
constexpr std::uint64_t kMessageLimit = std::uint64_t{64} << 20;

// Runs `step`; the documented rejections are fine, anything else aborts with a message.
template <class F>
void expect_decode_or_reject(const char* what, F&& step) {
  try {
    step();
  } catch (const spawnpool::Error&) {       // includes wire::ProtocolError
  } catch (const sd::BadArguments&) {
  } catch (const cereal::Exception&) {
  } catch (const std::bad_alloc&) {
  } catch (const std::length_error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_decoder: %s threw an undocumented exception: %s\n", what, e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "fuzz_decoder: %s threw a non-std exception\n", what);
    std::abort();
  }
}

// As a worker does: a call with out-of-band arguments is decoded first, noting where the blocks go
// (the fuzzer has no blocks to fill them with: they keep the zeros of their allocation), then run.
void invoke(const sd::TaskEntry* task, const wire::CallView& call) {
  if (task == nullptr) return;
  sd::EncodedResult result;
  if (call.args_oob > 0) {
    std::vector<sd::MutableSpan> targets;
    sd::OutOfBandTargets out_of_band(call.args_oob, targets);
    auto prepared = task->prepare(call.args, &out_of_band);
    std::uint64_t noted = 0;
    for (const sd::MutableSpan& t : targets) noted += t.size;
    if (noted + out_of_band.remaining() != call.args_oob) std::abort();
    result = prepared->run(64, true);
  } else {
    result = task->invoke(call.args, nullptr, 64, true);
  }
  if (result.buffer.size() < 64) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const sd::ByteSpan message{reinterpret_cast<const char*>(data), size};

  // The header first; then the body as each kind of body, whatever the header's kind says.
  std::optional<wire::Header> header;
  expect_decode_or_reject("decode_header", [&] { header = wire::decode_header(message); });
  // A worker decodes a call's arguments only after its transport admitted the message: from a
  // pool service's client, at most Service max_message_size bytes, out-of-band ones included
  // (Transport::limit_incoming); from its manager, what the manager sent. Decoding sizes the
  // out-of-band targets before their bytes arrive, so a header that claims gigabytes makes the
  // decoder allocate them (up to that limit): libFuzzer's malloc limit calls that a crash. Here the
  // limit is kMessageLimit, as for a service started with --max-message-size 64M.
  if (header && header->oob_size > kMessageLimit - std::min(kMessageLimit, header->body_size)) {
    header.reset();
  }
  if (header) {
    expect_decode_or_reject("decode_calls", [&] {
      for (const wire::CallView& call : wire::decode_calls(*header, message)) {
        if (call.args.data + call.args.size > message.data + message.size) std::abort();
        expect_decode_or_reject("call arguments",
                                [&] { invoke(sd::find_task(call.name), call); });
      }
    });
    expect_decode_or_reject("decode_results", [&] {
      for (const wire::ResultView& result : wire::decode_results(*header, message)) {
        if (result.payload.data + result.payload.size > message.data + message.size) std::abort();
        expect_decode_or_reject("result error payload",
                                [&] { (void)wire::decode_error_payload(result.payload); });
      }
    });
  }
  // The control messages decode from the whole message, header included.
  expect_decode_or_reject("read_hello", [&] { (void)sd::read_hello(message); });
  expect_decode_or_reject("read_ready", [&] { (void)sd::read_ready(message); });
  expect_decode_or_reject("read_loss_report", [&] { (void)sd::read_loss_report(message).describe(); });
  expect_decode_or_reject("read_static_group", [&] { (void)sd::read_static_group(message); });

  expect_decode_or_reject("error payload", [&] { (void)wire::decode_error_payload(message); });
  for (std::size_t value_size : {0, 4, 8}) {
    expect_decode_or_reject("packed results", [&] {
      std::vector<sd::PackedFailure> failures;
      const std::size_t count = size >= 8 ? data[0] : 0;
      const sd::ByteSpan values = sd::read_packed_results(message, count, value_size, failures);
      if (values.size != count * value_size || values.data + values.size > message.data + size) {
        std::abort();
      }
    });
  }

  if (size > 0) {
    const sd::TaskEntry* task = sd::find_task(kTaskNames[data[0] % kTaskCount]);
    expect_decode_or_reject("task arguments", [&] {
      wire::CallView call{};
      call.args = sd::ByteSpan{message.data + 1, message.size - 1};
      // The high bit of the first byte: decode with an out-of-band budget, as for an entry that
      // announced its large blocks.
      call.args_oob = (data[0] & 0x80) ? std::uint64_t{size} << 12 : 0;
      invoke(task, call);
    });
  }
  return 0;
}
