#include "control_messages.hpp"

#include <spawnpool/detail/serialize.hpp>

#include <csignal>
#include <cstring>

namespace spawnpool::detail {

template <class Body>
std::shared_ptr<Buffer> encode_control(const Body& body) {
  const std::size_t size = serialized_size(body);
  auto message = std::make_shared<Buffer>(wire::kHeaderSize + size);
  serialize_into(message->data() + wire::kHeaderSize, size, body);
  return message;
}
template std::shared_ptr<Buffer> encode_control(const Hello&);
template std::shared_ptr<Buffer> encode_control(const Ready&);
template std::shared_ptr<Buffer> encode_control(const LossReport&);
template std::shared_ptr<Buffer> encode_control(const StaticGroup&);

namespace {

template <class Body>
Body decode(ByteSpan message, wire::Kind kind, const char* what) {
  const wire::Header header = wire::decode_header(message);
  if (header.kind != static_cast<std::uint16_t>(kind)) {
    throw wire::ProtocolError(std::string("spawnpool: expected a ") + what + " message, got kind " +
                              std::to_string(header.kind));
  }
  if (message.size - wire::kHeaderSize != header.body_size) {
    throw wire::ProtocolError(std::string("spawnpool: the ") + what + " message's body is " +
                              std::to_string(message.size - wire::kHeaderSize) +
                              " bytes but its header says " + std::to_string(header.body_size));
  }
  Body body;
  try {
    deserialize_from(ByteSpan{message.data + wire::kHeaderSize, message.size - wire::kHeaderSize},
                     body);
  } catch (const std::exception& e) {
    throw wire::ProtocolError(std::string("spawnpool: corrupt ") + what + " message: " + e.what());
  }
  return body;
}

}  // namespace

Hello read_hello(ByteSpan message) { return decode<Hello>(message, wire::Kind::kHello, "hello"); }

Ready read_ready(ByteSpan message) { return decode<Ready>(message, wire::Kind::kReady, "ready"); }

LossReport read_loss_report(ByteSpan message) {
  return decode<LossReport>(message, wire::Kind::kLost, "loss report");
}

StaticGroup read_static_group(ByteSpan message) {
  StaticGroup group = decode<StaticGroup>(message, wire::Kind::kGroup, "group");
  if (group.ranks.size() < 2 || group.pids.size() != group.ranks.size() ||
      group.hosts.size() != group.ranks.size()) {
    throw wire::ProtocolError("spawnpool: a group message names " +
                              std::to_string(group.ranks.size()) + " ranks (at least 2), " +
                              std::to_string(group.pids.size()) + " pids and " +
                              std::to_string(group.hosts.size()) + " hosts");
  }
  return group;
}

std::string LossReport::describe(const std::string& subject) const {
  switch (cause) {
    case Cause::kSignal: {
      const char* name = sigabbrev_np(static_cast<int>(number));
      return "killed by signal " + std::to_string(number) +
             (name ? std::string(" (SIG") + name + ")" : "");
    }
    case Cause::kExit:
      return subject + " called exit(" + std::to_string(number) + ")";
    case Cause::kTimeout:
      return subject + " " + timeout_predicate();
    case Cause::kMpiAbort:
      return subject + " called MPI_Abort (error code " + std::to_string(number) + ")";
    case Cause::kMpiFinalize:
      return subject + " called MPI_Finalize";
    case Cause::kRankStuck:
      return "rank " + std::to_string(number) + " of its group's task failed and the other ranks " +
             "did not finish within " + std::to_string(kRankStuckLimit.count()) +
             " s (waiting for it in a collective?); the group was ended";
    case Cause::kRankSetUpStuck:
      return "rank " + std::to_string(number) + " of its group of processes did not finish the " +
             "worker set-up (initializer, environment, working directory) within the spawn " +
             "timeout (its process stopped or hung?); the group was ended";
    case Cause::kRankLost:
      return "rank " + std::to_string(number) +
             " of its group of processes ended (crashed, killed or exited)";
  }
  return "ended for an unknown reason (" + std::to_string(static_cast<int>(cause)) + ")";
}

std::string LossReport::timeout_predicate() const {
  if (cause != Cause::kTimeout) return "";
  return "ran longer than the task timeout (" + std::to_string(number) + " ms)";
}

}  // namespace spawnpool::detail
