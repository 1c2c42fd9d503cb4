// The version header agrees with CMake's project() version and with the library's version().
#include <spawnpool/spawnpool.hpp>  // the umbrella must bring version.hpp

#include <gtest/gtest.h>

#include <string>

#ifndef SPAWNPOOL_PROJECT_VERSION
#error "compile with -DSPAWNPOOL_PROJECT_VERSION=\"${PROJECT_VERSION}\""
#endif

TEST(Version, MacrosMatchTheCMakeProject) {
  const std::string from_parts = std::to_string(SPAWNPOOL_VERSION_MAJOR) + "." +
                                 std::to_string(SPAWNPOOL_VERSION_MINOR) + "." +
                                 std::to_string(SPAWNPOOL_VERSION_PATCH);
  EXPECT_EQ(from_parts, SPAWNPOOL_VERSION_STRING);
  EXPECT_EQ(std::string(SPAWNPOOL_VERSION_STRING), SPAWNPOOL_PROJECT_VERSION);
}

TEST(Version, LibraryReportsTheHeadersVersion) {
  ASSERT_NE(spawnpool::version(), nullptr);
  EXPECT_STREQ(spawnpool::version(), SPAWNPOOL_VERSION_STRING);
}
