// Durations in messages (include/spawnpool/detail/seconds_text.hpp): a limit set in milliseconds
// is named as set. Before, a spawn timeout of 1 ms was reported as "within 0 s", and 2.5 s as 2 s.
#include <spawnpool/detail/seconds_text.hpp>

#include <gtest/gtest.h>

#include <chrono>

using spawnpool::detail::seconds_text;
using std::chrono::milliseconds;

TEST(SecondsText, WholeSecondsHaveNoFraction) {
  EXPECT_EQ(seconds_text(milliseconds(0)), "0 s");
  EXPECT_EQ(seconds_text(milliseconds(3000)), "3 s");
  EXPECT_EQ(seconds_text(std::chrono::seconds(60)), "60 s");
}

TEST(SecondsText, FractionsKeepTheirDigitsWithoutTrailingZeros) {
  EXPECT_EQ(seconds_text(milliseconds(1)), "0.001 s");
  EXPECT_EQ(seconds_text(milliseconds(2500)), "2.5 s");
  EXPECT_EQ(seconds_text(milliseconds(30050)), "30.05 s");
  EXPECT_EQ(seconds_text(milliseconds(999)), "0.999 s");
}

TEST(SecondsText, NegativeDurationsKeepTheirSign) {
  EXPECT_EQ(seconds_text(milliseconds(-1500)), "-1.5 s");
}
