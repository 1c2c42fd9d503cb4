// Message buffers: small ones from new[], large ones recycled through the block cache.
#include <spawnpool/detail/bytes.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <utility>

using spawnpool::detail::Buffer;

TEST(Buffer, SmallAndEmptyBuffers) {
  Buffer empty;
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.data(), nullptr);
  Buffer small(100);
  ASSERT_NE(small.data(), nullptr);
  std::memset(small.data(), 7, small.size());
  EXPECT_EQ(small.data()[99], 7);
}

TEST(Buffer, LargeBlockIsReusedOnceReleased) {
  const std::size_t size = std::size_t{8} << 20;
  const char* first_address = nullptr;
  {
    Buffer first(size);
    ASSERT_NE(first.data(), nullptr);
    std::memset(first.data(), 1, size);  // all of it is writable
    first_address = first.data();
  }
  Buffer again(size - 1000);  // a similar size takes the cached block...
  EXPECT_EQ(again.data(), first_address);
  Buffer other(size);  // ...which is in use now, so this one is a different block
  EXPECT_NE(other.data(), first_address);
  std::memset(other.data(), 2, size);
}

TEST(Buffer, SmallRequestDoesNotPinAHugeCachedBlock) {
  const char* big_address = nullptr;
  {
    Buffer big(std::size_t{64} << 20);
    big_address = big.data();
  }
  Buffer small(std::size_t{2} << 20);
  EXPECT_NE(small.data(), big_address);
}

TEST(Buffer, MoveTransfersOwnership) {
  Buffer a(std::size_t{3} << 20);
  char* data = a.data();
  Buffer b(std::move(a));
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(b.size(), std::size_t{3} << 20);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(a.size(), 0u);
  Buffer c(10);
  c = std::move(b);
  EXPECT_EQ(c.data(), data);
}
