// Executor in spawn mode: results, ordering, types, remote errors, unregistered tasks, shutdown,
// many pools, pools side by side, threads. Run by ctest at 1, 2 and 4 workers
// (SPAWNPOOL_MAX_WORKERS), started without mpiexec so the relaunch path is exercised too.
#include "executor_contract.hpp"

#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

// From executor_contract.hpp: physics::step, add, square, parse, throw_int, count_words and
// never_registered.

int sleepy_identity(int value, int micros) {
  std::this_thread::sleep_for(std::chrono::microseconds(micros));
  return value;
}
SPAWNPOOL_TASK(sleepy_identity);

std::string greet(const std::string& name, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += "hello " + name + ";";
  return out;
}
SPAWNPOOL_TASK(greet);

std::tuple<int, double, std::string> tuple_task(std::tuple<int, double> in) {
  return {std::get<0>(in) * 2, std::get<1>(in) / 2, "ok"};
}
SPAWNPOOL_TASK(tuple_task);

std::optional<int> maybe_half(int x) {
  if (x % 2) return std::nullopt;
  return x / 2;
}
SPAWNPOOL_TASK(maybe_half);

void touch_file(const std::string& path) { std::ofstream(path) << getpid(); }
SPAWNPOOL_TASK(touch_file);

void fail_void(int) { throw std::logic_error("void task failed"); }
SPAWNPOOL_TASK(fail_void);

std::vector<double> echo(const std::vector<double>& data) { return data; }
SPAWNPOOL_TASK(echo);

std::vector<double> scaled(std::vector<double> v, double factor) {
  for (double& x : v) x *= factor;
  return v;
}
SPAWNPOOL_TASK(scaled);

long worker_pid() { return static_cast<long>(getpid()); }
SPAWNPOOL_TASK(worker_pid);

// Several large arrays in one argument and in the result: each is an out-of-band block, so the
// out-of-band stream has several blocks, and with small parts (executor_w2) its messages start and
// end inside blocks.
struct Field {
  std::string name;                   // small: inline
  std::vector<double> values;         // large
  std::vector<float> weights;         // large
  std::vector<int> small;             // inline
  std::string text;                   // large string: out of band too
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, values, weights, small, text);
  }
  bool operator==(const Field& o) const {
    return name == o.name && values == o.values && weights == o.weights && small == o.small &&
           text == o.text;
  }
};
Field make_field(std::size_t n, double offset) {
  Field f;
  f.name = "field";
  f.values.resize(n);
  std::iota(f.values.begin(), f.values.end(), offset);
  f.weights.assign(n / 2 + 3, 0.25f);
  f.small = {1, 2, 3};
  f.text.assign(300 * 1024 + 11, 'x');
  for (std::size_t i = 0; i < f.text.size(); i += 97) f.text[i] = static_cast<char>('a' + i % 26);
  return f;
}
// Reverses the arrays and appends `extra` (a second large argument) to the values.
Field mirror(Field f, const std::vector<std::int64_t>& extra) {
  std::reverse(f.values.begin(), f.values.end());
  std::reverse(f.weights.begin(), f.weights.end());
  for (std::int64_t e : extra) f.values.push_back(static_cast<double>(e));
  std::reverse(f.text.begin(), f.text.end());
  f.name += "'";
  return f;
}
SPAWNPOOL_TASK(mirror);

double sum_of(const std::vector<double>& values) {
  return std::accumulate(values.begin(), values.end(), 0.0);
}
SPAWNPOOL_TASK(sum_of);

namespace {

int expected_workers() {
  const char* n = std::getenv("SPAWNPOOL_MAX_WORKERS");
  return n ? std::atoi(n) : 0;
}

TEST(Executor, StartsTheRequestedNumberOfWorkers) {
  spawnpool::Executor pool;
  if (expected_workers() > 0) {
    EXPECT_EQ(pool.num_workers(), expected_workers());
  }
  EXPECT_EQ(pool.mode(), spawnpool::Mode::spawn);
  // Every worker is a separate process, not this one.
  std::vector<spawnpool::Future<long>> pids;
  for (int i = 0; i < 50; ++i) pids.push_back(pool.submit(worker_pid));
  for (auto& f : pids) EXPECT_NE(f.get(), static_cast<long>(getpid()));
}

TEST(Executor, SubmitReturnsTheResult) {
  spawnpool::Executor pool;
  auto f = pool.submit(square, 7);
  EXPECT_TRUE(f.valid());
  EXPECT_EQ(f.get(), 49);
  EXPECT_FALSE(f.valid());
}

TEST(Executor, TenThousandTasksAllCorrect) {
  spawnpool::Executor pool;
  std::vector<spawnpool::Future<int>> futures;
  futures.reserve(10000);
  for (int i = 0; i < 10000; ++i) futures.push_back(pool.submit(add, i, 1000000));
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(futures[i].get(), i + 1000000) << "task " << i;
}

TEST(Executor, ArgumentsAreConvertedToParameterTypes) {
  spawnpool::Executor pool;
  EXPECT_EQ(pool.submit(greet, "ada", short{2}).get(), "hello ada;hello ada;");
  const char* literal = "12";
  EXPECT_EQ(pool.submit(parse, literal).get(), 12);
}

TEST(Executor, StandardAndUserTypesRoundTrip) {
  spawnpool::Executor pool;
  const std::vector<std::string> words = {"a", "b", "a", "c", "a"};
  const std::map<std::string, int> expected = {{"a", 3}, {"b", 1}, {"c", 1}};
  EXPECT_EQ(pool.submit(count_words, words).get(), expected);
  EXPECT_EQ(pool.submit(tuple_task, std::make_tuple(21, 5.0)).get(),
            std::make_tuple(42, 2.5, std::string("ok")));
  EXPECT_EQ(pool.submit(maybe_half, 8).get(), std::optional<int>(4));
  EXPECT_EQ(pool.submit(maybe_half, 7).get(), std::nullopt);
  const physics::Particle p{1.0, 2.0, "p"};
  EXPECT_EQ(pool.submit(physics::step, p, 0.5).get(), (physics::Particle{2.0, 2.0, "p'"}));
}

TEST(Executor, VoidTasksComplete) {
  spawnpool::Executor pool;
  char path[] = "/tmp/spawnpool_void_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::remove(path);
  auto f = pool.submit(touch_file, std::string(path));
  f.get();
  std::ifstream in(path);
  long pid = 0;
  ASSERT_TRUE(in >> pid) << "the void task did not run";
  EXPECT_NE(pid, static_cast<long>(getpid()));
  std::remove(path);
  EXPECT_THROW(pool.submit(fail_void, 1).get(), spawnpool::RemoteError);
}

TEST(Executor, LargeArgumentsComeBackIntact) {
  spawnpool::Executor pool;
  std::vector<double> data(1 << 20);  // 8 MiB; with SPAWNPOOL_MAX_MESSAGE_PART small: many parts
  std::iota(data.begin(), data.end(), 0.5);
  EXPECT_EQ(pool.submit(echo, data).get(), data);
  EXPECT_EQ(pool.submit(echo, std::vector<double>{}).get(), std::vector<double>{});
}

TEST(Executor, MovedInLargeArraysTravelOutOfBandIntact) {
  spawnpool::Executor pool;
  std::vector<std::int64_t> extra(70000);  // 547 KiB, passed as an lvalue: copied, still intact
  std::iota(extra.begin(), extra.end(), -5);
  for (std::size_t n : {std::size_t{40000}, std::size_t{300000}, std::size_t{1} << 20}) {
    const Field expected = mirror(make_field(n, 0.5), extra);
    Field moved = make_field(n, 0.5);
    auto back = pool.submit(mirror, std::move(moved), extra);
    EXPECT_EQ(back.get(), expected) << n << " values";
  }
  // Many at once, to several workers, interleaved with small tasks.
  std::vector<spawnpool::Future<Field>> fields;
  std::vector<spawnpool::Future<int>> small;
  for (int i = 0; i < 12; ++i) {
    fields.push_back(pool.submit(mirror, make_field(200000 + i, i), extra));
    small.push_back(pool.submit(square, i));
  }
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(fields[i].get(), mirror(make_field(200000 + i, i), extra)) << i;
    EXPECT_EQ(small[i].get(), i * i);
  }
}

// A large array passed through tasks again and again: each decode reuses storage from an earlier
// round (vector_recycling.hpp), which still holds that round's values; every element must be the
// new one, whether the size stays, shrinks or grows.
TEST(Executor, ALargeArrayPassedAroundRepeatedlyHasExactlyTheNewValuesEachTime) {
  spawnpool::Executor pool;
  std::vector<double> v(300000);  // 2.3 MiB: out of band, and recycled
  std::iota(v.begin(), v.end(), 1.0);
  std::vector<double> expected = v;
  for (int round = 0; round < 6; ++round) {
    const std::size_t size = round < 3 ? 300000 : round == 3 ? 290000 : 310000;
    v.resize(size, 7.0);
    expected.resize(size, 7.0);
    for (double& x : expected) x *= 3.0;
    v = pool.submit(scaled, std::move(v), 3.0).get();
    ASSERT_EQ(v, expected) << "round " << round;
  }
}

TEST(Executor, LargeResultReadByContinuationsAndDependentCallsToo) {
  spawnpool::Executor pool;
  std::vector<double> data(1 << 19);  // 4 MiB: its result travels out of band
  std::iota(data.begin(), data.end(), 1.0);
  const double total = std::accumulate(data.begin(), data.end(), 0.0);
  auto echoed = pool.submit(echo, std::vector<double>(data));
  auto size = echoed.then([](std::vector<double> v) { return v.size(); });
  auto summed = pool.submit(sum_of, echoed);  // a dependent call: the result is its argument
  EXPECT_EQ(summed.get(), total);
  EXPECT_EQ(size.get(), data.size());
  EXPECT_EQ(echoed.get(), data);  // the task's own future still sees the whole result
}

TEST(Executor, StdExceptionArrivesAsRemoteError) {
  spawnpool::Executor pool;
  executor_contract::std_exception_arrives_as_remote_error(pool);
}

TEST(Executor, UserExceptionTypesKeepTheirNames) {
  spawnpool::Executor pool;
  executor_contract::user_exception_types_keep_their_names(pool);
}

TEST(Executor, UnregisteredTaskIsRefusedAtSubmit) {
  spawnpool::Executor pool;
  executor_contract::unregistered_task_is_refused_at_submit(pool);
}

TEST(Executor, MapKeepsInputOrder) {
  spawnpool::Executor pool;
  std::vector<int> values(300), delays(300);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> jitter(0, 2000);
  for (int i = 0; i < 300; ++i) {
    values[i] = i * 3;
    delays[i] = jitter(rng);  // results finish out of order
  }
  for (std::size_t chunk : {0, 1, 7, 1000}) {
    auto results = pool.map(spawnpool::MapOptions{}.chunksize(chunk), sleepy_identity, values, delays).get();
    ASSERT_EQ(results.size(), values.size()) << "chunksize " << chunk;
    EXPECT_EQ(results, values) << "chunksize " << chunk;
  }
}

TEST(Executor, MapZipsToTheShortestRange) {
  spawnpool::Executor pool;
  const std::vector<int> a = {1, 2, 3, 4, 5};
  const std::vector<int> b = {10, 20, 30};
  EXPECT_EQ(pool.map(add, a, b).get(), (std::vector<int>{11, 22, 33}));
  EXPECT_TRUE(pool.map(add, a, std::vector<int>{}).get().empty());
}

TEST(Executor, MapResultsCanBeIteratedAsTheyArrive) {
  spawnpool::Executor pool;
  std::vector<int> xs(100);
  std::iota(xs.begin(), xs.end(), 0);
  auto results = pool.map(square, xs);
  int i = 0;
  for (int r : results) {
    EXPECT_EQ(r, i * i);
    ++i;
  }
  EXPECT_EQ(i, 100);
}

TEST(Executor, MapRethrowsTheFirstErrorInOrder) {
  spawnpool::Executor pool;
  executor_contract::map_errors_stay_with_their_inputs(pool);
}

TEST(Executor, SubmitAfterShutdownThrows) {
  spawnpool::Executor pool;
  auto f = pool.submit(square, 5);
  pool.shutdown();
  EXPECT_EQ(f.get(), 25);  // shutdown(wait) finished the submitted task
  EXPECT_THROW((void)pool.submit(square, 6), spawnpool::BrokenExecutor);
  pool.shutdown();  // idempotent
}

TEST(Executor, ShutdownCanCancelPendingTasks) {
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(1));
  std::vector<spawnpool::Future<int>> futures;
  for (int i = 0; i < 40; ++i) futures.push_back(pool.submit(sleepy_identity, i, 20000));
  futures[0].wait();  // the worker is busy; most of the rest have not been sent yet
  pool.shutdown(true, true);
  int done = 0, cancelled = 0;
  for (int i = 0; i < 40; ++i) {
    try {
      EXPECT_EQ(futures[i].get(), i);
      ++done;
    } catch (const spawnpool::Cancelled&) {
      ++cancelled;
    }
  }
  EXPECT_GE(done, 1);
  EXPECT_GE(cancelled, 30);
  EXPECT_EQ(done + cancelled, 40);
}

TEST(Future, WaitForTimesOutThenSucceeds) {
  spawnpool::Executor pool;
  auto f = pool.submit(sleepy_identity, 5, 300000);
  EXPECT_EQ(f.wait_for(std::chrono::milliseconds(1)), spawnpool::FutureStatus::timeout);
  EXPECT_FALSE(f.ready());
  EXPECT_EQ(f.wait_until(std::chrono::system_clock::now() + std::chrono::seconds(60)),
            spawnpool::FutureStatus::ready);
  EXPECT_TRUE(f.ready());
  EXPECT_EQ(f.get(), 5);
  EXPECT_THROW(f.get(), spawnpool::Error);
  spawnpool::Future<int> empty;
  EXPECT_FALSE(empty.valid());
  EXPECT_THROW(empty.wait(), spawnpool::Error);
}

TEST(Future, CancelOnlyWorksBeforeTheTaskIsSent) {
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(1).pipeline_depth(1));
  auto running = pool.submit(sleepy_identity, 1, 200000);
  std::vector<spawnpool::Future<int>> queued;
  for (int i = 0; i < 5; ++i) queued.push_back(pool.submit(sleepy_identity, i, 1000));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(running.cancel());
  EXPECT_TRUE(queued.back().cancel());
  EXPECT_TRUE(queued.back().cancelled());
  EXPECT_THROW(queued.back().get(), spawnpool::Cancelled);
  EXPECT_EQ(running.get(), 1);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(queued[i].get(), i);
}

TEST(Executor, TwentyPoolsInSequence) {
#if defined(OMPI_MAJOR_VERSION)
  GTEST_SKIP() << "Open MPI 4.1.4 with an external PMIx 4.x hangs intermittently in MPI_Comm_spawn "
                  "while other spawned children are alive (openpmix/openpmix#2735, "
                  "tests/openmpi/FINDINGS.md)";
#endif
  for (int round = 0; round < 20; ++round) {
    spawnpool::Executor pool;
    ASSERT_EQ(pool.submit(add, round, 1).get(), round + 1) << "round " << round;
  }
}

TEST(Executor, TwoPoolsAtOnce) {
  spawnpool::Executor a(spawnpool::Options{}.max_workers(1));
  spawnpool::Executor b(spawnpool::Options{}.max_workers(2));
  EXPECT_EQ(a.num_workers() + b.num_workers(), 3);
  std::vector<spawnpool::Future<int>> fa, fb;
  for (int i = 0; i < 500; ++i) {
    fa.push_back(a.submit(add, i, 1));
    fb.push_back(b.submit(add, i, 2));
  }
  for (int i = 0; i < 500; ++i) {
    ASSERT_EQ(fa[i].get(), i + 1);
    ASSERT_EQ(fb[i].get(), i + 2);
  }
}

TEST(Executor, SubmitFromSeveralThreads) {
  spawnpool::Executor pool;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<spawnpool::Future<int>> futures;
      for (int i = 0; i < 500; ++i) futures.push_back(pool.submit(add, t * 1000, i));
      for (int i = 0; i < 500; ++i) {
        if (futures[i].get() != t * 1000 + i) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(Executor, MissingWorkerProgramIsASpawnError) {
  try {
    spawnpool::Executor pool(spawnpool::Options{}.max_workers(1).worker_program("/nonexistent/worker"));
    FAIL() << "expected SpawnError";
  } catch (const spawnpool::SpawnError& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
  char path[] = "/tmp/spawnpool_noexec_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  try {
    spawnpool::Executor pool(spawnpool::Options{}.max_workers(1).worker_program(path));
    FAIL() << "expected SpawnError";
  } catch (const spawnpool::SpawnError& e) {
    EXPECT_NE(std::string(e.what()).find("not executable"), std::string::npos) << e.what();
  }
  std::remove(path);
}

TEST(Runtime, RelaunchedUnderMpiexecWhenStartedAlone) {
  if (!std::getenv("SPAWNPOOL_TEST_STARTED_ALONE")) GTEST_SKIP() << "started by an MPI launcher";
  const char* relaunched = std::getenv("SPAWNPOOL_RELAUNCHED");
  ASSERT_NE(relaunched, nullptr) << "the test binary was started alone but did not relaunch";
  EXPECT_STREQ(relaunched, "1");
  EXPECT_NE(std::getenv("PMI_RANK"), nullptr) << "not running under hydra after the relaunch";
}

}  // namespace

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);  // workers serve here and exit
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
