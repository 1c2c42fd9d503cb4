// ThreadExecutor: the Executor API on threads, without MPI or a Runtime. Results, ordering, the
// serialization path, remote errors, unregistered tasks, shutdown and cancellation, concurrency, and
// the executor concept that lets generic code take either executor (compile-level for Executor).
#include "executor_contract.hpp"

#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <list>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

// From executor_contract.hpp: physics::step, add, square, parse, throw_int, count_words and
// never_registered.

double half(double x) { return x / 2; }
SPAWNPOOL_TASK(half);

double sum(const std::vector<double>& values) {
  return std::accumulate(values.begin(), values.end(), 0.0);
}
SPAWNPOOL_TASK(sum);

std::atomic<int> void_calls{0};
void touch(int) { ++void_calls; }
SPAWNPOOL_TASK(touch);

/// Serializes only `kept`: whatever is in `dropped` cannot reach the task if arguments really go
/// through cereal.
struct Lossy {
  int kept = 0;
  int dropped = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(kept);
  }
};
int dropped_field(Lossy value) { return value.dropped; }
SPAWNPOOL_TASK(dropped_field);
Lossy make_lossy(int v) { return Lossy{v, v}; }
SPAWNPOOL_TASK(make_lossy);

/// A gate that tasks wait at until the test opens it (with a generous limit so that a failing test
/// cannot hang).
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  int waiting = 0;
  void pass() {
    std::unique_lock<std::mutex> lock(mutex);
    ++waiting;
    cv.notify_all();
    cv.wait_for(lock, 30s, [this] { return open; });
  }
  void wait_for_waiters(int n) {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait_for(lock, 30s, [&] { return waiting >= n; });
  }
  void reset() {
    std::lock_guard<std::mutex> lock(mutex);
    open = false;
    waiting = 0;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      open = true;
    }
    cv.notify_all();
  }
};
Gate gate;
int wait_at_gate(int value) {
  gate.pass();
  return value;
}
SPAWNPOOL_TASK(wait_at_gate);

/// Returns true only if `n` calls are inside it at the same time (false after 20 s otherwise).
std::mutex meeting_mutex;
std::condition_variable meeting_cv;
int meeting_count = 0;
bool meet(int n) {
  std::unique_lock<std::mutex> lock(meeting_mutex);
  ++meeting_count;
  meeting_cv.notify_all();
  return meeting_cv.wait_for(lock, 20s, [&] { return meeting_count >= n; });
}
SPAWNPOOL_TASK(meet);

// ---------------------------------------------------------------------------------------------
// The concept

static_assert(spawnpool::is_executor_v<spawnpool::ThreadExecutor>);
static_assert(spawnpool::is_executor_v<spawnpool::Executor>);
static_assert(!spawnpool::is_executor_v<int>);
static_assert(!spawnpool::is_executor_v<std::vector<int>>);
static_assert(!spawnpool::is_executor_v<spawnpool::Future<int>>);
static_assert(!std::is_copy_constructible_v<spawnpool::ThreadExecutor>);
static_assert(std::is_move_constructible_v<spawnpool::ThreadExecutor>);

/// Generic code written once: the sum of squares through map and submit, any executor.
template <class Pool>
int sum_of_squares(Pool& pool, const std::vector<int>& values) {
  static_assert(spawnpool::is_executor_v<Pool>, "sum_of_squares needs a spawnpool executor");
  int total = 0;
  for (int x : pool.map(spawnpool::MapOptions{}.chunksize(2), square, values)) total += x;
  auto check = pool.submit(add, total, 0);
  return check.get();
}
// Compile-level for the MPI executor (running it needs MPI worker processes; test_executor does).
[[maybe_unused]] int (*const sum_of_squares_mpi)(spawnpool::Executor&, const std::vector<int>&) =
    &sum_of_squares<spawnpool::Executor>;

TEST(ThreadExecutor, MovedInLargeArgumentsArriveIntact) {
  // A moved-in argument's large arrays travel out of band: here they are copied from the holder.
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  std::vector<double> data(1 << 18);
  std::iota(data.begin(), data.end(), 0.0);
  const double expected = std::accumulate(data.begin(), data.end(), 0.0);
  auto moved = pool.submit(sum, std::move(data));
  auto copied = pool.submit(sum, std::vector<double>(1 << 18, 1.0));
  EXPECT_EQ(moved.get(), expected);
  EXPECT_EQ(copied.get(), static_cast<double>(1 << 18));
}

TEST(ThreadExecutor, GenericCodeTakesIt) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  EXPECT_EQ(sum_of_squares(pool, {1, 2, 3, 4}), 30);
}

// ---------------------------------------------------------------------------------------------
// Basics

int rank_and_size_alone(spawnpool::TaskComm comm) { return comm.rank() * 10 + comm.size(); }
SPAWNPOOL_TASK(rank_and_size_alone);

bool mpi_of_comm_throws(spawnpool::TaskComm comm) {
  try {
    (void)comm.mpi();
  } catch (const spawnpool::Error&) {
    return true;
  }
  return false;
}
SPAWNPOOL_TASK(mpi_of_comm_throws);

TEST(ThreadExecutor, KRankTasksRunOnOneThreadWithoutMpiAndRefuseMoreRanks) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  EXPECT_EQ(pool.submit(rank_and_size_alone).get(), 1);
  EXPECT_EQ(pool.submit(spawnpool::TaskOptions{}.ranks(1), rank_and_size_alone).get(), 1);
  EXPECT_EQ(pool.submit_all_ranks(spawnpool::TaskOptions{}.ranks(1), rank_and_size_alone).get(),
            std::vector<int>{1});
  EXPECT_TRUE(pool.submit(mpi_of_comm_throws).get()) << "no MPI in this process: mpi() throws";
  EXPECT_THROW((void)pool.submit(spawnpool::TaskOptions{}.ranks(2), rank_and_size_alone),
               spawnpool::Error);
  EXPECT_THROW((void)pool.submit(spawnpool::TaskOptions{}.ranks(0), rank_and_size_alone),
               spawnpool::Error);
}

TEST(ThreadExecutor, NeedsNoRuntimeAndNoMpi) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  EXPECT_EQ(pool.submit(square, 7).get(), 49);
  int initialized = 1;
  MPI_Initialized(&initialized);
  EXPECT_EQ(initialized, 0);
}

TEST(ThreadExecutor, StartsTheRequestedNumberOfThreads) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(3));
  EXPECT_EQ(pool.num_workers(), 3);
  const auto workers = pool.workers();
  ASSERT_EQ(workers.size(), 3u);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(workers[static_cast<std::size_t>(i)].rank, i);
    EXPECT_EQ(workers[static_cast<std::size_t>(i)].host, host);
    EXPECT_EQ(workers[static_cast<std::size_t>(i)].pid, static_cast<long>(getpid()));
  }
}

TEST(ThreadExecutor, DefaultThreadCount) {
  spawnpool::ThreadExecutor pool;
  const char* env = std::getenv("SPAWNPOOL_MAX_WORKERS");
  const int expected = env && std::atoi(env) > 0
                           ? std::atoi(env)
                           : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(pool.num_workers(), expected);
}

TEST(ThreadExecutor, RefusesZeroWorkers) {
  EXPECT_THROW(spawnpool::ThreadExecutor(spawnpool::Options{}.max_workers(0)), spawnpool::Error);
}

TEST(ThreadExecutor, SubmitReturnsTheResult) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  EXPECT_EQ(pool.submit(add, 2, 3).get(), 5);
  std::vector<spawnpool::Future<int>> futures;
  for (int i = 0; i < 1000; ++i) futures.push_back(pool.submit(square, i));
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(futures[static_cast<std::size_t>(i)].get(), i * i);
}

TEST(ThreadExecutor, StandardAndUserTypesRoundTrip) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  const physics::Particle p{1.0, 2.0, "p"};
  EXPECT_EQ(pool.submit(physics::step, p, 0.5).get(), (physics::Particle{2.0, 2.0, "p'"}));
  const std::map<std::string, int> expected{{"a", 2}, {"b", 1}};
  EXPECT_EQ(pool.submit(count_words, std::vector<std::string>{"a", "b", "a"}).get(), expected);
  const int before = void_calls.load();
  pool.submit(touch, 1).get();
  EXPECT_EQ(void_calls.load(), before + 1);
}

TEST(ThreadExecutor, ArgumentsAreConvertedToParameterTypes) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(1));
  EXPECT_EQ(pool.submit(half, 3).get(), 1.5);                      // int -> double
  EXPECT_EQ(pool.submit(parse, "42").get(), 42);                   // const char* -> std::string
  EXPECT_EQ(pool.submit(sum, std::vector<double>{1, 2, 3}).get(), 6.0);
}

TEST(ThreadExecutor, ArgumentsAndResultsGoThroughSerialization) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(1));
  // `dropped` is not serialized, so the task sees its default, as a worker process would.
  EXPECT_EQ(pool.submit(dropped_field, Lossy{1, 99}).get(), 0);
  const Lossy back = pool.submit(make_lossy, 5).get();
  EXPECT_EQ(back.kept, 5);
  EXPECT_EQ(back.dropped, 0);
}

TEST(ThreadExecutor, ArgumentsAreEncodedBeforeSubmitReturns) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(1));
  std::vector<double> values(1000, 1.0);
  auto f = pool.submit(sum, values);
  std::fill(values.begin(), values.end(), 5.0);
  values.clear();
  EXPECT_EQ(f.get(), 1000.0);
}

// ---------------------------------------------------------------------------------------------
// map

TEST(ThreadExecutor, MapKeepsInputOrderForEveryChunkSize) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(3));
  std::vector<int> inputs(257);
  std::iota(inputs.begin(), inputs.end(), 0);
  for (std::size_t chunk : {0u, 1u, 3u, 64u, 1000u}) {
    const std::vector<int> results =
        pool.map(spawnpool::MapOptions{}.chunksize(chunk), square, inputs).get();
    ASSERT_EQ(results.size(), inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) EXPECT_EQ(results[i], inputs[i] * inputs[i]);
  }
}

TEST(ThreadExecutor, MapZipsToTheShortestRange) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  const std::vector<int> a{1, 2, 3, 4, 5};
  const std::list<int> b{10, 20, 30};  // any forward range
  EXPECT_EQ(pool.map(add, a, b).get(), (std::vector<int>{11, 22, 33}));
  EXPECT_TRUE(pool.map(square, std::vector<int>{}).get().empty());
}

TEST(ThreadExecutor, MapResultsCanBeIteratedAsTheyArrive) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  std::vector<int> seen;
  for (int x : pool.map(square, std::vector<int>{1, 2, 3})) seen.push_back(x);
  EXPECT_EQ(seen, (std::vector<int>{1, 4, 9}));
}

TEST(ThreadExecutor, MapErrorsStayWithTheirInputs) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  executor_contract::map_errors_stay_with_their_inputs(pool);
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(ThreadExecutor, StdExceptionArrivesAsRemoteError) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  executor_contract::std_exception_arrives_as_remote_error(pool);
}

TEST(ThreadExecutor, UserExceptionTypesKeepTheirNames) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(1));
  executor_contract::user_exception_types_keep_their_names(pool);
  try {
    pool.submit(physics::step, physics::Particle{}, -1.0).get();
    FAIL() << "expected RemoteError";
  } catch (const spawnpool::RemoteError& e) {
    EXPECT_EQ(e.worker_rank(), 0);  // the only thread
  }
}

TEST(ThreadExecutor, UnregisteredTaskIsRefusedAtSubmit) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(1));
  executor_contract::unregistered_task_is_refused_at_submit(pool);
}

// ---------------------------------------------------------------------------------------------
// Shutdown and cancellation

TEST(ThreadExecutor, SubmitAfterShutdownThrows) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  auto f = pool.submit(square, 5);
  pool.shutdown();
  EXPECT_EQ(f.get(), 25);  // shutdown(true) waited for it
  EXPECT_THROW((void)pool.submit(square, 1), spawnpool::BrokenExecutor);
  EXPECT_THROW((void)pool.map(square, std::vector<int>{1}), spawnpool::BrokenExecutor);
  pool.shutdown();  // idempotent
  EXPECT_EQ(pool.num_workers(), 2);
}

TEST(ThreadExecutor, ShutdownWaitsForEveryQueuedTask) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  auto result = pool.map(spawnpool::MapOptions{}.chunksize(1), square, std::vector<int>(200, 3));
  pool.shutdown(true);
  EXPECT_TRUE(result.ready());
  for (int x : result.get()) EXPECT_EQ(x, 9);
}

TEST(ThreadExecutor, ShutdownCanCancelPendingTasks) {
  gate.reset();
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(1));
  auto running = pool.submit(wait_at_gate, 1);
  gate.wait_for_waiters(1);  // the only thread is busy in the first task
  std::vector<spawnpool::Future<int>> pending;
  for (int i = 0; i < 10; ++i) pending.push_back(pool.submit(square, i));
  pool.shutdown(false, true);  // returns at once
  for (auto& f : pending) {
    EXPECT_TRUE(f.ready());
    EXPECT_TRUE(f.cancelled());
    EXPECT_THROW(f.get(), spawnpool::Cancelled);
  }
  EXPECT_FALSE(running.ready());
  gate.release();
  EXPECT_EQ(running.get(), 1);  // the running task finished normally
  EXPECT_THROW((void)pool.submit(square, 1), spawnpool::BrokenExecutor);
}

TEST(ThreadExecutor, CancelOnlyWorksBeforeTheTaskStarts) {
  gate.reset();
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(1));
  auto running = pool.submit(wait_at_gate, 7);
  gate.wait_for_waiters(1);
  auto queued = pool.submit(square, 3);
  auto kept = pool.submit(square, 4);
  EXPECT_FALSE(running.cancel());  // already running
  EXPECT_TRUE(queued.cancel());
  EXPECT_TRUE(queued.cancelled());
  gate.release();
  EXPECT_EQ(running.get(), 7);
  EXPECT_THROW(queued.get(), spawnpool::Cancelled);
  EXPECT_EQ(kept.get(), 16);
  auto done = pool.submit(square, 2);
  done.wait();
  EXPECT_FALSE(done.cancel());  // already done
}

TEST(ThreadExecutor, CancelledCallsInsideAMapChunkAreSkipped) {
  gate.reset();
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(1));
  auto blocker = pool.submit(wait_at_gate, 0);
  gate.wait_for_waiters(1);
  auto result = pool.map(spawnpool::MapOptions{}.chunksize(4), square, std::vector<int>{1, 2, 3, 4});
  EXPECT_TRUE(result.futures()[2].cancel());
  gate.release();
  auto& f = result.futures();
  EXPECT_EQ(f[0].get(), 1);
  EXPECT_EQ(f[1].get(), 4);
  EXPECT_THROW(f[2].get(), spawnpool::Cancelled);
  EXPECT_EQ(f[3].get(), 16);
  EXPECT_EQ(blocker.get(), 0);
}

TEST(ThreadExecutor, DestructorWaitsForSubmittedTasks) {
  std::vector<spawnpool::Future<int>> futures;
  {
    spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
    for (int i = 0; i < 100; ++i) futures.push_back(pool.submit(square, i));
  }
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(futures[static_cast<std::size_t>(i)].ready());
    EXPECT_EQ(futures[static_cast<std::size_t>(i)].get(), i * i);
  }
}

TEST(ThreadExecutor, MovedFromExecutorIsBroken) {
  spawnpool::ThreadExecutor a(spawnpool::Options{}.max_workers(1));
  spawnpool::ThreadExecutor b(std::move(a));
  EXPECT_EQ(b.submit(square, 6).get(), 36);
  EXPECT_THROW((void)a.submit(square, 1), spawnpool::BrokenExecutor);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.num_workers(), 0);
  a = std::move(b);
  EXPECT_EQ(a.submit(square, 2).get(), 4);
}

// ---------------------------------------------------------------------------------------------
// Threads

TEST(ThreadExecutor, TasksRunConcurrently) {
  constexpr int kThreads = 4;
  meeting_count = 0;
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(kThreads));
  std::vector<spawnpool::Future<bool>> futures;
  for (int i = 0; i < kThreads; ++i) futures.push_back(pool.submit(meet, kThreads));
  for (auto& f : futures) EXPECT_TRUE(f.get());  // all four were inside meet() at once
}

TEST(ThreadExecutor, SubmitFromSeveralThreads) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::vector<spawnpool::Future<int>> futures;
      for (int i = 0; i < 200; ++i) futures.push_back(pool.submit(add, t, i));
      auto mapped = pool.map(square, std::vector<int>{t, t + 1});
      for (int i = 0; i < 200; ++i) {
        if (futures[static_cast<std::size_t>(i)].get() != t + i) ++wrong;
      }
      if (mapped.get() != std::vector<int>{t * t, (t + 1) * (t + 1)}) ++wrong;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(ThreadExecutor, ErrorsReportTheThreadThatRanTheTask) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(3));
  std::set<int> ranks;
  for (int i = 0; i < 60; ++i) {
    try {
      pool.submit(parse, std::string("x")).get();
    } catch (const spawnpool::RemoteError& e) {
      ranks.insert(e.worker_rank());
    }
  }
  ASSERT_FALSE(ranks.empty());
  EXPECT_GE(*ranks.begin(), 0);
  EXPECT_LT(*ranks.rbegin(), 3);
}
