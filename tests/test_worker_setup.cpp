// Worker set-up from Options: initializer, environment, working directory, per-task thread count.
#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
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

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
