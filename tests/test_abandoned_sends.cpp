// A send given up on keeps its memory alive until MPI is done with it (src/abandoned_sends.hpp).
// Two ranks under mpiexec. Rank 1 makes no MPI call for 2 s, so a large send from rank 0 (MPI's
// rendezvous protocol: rank 1 must answer) can neither complete nor be cancelled meanwhile
// (MPICH cancels a send only with the receiver's answer; Open MPI does not cancel sends). Before
// the fix, Transport::abandon_sends freed the buffer at MPI_Cancel, and MPICH sent freed memory
// once the peer's connection was made (a worker received garbage; ASan: heap-use-after-free).
#include "src/abandoned_sends.hpp"
#include "src/transport.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace {

using spawnpool::detail::Buffer;
using spawnpool::detail::Transport;
namespace wire = spawnpool::detail::wire;
using namespace std::chrono_literals;

constexpr int kMessageTag = 100;  // the send given up on
constexpr int kDoneTag = 300;     // rank 0 has seen the buffer released
constexpr std::size_t kBytes = std::size_t{4} << 20;

int own_rank() {
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

/// Rank 1: no MPI call for `pause`, then takes whatever reaches it (the message, if MPI did not
/// cancel it) until rank 0 says it is done.
void receive_until_done(std::chrono::milliseconds pause) {
  std::this_thread::sleep_for(pause);
  for (;;) {
    int found = 0;
    MPI_Status status;
    MPI_Iprobe(0, kMessageTag, MPI_COMM_WORLD, &found, &status);
    if (found) {
      int count = 0;
      MPI_Get_count(&status, MPI_BYTE, &count);
      std::vector<char> message(static_cast<std::size_t>(count));
      MPI_Recv(message.data(), count, MPI_BYTE, 0, kMessageTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      continue;
    }
    MPI_Iprobe(0, kDoneTag, MPI_COMM_WORLD, &found, MPI_STATUS_IGNORE);
    if (found) {
      int done = 0;
      MPI_Recv(&done, 1, MPI_INT, 0, kDoneTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      return;
    }
    std::this_thread::sleep_for(1ms);
  }
}

TEST(AbandonedSends, TheBufferOfAnAbandonedSendLivesUntilMpiHasCompletedIt) {
  MPI_Barrier(MPI_COMM_WORLD);  // both ranks are up and have talked once
  if (own_rank() != 0) {
    receive_until_done(2000ms);
    MPI_Barrier(MPI_COMM_WORLD);
    return;
  }
  std::weak_ptr<Buffer> watched;
  {
    Transport transport(MPI_COMM_WORLD);
    auto message = std::make_shared<Buffer>(wire::kHeaderSize + kBytes);
    watched = message;
    transport.send(1, kMessageTag, wire::Kind::kTasks, 0, std::move(message));
    transport.abandon_sends();
    EXPECT_FALSE(transport.sends_pending());
    EXPECT_FALSE(watched.expired()) << "the buffer was freed while MPI may still send from it";
  }
  EXPECT_FALSE(watched.expired()) << "the transport's end freed the buffer of a send MPI holds";
  EXPECT_GE(spawnpool::detail::sweep_abandoned_sends(), watched.expired() ? 0u : 1u);

  // Rank 1 wakes: MPI completes the send (cancelled or received), and the buffer is released.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!watched.expired() && std::chrono::steady_clock::now() < deadline) {
    spawnpool::detail::sweep_abandoned_sends();
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(watched.expired()) << "the buffer was still kept 30 s after rank 1 woke";
  EXPECT_EQ(spawnpool::detail::sweep_abandoned_sends(), 0u);
  const int done = 1;
  MPI_Send(&done, 1, MPI_INT, 1, kDoneTag, MPI_COMM_WORLD);
  MPI_Barrier(MPI_COMM_WORLD);
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  ::testing::InitGoogleTest(&argc, argv);
  const int failed = RUN_ALL_TESTS();
  MPI_Finalize();
  return failed;
}
