// The engine's queue of encoded calls without MPI: taking only the first calls of a chunk (the
// tail of a map is handed out in smaller messages, scheduling_policy.hpp).
#include "src/call_queue.hpp"
#include "src/wire.hpp"

#include <spawnpool/detail/wire_format.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace wire = spawnpool::detail::wire;
using spawnpool::detail::Buffer;
using spawnpool::detail::ByteSpan;
using spawnpool::detail::CallQueue;
using spawnpool::detail::PendingCall;
using spawnpool::detail::TaskState;
using spawnpool::detail::WorkItem;

namespace {

/// A chunk of calls `first_id`, `first_id + 1`, ... of task "t", call i's args being i's digits
/// (so that entries differ in size).
WorkItem chunk(std::uint64_t first_id, std::size_t calls) {
  std::vector<std::string> args;
  std::size_t bytes = wire::kHeaderSize;
  for (std::size_t i = 0; i < calls; ++i) {
    args.push_back(std::to_string(first_id + i * 100));
    bytes += wire::call_entry_overhead(1) + args.back().size();
  }
  WorkItem item;
  item.message = Buffer(bytes);
  char* out = item.message.data() + wire::kHeaderSize;
  for (std::size_t i = 0; i < calls; ++i) {
    out = wire::put_call_prefix(out, first_id + i, 7, "t", args[i].size());
    out = wire::put_bytes(out, args[i].data(), args[i].size());
    item.calls.push_back(PendingCall{first_id + i, std::make_shared<TaskState>("t")});
  }
  return item;
}

/// The ids and args of an item's entries, read back as a worker would.
std::vector<std::string> entries(const WorkItem& item) {
  wire::Reader in(ByteSpan{item.message.data() + wire::kHeaderSize,
                           item.message.size() - wire::kHeaderSize});
  std::vector<std::string> out;
  while (!in.at_end()) {
    const wire::CallView call = wire::read_call(in);
    out.push_back(std::to_string(call.id) + ":" + std::string(call.args.data, call.args.size));
  }
  return out;
}

std::vector<std::uint64_t> ids(const WorkItem& item) {
  std::vector<std::uint64_t> out;
  for (const auto& call : item.calls) out.push_back(call.id);
  return out;
}

}  // namespace

TEST(CallQueue, TakesTheFirstCallsOfAChunkAndKeepsTheRestInFront) {
  CallQueue queue;
  std::deque<WorkItem> submitted;
  submitted.push_back(chunk(1, 5));
  submitted.push_back(chunk(10, 2));
  queue.append(submitted);
  ASSERT_EQ(queue.calls(), 7u);

  const WorkItem head = queue.pop_front(2);
  EXPECT_EQ(ids(head), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(entries(head), (std::vector<std::string>{"1:1", "2:101"}));
  EXPECT_EQ(queue.calls(), 5u);

  const WorkItem rest = queue.pop_front(10);
  EXPECT_EQ(ids(rest), (std::vector<std::uint64_t>{3, 4, 5}));
  EXPECT_EQ(entries(rest), (std::vector<std::string>{"3:201", "4:301", "5:401"}));
  EXPECT_EQ(queue.calls(), 2u);
  EXPECT_EQ(ids(queue.pop_front(1)), (std::vector<std::uint64_t>{10}));
  EXPECT_EQ(ids(queue.pop_front(1)), (std::vector<std::uint64_t>{11}));
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.calls(), 0u);
}

TEST(CallQueue, ItemsWithOutOfBandBlocksOrSentBeforeAreTakenWhole) {
  CallQueue queue;
  std::deque<WorkItem> submitted;
  submitted.push_back(chunk(1, 3));
  submitted.back().requeued = true;
  submitted.push_back(chunk(10, 3));
  std::vector<char> block(16);
  submitted.back().out_of_band.blocks.push_back(ByteSpan{block.data(), block.size()});
  queue.append(submitted);
  EXPECT_EQ(queue.pop_front(1).calls.size(), 3u);
  EXPECT_EQ(queue.pop_front(1).calls.size(), 3u);
  EXPECT_TRUE(queue.empty());
}
