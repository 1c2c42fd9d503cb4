// Writes valid spawnpool messages into a directory: the fuzzer's seed corpus (tests/fuzz/corpus/).
//   build-fuzz/make_corpus tests/fuzz/corpus
// Message layouts: include/spawnpool/detail/wire_format.hpp. Task names and parameter types match
// the tasks registered in fuzz_decoder.cpp.
#include "src/control_messages.hpp"

#include <spawnpool/detail/serialize.hpp>
#include <spawnpool/detail/wire_format.hpp>

#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/vector.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace sd = spawnpool::detail;
namespace wire = spawnpool::detail::wire;

namespace {
struct Point {
  double x = 0, y = 0;
  std::string label;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, y, label);
  }
};

std::string directory;

void write(const std::string& name, const std::string& bytes) {
  std::ofstream(directory + "/" + name, std::ios::binary).write(bytes.data(), bytes.size());
}

std::string header(wire::Kind kind, std::uint32_t count, std::size_t body_size) {
  wire::Header h;
  h.kind = static_cast<std::uint16_t>(kind);
  h.count = count;
  h.body_size = body_size;
  return std::string(reinterpret_cast<const char*>(&h), sizeof h);
}

template <class... T>
std::string args(const T&... values) {
  std::string out(sd::serialized_size(values...), '\0');
  sd::serialize_into(out.data(), out.size(), values...);
  return out;
}

std::string call(std::uint64_t id, const std::string& name, const std::string& arguments) {
  std::string out(wire::call_entry_overhead(name.size()) + arguments.size(), '\0');
  char* at = wire::put_call_prefix(out.data(), id, 0x1234, name, arguments.size());
  wire::put_bytes(at, arguments.data(), arguments.size());
  return out;
}

std::string result(std::uint64_t id, wire::ResultStatus status, const std::string& payload) {
  std::string out(wire::kResultEntryOverhead + payload.size(), '\0');
  char* at = wire::put_result_prefix(out.data(), id, status, payload.size(), 0, 10, 20);
  wire::put_bytes(at, payload.data(), payload.size());
  return out;
}

/// A control message: its header, then the body encode_control wrote after the header space.
std::string control(wire::Kind kind, const std::shared_ptr<sd::Buffer>& encoded) {
  const std::size_t body = encoded->size() - wire::kHeaderSize;
  return header(kind, 0, body) + std::string(encoded->data() + wire::kHeaderSize, body);
}

std::string error_payload(const std::string& type, const std::string& message) {
  std::string out(8 + type.size() + message.size(), '\0');
  char* at = wire::put(out.data(), static_cast<std::uint32_t>(type.size()));
  at = wire::put_bytes(at, type.data(), type.size());
  at = wire::put(at, static_cast<std::uint32_t>(message.size()));
  wire::put_bytes(at, message.data(), message.size());
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus DIR\n");
    return 2;
  }
  directory = argv[1];

  const std::string scalar = args(7, 2.5);
  const std::string numbers = args(std::vector<double>{1, 2, 3}, std::vector<std::int32_t>{4, 5});
  const std::string text = args(std::string("hello"), std::vector<std::string>{"a", "bc"});
  const std::string nested =
      args(std::map<std::string, std::vector<Point>>{{"p", {Point{1, 2, "q"}}}},
           std::optional<std::string>("o"),
           std::tuple<int, std::vector<std::vector<std::uint8_t>>>{3, {{1, 2}, {}}});

  std::string body = call(1, "scalar", scalar) + call(2, "numbers", numbers) +
                     call(3, "text", text) + call(4, "nested", nested) + call(5, "nothing", "");
  write("tasks", header(wire::Kind::kTasks, 5, body.size()) + body);

  // A call whose string argument claims 3 GiB of out-of-band bytes, as its entry and header do:
  // more than a worker admits (fuzz_decoder's kMessageLimit), so never decoded.
  {
    const std::uint64_t claimed = std::uint64_t{3} << 30;
    const std::string claim = args(claimed);  // a string's size, its bytes to come out of band
    std::string entry(wire::call_entry_overhead(4) + claim.size(), '\0');
    char* at = wire::put_call_prefix(entry.data(), 1, 0x1234, "text", claim.size(), claimed);
    wire::put_bytes(at, claim.data(), claim.size());
    wire::Header h;
    h.kind = static_cast<std::uint16_t>(wire::Kind::kTasks);
    h.count = 1;
    h.body_size = entry.size();
    h.oob_size = claimed;
    h.oob_part_size = 1 << 20;
    write("tasks_claiming_3gib_out_of_band",
          std::string(reinterpret_cast<const char*>(&h), sizeof h) + entry);
  }

  body = result(1, wire::ResultStatus::kOk, args(9.5)) +
         result(2, wire::ResultStatus::kException, error_payload("std::runtime_error", "boom")) +
         result(3, wire::ResultStatus::kUnknownTask, error_payload("spawnpool", "no task"));
  write("results", header(wire::Kind::kResults, 3, body.size()) + body);

  sd::Hello hello;
  hello.manager_pid = 1234;
  hello.manager_host = "node17";
  hello.working_directory = "/tmp";
  hello.environment = {{"OMP_NUM_THREADS", "2"}};
  hello.worker_id = 3;
  write("hello", control(wire::Kind::kHello, sd::encode_control(hello)));
  sd::Ready ready;
  ready.pid = 4321;
  ready.host = "node18";
  ready.program = "/bin/worker";
  write("ready", control(wire::Kind::kReady, sd::encode_control(ready)));
  sd::LossReport lost;
  lost.number = 11;
  lost.call_id = 7;
  lost.task_name = "scalar";
  write("lost", control(wire::Kind::kLost, sd::encode_control(lost)));
  write("bye", header(wire::Kind::kBye, 0, 0));
  sd::StaticGroup group;
  group.tag = 17;
  group.ranks = {3, 1, 4};
  group.pids = {1001, 1002, 1003};
  group.hosts = {"node1", "node1", "node2"};
  write("group", control(wire::Kind::kGroup, sd::encode_control(group)));

  // Bare argument blobs, first byte picks the task (index into fuzz_decoder.cpp's kTaskNames).
  write("args_scalar", std::string(1, '\0') + scalar);
  write("args_numbers", std::string(1, '\1') + numbers);
  write("args_text", std::string(1, '\2') + text);
  write("args_nested", std::string(1, '\3') + nested);
  write("error_payload", error_payload("std::invalid_argument", "bad input"));

  // A packed chunk of scalar(int, double) (index 5, "scalar[packed]"): two records of 12 bytes.
  std::string packed(8 + 2 * 12, '\0');
  const std::uint64_t two = 2;
  std::memcpy(packed.data(), &two, 8);
  const std::int32_t a = 3;
  const double b = 0.5;
  std::memcpy(packed.data() + 8, &a, 4);
  std::memcpy(packed.data() + 12, &b, 8);
  write("args_scalar_packed", std::string(1, '\5') + packed);
  // A packed chunk's result: 2 results of 8 bytes, call 1 failed (read_packed_results).
  std::string results(16 + 16, '\0');
  const std::uint64_t one = 1;
  std::memcpy(results.data(), &two, 8);
  std::memcpy(results.data() + 8, &one, 8);
  results += std::string(reinterpret_cast<const char*>(&one), 8) +
             error_payload("std::invalid_argument", "bad input");
  write("packed_results", results);
  return 0;
}
