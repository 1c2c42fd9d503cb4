// Worker set-up from Options: initializer, environment, working directory, per-task thread count.
#include "scoped_env.hpp"

#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

namespace {
std::string loaded_data;  // set by the initializer, in each worker
}

void load_data(const std::string& what, int copies) {
  loaded_data.clear();
  for (int i = 0; i < copies; ++i) loaded_data += what;
}
SPAWNPOOL_TASK(load_data);

void failing_initializer(int) { throw std::runtime_error("no such data set"); }
SPAWNPOOL_TASK(failing_initializer);

void quitting_initializer(int status) { std::exit(status); }
SPAWNPOOL_TASK(quitting_initializer);

std::string read_data() { return loaded_data; }
SPAWNPOOL_TASK(read_data);

std::string read_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value ? value : "<unset>";
}
SPAWNPOOL_TASK(read_env);

std::string current_directory() {
  char path[4096];
  return getcwd(path, sizeof path) ? path : "";
}
SPAWNPOOL_TASK(current_directory);

namespace {

TEST(WorkerSetup, InitializerRunsOnEveryWorkerBeforeTheFirstTask) {
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(2).initializer(load_data, "ab", 3));
  std::vector<spawnpool::Future<std::string>> futures;
  for (int i = 0; i < 20; ++i) futures.push_back(pool.submit(read_data));
  for (auto& f : futures) EXPECT_EQ(f.get(), "ababab");
}

TEST(WorkerSetup, FailingInitializerBreaksTheExecutor) {
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(1).initializer(failing_initializer, 1));
  try {
    (void)pool.submit(read_data).get();
    FAIL() << "expected BrokenExecutor";
  } catch (const spawnpool::BrokenExecutor& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("failing_initializer"), std::string::npos) << what;
    EXPECT_NE(what.find("no such data set"), std::string::npos) << what;
  }
}

// An initializer that ends its worker names itself: the message said "the task called exit(0)",
// and there was no task.
TEST(WorkerSetup, AnInitializerThatCallsExitFailsTheStartNamingIt) {
  try {
    spawnpool::Executor pool(
        spawnpool::Options{}.max_workers(1).initializer(quitting_initializer, 0));
    FAIL() << "expected SpawnError";
  } catch (const spawnpool::SpawnError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("the initializer \"quitting_initializer\" called exit(0)"),
              std::string::npos) << what;
    EXPECT_EQ(what.find("the task"), std::string::npos) << what;
  }
}

TEST(WorkerSetup, EnvironmentAndWorkingDirectory) {
  char dir[] = "/tmp/spawnpool_wd_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  spawnpool::Executor pool(spawnpool::Options{}
                               .max_workers(2)
                               .env("SPAWNPOOL_TEST_COLOUR", "teal")
                               .working_directory(dir));
  EXPECT_EQ(pool.submit(read_env, "SPAWNPOOL_TEST_COLOUR").get(), "teal");
  EXPECT_EQ(pool.submit(current_directory).get(), dir);
  pool.shutdown();
  rmdir(dir);
}

TEST(WorkerSetup, MissingWorkingDirectoryBreaksTheExecutor) {
  spawnpool::Executor pool(
      spawnpool::Options{}.max_workers(1).working_directory("/nonexistent/spawnpool"));
  try {
    (void)pool.submit(read_data).get();
    FAIL() << "expected BrokenExecutor";
  } catch (const spawnpool::BrokenExecutor& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/spawnpool"), std::string::npos) << e.what();
  }
}

// A name setenv cannot take ('=' in it, or empty) is the user's mistake: the executor says which,
// instead of setting some other variable or none.
TEST(WorkerSetup, AnEnvironmentNameWithEqualsSignBreaksTheExecutor) {
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(1).env("SPAWNPOOL_A=B", "C"));
  try {
    (void)pool.submit(read_env, "SPAWNPOOL_A").get();
    FAIL() << "expected BrokenExecutor";
  } catch (const spawnpool::BrokenExecutor& e) {
    EXPECT_NE(std::string(e.what()).find("'SPAWNPOOL_A=B'"), std::string::npos) << e.what();
  }
}

std::string worker_host() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}
SPAWNPOOL_TASK(worker_host);

TEST(WorkerSetup, WorkersGoToTheNamedHosts) {
  char here[256] = {};
  gethostname(here, sizeof here - 1);
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(2).hosts({here, "localhost"}));
  ASSERT_EQ(pool.num_workers(), 2);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(pool.submit(worker_host).get(), here);
}

TEST(WorkerSetup, PerTaskThreadCountSetsTheUsualVariablesForThatTaskOnly) {
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(1));
  const std::string before = pool.submit(read_env, "OMP_NUM_THREADS").get();
  EXPECT_EQ(pool.submit(spawnpool::TaskOptions{}.threads(3), read_env, "OMP_NUM_THREADS").get(), "3");
  EXPECT_EQ(pool.submit(spawnpool::TaskOptions{}.threads(3), read_env, "OPENBLAS_NUM_THREADS").get(),
            "3");
  EXPECT_EQ(pool.submit(read_env, "OMP_NUM_THREADS").get(), before);
}

}  // namespace

namespace {

std::string config_error(const spawnpool::Options& options) {
  try {
    spawnpool::Executor pool(options);
  } catch (const spawnpool::ConfigError& e) {
    return e.what();
  }
  return "<no ConfigError>";
}

}  // namespace

TEST(Environment, InvalidMaxWorkersIsAConfigErrorOnlyWhenTheCountComesFromIt) {
  const std::string accepted =
      "' is invalid: expected an integer number of workers from 1 to 2147483647; unset it for the "
      "default";
  for (const char* bad : {"abc", "0", "-1", "4x"}) {
    ScopedEnv env("SPAWNPOOL_MAX_WORKERS", bad);
    // The program's own count wins: the variable is not read at all.
    spawnpool::Executor pool(spawnpool::Options{}.max_workers(1));
    EXPECT_EQ(pool.num_workers(), 1);
    EXPECT_EQ(pool.submit(read_env, "HOME").get().empty(), false);
    pool.shutdown();
    EXPECT_EQ(config_error(spawnpool::Options{}),
              std::string("spawnpool: SPAWNPOOL_MAX_WORKERS='") + bad + accepted);
  }
}

TEST(Environment, InvalidTimeoutsAndPollingAreConfigErrorsUnlessTheOptionsSetThem) {
  {
    ScopedEnv env("SPAWNPOOL_HEARTBEAT_TIMEOUT", "30s");
    EXPECT_EQ(config_error(spawnpool::Options{}.max_workers(1)),
              "spawnpool: SPAWNPOOL_HEARTBEAT_TIMEOUT='30s' is invalid: expected an integer number "
              "of seconds from 1 to 2147483647; unset it for the default");
    spawnpool::Executor pool(
        spawnpool::Options{}.max_workers(1).heartbeat_timeout(std::chrono::seconds(30)));
    EXPECT_EQ(pool.num_workers(), 1);
  }
  {
    ScopedEnv env("SPAWNPOOL_SPAWN_TIMEOUT", "0");
    EXPECT_EQ(config_error(spawnpool::Options{}.max_workers(1)),
              "spawnpool: SPAWNPOOL_SPAWN_TIMEOUT='0' is invalid: expected an integer number of "
              "seconds from 1 to 2147483647; unset it for the default");
    spawnpool::Executor pool(
        spawnpool::Options{}.max_workers(1).spawn_timeout(std::chrono::seconds(60)));
    EXPECT_EQ(pool.num_workers(), 1);
  }
  {
    ScopedEnv env("SPAWNPOOL_POLL_MAX_SLEEP_US", "-5");
    EXPECT_EQ(config_error(spawnpool::Options{}.max_workers(1)),
              "spawnpool: SPAWNPOOL_POLL_MAX_SLEEP_US='-5' is invalid: expected an integer number "
              "of microseconds from 10 to 2147483647; unset it for the default");
  }
  {
    ScopedEnv env("SPAWNPOOL_MAX_MESSAGE_PART", "1G");  // no Options counterpart: always read
    EXPECT_EQ(config_error(spawnpool::Options{}.max_workers(1)),
              "spawnpool: SPAWNPOOL_MAX_MESSAGE_PART='1G' is invalid: expected an integer number "
              "of bytes from 64 to 2147483647; unset it for the default");
  }
  {
    ScopedEnv env("SPAWNPOOL_POLL_SPIN_US", " 100 ");  // blanks around a number are fine
    spawnpool::Executor pool(spawnpool::Options{}.max_workers(1));
    EXPECT_EQ(pool.num_workers(), 1);
  }
}

TEST(Options, SettingsOutOfRangeAreConfigErrorsBeforeAnythingStarts) {
  using spawnpool::Options;
  using std::chrono::milliseconds;
  // A spawn timeout of 0 used to spawn anyway and give up at once, leaving hydra to start a
  // worker for a manager that had stopped waiting for it; min_workers was clamped silently.
  EXPECT_EQ(config_error(Options{}.max_workers(1).spawn_timeout(milliseconds(0))),
            "spawnpool::Options::spawn_timeout must be positive, got 0 ms");
  EXPECT_EQ(config_error(Options{}.max_workers(1).spawn_timeout(milliseconds(-5))),
            "spawnpool::Options::spawn_timeout must be positive, got -5 ms");
  EXPECT_EQ(config_error(Options{}.max_workers(2).min_workers(3)),
            "spawnpool::Options::min_workers must be at most max_workers (2), got 3");
  EXPECT_EQ(config_error(Options{}.max_workers(0).min_workers(1)),
            "spawnpool::Options::max_workers must be at least 1, got 0");
  EXPECT_EQ(config_error(Options{}.max_workers(1).rank_groups(0)),
            "spawnpool::Options::rank_groups must be at least 1, got 0");
  // Beyond what the steady clock can add to now: it expired at once, or declared workers lost.
  EXPECT_EQ(config_error(Options{}.max_workers(1).spawn_timeout(milliseconds::max())),
            "spawnpool::Options::spawn_timeout must be at most 2147483647 s, got " +
                std::to_string(milliseconds::max().count()) + " ms");
  EXPECT_EQ(config_error(Options{}.max_workers(2).min_workers(0)),
            "spawnpool::Options::min_workers must be at least 1, got 0");
  {
    ScopedEnv env("SPAWNPOOL_MAX_WORKERS", "1");
    EXPECT_EQ(config_error(Options{}.min_workers(2)),
              "spawnpool::Options::min_workers must be at most the pool's 1 workers "
              "(max_workers' default here), got 2");
  }
  EXPECT_EQ(config_error(Options{}.max_workers(1).pipeline_depth(0)),
            "spawnpool::Options::pipeline_depth must be at least 1, got 0");
  EXPECT_EQ(config_error(Options{}.max_workers(1).max_batch(-1)),
            "spawnpool::Options::max_batch must be at least 1, got -1");
  EXPECT_EQ(config_error(Options{}.max_workers(1).heartbeat_timeout(milliseconds(0))),
            "spawnpool::Options::heartbeat_timeout must be positive, got 0 ms");
  EXPECT_EQ(config_error(Options{}.max_workers(1).task_timeout(milliseconds(-1))),
            "spawnpool::Options::task_timeout must be 0 (no limit) or more, got -1 ms");
  EXPECT_EQ(config_error(Options{}.max_workers(1).shutdown_timeout(milliseconds(-1))),
            "spawnpool::Options::shutdown_timeout must be 0 or more, got -1 ms");
  EXPECT_EQ(config_error(Options{}.max_workers(1).poll_max_sleep(std::chrono::microseconds(0))),
            "spawnpool::Options::poll_max_sleep must be positive, got 0 us");
  // The edges of the ranges are accepted.
  spawnpool::Executor pool(
      Options{}.max_workers(1).min_workers(1).spawn_timeout(milliseconds(60000)).max_batch(1));
  EXPECT_EQ(pool.submit(read_env, "SPAWNPOOL_NO_SUCH_VARIABLE").get(), "<unset>");
}

TEST(Placement, ImpossiblePlacementIsAConfigErrorBeforeAnythingStarts) {
  using spawnpool::Options;
  EXPECT_EQ(config_error(Options{}.max_workers(1).hosts({"localhost"}).max_workers_per_host(0)),
            "spawnpool::Options::max_workers_per_host must be at least 1, got 0");
  EXPECT_EQ(config_error(Options{}.max_workers(1).hosts({"localhost", ""})),
            "spawnpool: Options::hosts: an empty host name");
  EXPECT_EQ(config_error(Options{}.max_workers(3).hosts({"localhost"}).max_workers_per_host(2)),
            "spawnpool::Executor: 3 workers do not fit on 1 host(s) of Options::hosts with "
            "max_workers_per_host 2 (room for 2)");
}

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
