// The control messages (hello, ready, loss report) without MPI: what one side writes the other
// reads back field by field; a message of another kind, a truncated or corrupt body is a
// ProtocolError, never garbage.
#include "src/control_messages.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

namespace sd = spawnpool::detail;
namespace wire = spawnpool::detail::wire;

namespace {

/// Stands in for Transport: keeps what would be sent, with its header written as Transport does.
struct RecordingTransport {
  std::shared_ptr<sd::Buffer> sent;
  int rank = -1, tag = -1;
  void send(int to, int on_tag, wire::Kind kind, std::uint32_t count,
            std::shared_ptr<sd::Buffer> message) {
    wire::Header header;
    header.kind = static_cast<std::uint16_t>(kind);
    header.count = count;
    header.body_size = message->size() - wire::kHeaderSize;
    std::memcpy(message->data(), &header, sizeof header);
    sent = std::move(message);
    rank = to;
    tag = on_tag;
  }
  sd::ByteSpan bytes() const { return sd::ByteSpan{sent->data(), sent->size()}; }
};

TEST(ControlMessages, HelloRoundTrip) {
  sd::Hello hello;
  hello.poll_spin_us = 200;
  hello.poll_max_sleep_us = 10000;
  hello.manager_pid = 4242;
  hello.manager_host = "node17";
  hello.task_timeout_ms = 1500;
  hello.heartbeat_timeout_ms = 30000;
  hello.working_directory = "/scratch/run 1";
  hello.initializer = std::string("\0\1entry", 7);
  hello.environment = {{"OMP_NUM_THREADS", "2"}, {"EMPTY", ""}, {"EQ", "a=b"}};
  hello.worker_id = 7;
  RecordingTransport transport;
  sd::send_hello(transport, 3, 21330, hello);
  EXPECT_EQ(transport.rank, 3);
  EXPECT_EQ(transport.tag, 21330);
  const sd::Hello read = sd::read_hello(transport.bytes());
  EXPECT_EQ(read.poll_spin_us, 200);
  EXPECT_EQ(read.poll_max_sleep_us, 10000);
  EXPECT_EQ(read.manager_pid, 4242);
  EXPECT_EQ(read.manager_host, "node17");
  EXPECT_EQ(read.task_timeout_ms, 1500);
  EXPECT_EQ(read.heartbeat_timeout_ms, 30000);
  EXPECT_EQ(read.working_directory, "/scratch/run 1");
  EXPECT_EQ(read.initializer, hello.initializer);
  EXPECT_EQ(read.environment, hello.environment);
  EXPECT_EQ(read.worker_id, 7);
}

TEST(ControlMessages, ReadyRoundTrip) {
  sd::Ready ready;
  ready.pid = 99;
  ready.host = "node18";
  ready.program = "/opt/app/worker";
  ready.setup_error = "cannot change to the working directory '/nope'";
  RecordingTransport transport;
  sd::send_ready(transport, 0, 21328, ready);
  const sd::Ready read = sd::read_ready(transport.bytes());
  EXPECT_EQ(read.pid, 99);
  EXPECT_EQ(read.host, "node18");
  EXPECT_EQ(read.program, "/opt/app/worker");
  EXPECT_EQ(read.setup_error, ready.setup_error);
}

TEST(ControlMessages, LossReportRoundTripAndDescription) {
  sd::LossReport report;
  report.cause = sd::LossReport::Cause::kSignal;
  report.number = 11;
  report.call_id = 77;
  report.task_name = "crash";
  RecordingTransport transport;
  sd::send_loss_report(transport, 0, report);
  EXPECT_EQ(transport.tag, wire::kControlTag);
  const sd::LossReport read = sd::read_loss_report(transport.bytes());
  EXPECT_EQ(read.cause, sd::LossReport::Cause::kSignal);
  EXPECT_EQ(read.call_id, 77u);
  EXPECT_EQ(read.task_name, "crash");
  EXPECT_EQ(read.describe(), "killed by signal 11 (SIGSEGV)");
  sd::LossReport exited;
  exited.cause = sd::LossReport::Cause::kExit;
  exited.number = 3;
  EXPECT_EQ(exited.describe(), "the task called exit(3)");
  sd::LossReport timed_out;
  timed_out.cause = sd::LossReport::Cause::kTimeout;
  timed_out.number = 500;
  EXPECT_EQ(timed_out.describe(), "the task ran longer than the task timeout (500 ms)");
}

TEST(ControlMessages, StaticGroupRoundTripAndChecks) {
  sd::StaticGroup group;
  group.tag = 42;
  group.ranks = {2, 5};
  group.pids = {100, 200};
  group.hosts = {"a", "b"};
  RecordingTransport transport;
  sd::send_static_group(transport, 2, 7, group);
  EXPECT_EQ(transport.tag, 7);
  const sd::StaticGroup read = sd::read_static_group(transport.bytes());
  EXPECT_EQ(read.tag, 42);
  EXPECT_EQ(read.ranks, group.ranks);
  EXPECT_EQ(read.pids, group.pids);
  EXPECT_EQ(read.hosts, group.hosts);
  // A group of one, or pids and hosts that do not match the ranks, is not a group.
  group.ranks = {2};
  sd::send_static_group(transport, 2, 7, group);
  EXPECT_THROW(sd::read_static_group(transport.bytes()), wire::ProtocolError);
  group.ranks = {2, 5, 6};
  sd::send_static_group(transport, 2, 7, group);
  EXPECT_THROW(sd::read_static_group(transport.bytes()), wire::ProtocolError);
}

TEST(ControlMessages, AMessageOfAnotherKindIsRefused) {
  sd::Ready ready;
  RecordingTransport transport;
  sd::send_ready(transport, 0, 0, ready);
  EXPECT_THROW(sd::read_hello(transport.bytes()), wire::ProtocolError);
  EXPECT_THROW(sd::read_loss_report(transport.bytes()), wire::ProtocolError);
  sd::send_signal(transport, 0, 0, wire::Kind::kReady);  // a bare header: no body at all
  EXPECT_THROW(sd::read_ready(transport.bytes()), wire::ProtocolError);
}

TEST(ControlMessages, TruncatedAndCorruptBodiesAreProtocolErrors) {
  sd::Hello hello;
  hello.manager_host = std::string(100, 'h');
  hello.environment = {{"A", "B"}};
  RecordingTransport transport;
  sd::send_hello(transport, 0, 0, hello);
  const sd::ByteSpan whole = transport.bytes();
  // Every truncation, header fixed up or not: rejected, never read past the end.
  for (std::size_t size = 0; size < whole.size; ++size) {
    EXPECT_THROW(sd::read_hello(sd::ByteSpan{whole.data, size}), wire::ProtocolError) << size;
  }
  sd::Buffer fixed(whole.size - 10);
  std::memcpy(fixed.data(), whole.data, fixed.size());
  wire::Header header;
  std::memcpy(&header, fixed.data(), sizeof header);
  header.body_size = fixed.size() - wire::kHeaderSize;
  std::memcpy(fixed.data(), &header, sizeof header);
  EXPECT_THROW(sd::read_hello(sd::ByteSpan{fixed.data(), fixed.size()}), wire::ProtocolError);
  // A string length far beyond the message: refused before any allocation of that size.
  sd::Buffer corrupt(whole.size);
  std::memcpy(corrupt.data(), whole.data, whole.size);
  std::memset(corrupt.data() + wire::kHeaderSize + 4 + 8 * 3, 0xff, 8);
  EXPECT_THROW(sd::read_hello(sd::ByteSpan{corrupt.data(), corrupt.size()}), wire::ProtocolError);
}

}  // namespace
