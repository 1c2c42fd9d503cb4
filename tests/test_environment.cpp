// spawnpool's environment variables without MPI processes: one rule for the integer variables
// (an invalid value is a ConfigError naming the variable, the value and what is accepted, raised
// only when the value is needed), and SPAWNPOOL_LOG (any case; an unknown value keeps the default
// level and says so in one line).
#include "scoped_env.hpp"

#include "src/environment.hpp"
#include "src/log.hpp"

#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace {

int twice(int x) { return 2 * x; }
SPAWNPOOL_TASK(twice);

using spawnpool::detail::env_integer;
using spawnpool::detail::env_integer_or_default;
namespace env = spawnpool::detail::env;

std::string config_error_of(const spawnpool::detail::IntegerVariable& v) {
  try {
    env_integer(v);
  } catch (const spawnpool::ConfigError& e) {
    return e.what();
  }
  return "<no ConfigError>";
}

TEST(IntegerVariables, ValidValuesUnsetAndEmpty) {
  unsetenv("SPAWNPOOL_MAX_WORKERS");
  EXPECT_EQ(env_integer(env::kMaxWorkers), std::nullopt);
  ScopedEnv empty("SPAWNPOOL_MAX_WORKERS", "");
  EXPECT_EQ(env_integer(env::kMaxWorkers), std::nullopt);
  ScopedEnv four("SPAWNPOOL_MAX_WORKERS", " 4 ");
  EXPECT_EQ(env_integer(env::kMaxWorkers), 4);
  ScopedEnv zero("SPAWNPOOL_POLL_SPIN_US", "0");  // 0 is in this one's range
  EXPECT_EQ(env_integer(env::kPollSpin), 0);
}

TEST(IntegerVariables, InvalidValuesAreConfigErrorsSayingWhatIsAccepted) {
  for (const char* bad : {"abc", "0", "-1", "2.5", "4 workers", "99999999999999999999999"}) {
    ScopedEnv value("SPAWNPOOL_MAX_WORKERS", bad);
    EXPECT_EQ(config_error_of(env::kMaxWorkers),
              std::string("spawnpool: SPAWNPOOL_MAX_WORKERS='") + bad +
                  "' is invalid: expected an integer number of workers from 1 to 2147483647; "
                  "unset it for the default");
    // Readers that cannot throw take the default.
    EXPECT_EQ(env_integer_or_default(env::kMaxWorkers), std::nullopt);
  }
  ScopedEnv cache("SPAWNPOOL_BUFFER_CACHE_MB", "-1");
  EXPECT_EQ(config_error_of(env::kBufferCacheMb),
            "spawnpool: SPAWNPOOL_BUFFER_CACHE_MB='-1' is invalid: expected an integer number of "
            "MiB from 0 to 2147483647; unset it for the default");
}

TEST(IntegerVariables, ThreadExecutorReadsMaxWorkersOnlyWhenItsOptionsDoNotSetIt) {
  for (const char* bad : {"abc", "0", "-1"}) {
    ScopedEnv value("SPAWNPOOL_MAX_WORKERS", bad);
    spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
    EXPECT_EQ(pool.num_workers(), 2);
    EXPECT_EQ(pool.submit(twice, 21).get(), 42);
    try {
      spawnpool::ThreadExecutor from_env;
      ADD_FAILURE() << "SPAWNPOOL_MAX_WORKERS=" << bad << " was accepted";
    } catch (const spawnpool::ConfigError& e) {
      EXPECT_EQ(std::string(e.what()),
                std::string("spawnpool: SPAWNPOOL_MAX_WORKERS='") + bad +
                    "' is invalid: expected an integer number of workers from 1 to 2147483647; "
                    "unset it for the default");
    }
  }
  ScopedEnv three("SPAWNPOOL_MAX_WORKERS", "3");
  spawnpool::ThreadExecutor from_env;
  EXPECT_EQ(from_env.num_workers(), 3);
}

TEST(LogLevel, NamesInAnyCase) {
  using spawnpool::detail::log_level_from;
  namespace level = spdlog::level;
  EXPECT_EQ(log_level_from("DEBUG"), level::debug);
  EXPECT_EQ(log_level_from("Trace"), level::trace);
  EXPECT_EQ(log_level_from(" info "), level::info);
  EXPECT_EQ(log_level_from("WARN"), level::warn);
  EXPECT_EQ(log_level_from("warning"), level::warn);
  EXPECT_EQ(log_level_from("Error"), level::err);
  EXPECT_EQ(log_level_from("critical"), level::critical);
  EXPECT_EQ(log_level_from("OFF"), level::off);
  EXPECT_EQ(log_level_from("verbose"), std::nullopt);
  EXPECT_EQ(log_level_from("4"), std::nullopt);
  EXPECT_EQ(spawnpool::detail::unknown_log_level_message("verbose"),
            "SPAWNPOOL_LOG='verbose' is not a log level (accepted, in any case: trace, debug, "
            "info, warn, error, critical, off); using warn");
}

// The logger is made once per process: each case runs in a fresh copy of this program.
TEST(LogLevelDeathTest, UpperCaseDebugLogsDebugLines) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(
      {
        setenv("SPAWNPOOL_LOG", "DEBUG", 1);
        spawnpool::detail::warn_about_log_setting();
        spawnpool::detail::log().debug("a debug line");
        std::exit(0);
      },
      testing::ExitedWithCode(0), "^\\[spawnpool debug\\] a debug line\n$");
}

TEST(LogLevelDeathTest, UnknownValueWarnsOnceAndKeepsWarnings) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(
      {
        setenv("SPAWNPOOL_LOG", "verbose", 1);
        spawnpool::detail::warn_about_log_setting();
        spawnpool::detail::warn_about_log_setting();  // still one line
        spawnpool::detail::log().info("not shown");
        spawnpool::detail::log().warn("a warning");
        std::exit(0);
      },
      testing::ExitedWithCode(0),
      "^\\[spawnpool warning\\] SPAWNPOOL_LOG='verbose' is not a log level \\(accepted, in any "
      "case: trace, debug, info, warn, error, critical, off\\); using warn\n"
      "\\[spawnpool warning\\] a warning\n$");
}

TEST(LogLevelDeathTest, ThreadExecutorWarnsAboutAnUnknownValue) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(
      {
        setenv("SPAWNPOOL_LOG", "Debugging", 1);
        spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(1));
        std::exit(pool.submit(twice, 2).get() == 4 ? 0 : 1);
      },
      testing::ExitedWithCode(0), "SPAWNPOOL_LOG='Debugging' is not a log level");
}

}  // namespace
