// The public headers compile cleanly with the warnings users turn on: this file is built with
// -Wall -Wextra -Wpedantic -Wshadow -Wsign-conversion -Werror (tests/CMakeLists.txt), includes
// the umbrella header and instantiates every template of the API for both executors, so a header
// that warns fails the build. It also runs the ThreadExecutor half (no MPI processes).
#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace strict {

struct Point {
  double x = 0;
  double y = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, y);
  }
};

int add(int a, int b) { return a + b; }
SPAWNPOOL_TASK(add);

double norm2(const Point& p) { return p.x * p.x + p.y * p.y; }
SPAWNPOOL_TASK(norm2);

std::vector<double> scale(std::vector<double> v, double factor) {
  for (double& x : v) x *= factor;
  return v;
}
SPAWNPOOL_TASK(scale);

std::string greet(const std::string& name, std::size_t times) {
  std::string out;
  for (std::size_t i = 0; i < times; ++i) out += name;
  return out;
}
SPAWNPOOL_TASK(greet);

void nothing(int) {}
SPAWNPOOL_TASK(nothing);

std::map<std::string, std::int64_t> counts(const std::vector<std::string>& words) {
  std::map<std::string, std::int64_t> out;
  for (const auto& w : words) ++out[w];
  return out;
}
SPAWNPOOL_TASK(counts);

/// A k-rank task (task_comm.hpp).
std::vector<double> spread(spawnpool::TaskComm comm, const std::vector<double>& xs, int times) {
  std::vector<double> out(xs);
  for (double& x : out) x *= static_cast<double>(times * comm.size() + comm.rank());
  return out;
}
SPAWNPOOL_TASK(spread);

void ranked_nothing(spawnpool::TaskComm comm) { (void)comm.rank(); }
SPAWNPOOL_TASK(ranked_nothing);

/// Every call of the executor API, for either executor. Returns a checksum of the results.
template <class Pool>
long exercise(Pool& pool) {
  static_assert(spawnpool::is_executor_v<Pool>, "an executor");
  long total = 0;

  // submit, with and without TaskOptions, with a future as an argument, then(), void results
  spawnpool::Future<int> a = pool.submit(add, 1, 2);
  spawnpool::Future<int> b = pool.submit(spawnpool::TaskOptions{}.threads(2), add, a, 10);
  spawnpool::Future<std::string> c = b.then([](int x) { return std::to_string(x); });
  total += static_cast<long>(c.get().size()) + b.get() + a.get();
  // k-rank tasks, on one rank (both executors take that)
  const std::vector<double> values{1.0, 2.0};
  total += static_cast<long>(pool.submit(spawnpool::TaskOptions{}.ranks(1), spread, values, 2).get()[1]);
  total += static_cast<long>(pool.submit_all_ranks(spawnpool::TaskOptions{}.ranks(1), spread, values, 1)
                                 .get()
                                 .size());
  pool.submit(ranked_nothing).get();
  spawnpool::Future<void> v = pool.submit(nothing, 1);
  if (v.wait_for(std::chrono::seconds(30)) == spawnpool::FutureStatus::ready) v.get();
  total += static_cast<long>(pool.submit(greet, std::string("ab"), std::size_t{3}).get().size());
  total += static_cast<long>(pool.submit(norm2, Point{3, 4}).get());
  std::vector<double> big(70000, 1.0);  // over 256 KiB: out of band
  total += static_cast<long>(pool.submit(scale, std::move(big), 2.0).get().at(0));
  total += pool.submit(counts, std::vector<std::string>{"a", "b", "a"}).get().at("a");

  // wait_all, wait_any, as_completed
  std::vector<spawnpool::Future<int>> futures;
  for (int i = 0; i < 4; ++i) futures.push_back(pool.submit(add, i, i));
  spawnpool::wait_all(futures);
  total += static_cast<long>(spawnpool::wait_any(futures));
  for (std::size_t i : spawnpool::as_completed(futures)) total += futures[i].get();

  // map, map_unordered, starmap (with options, several ranges, iteration), submit_batch
  const std::vector<int> xs{1, 2, 3, 4};
  const std::vector<int> ys{5, 6, 7, 8};
  for (int r : pool.map(add, xs, ys)) total += r;
  auto mapped = pool.map(spawnpool::MapOptions{}.chunksize(2).timeout(std::chrono::seconds(60)),
                         add, xs, ys);
  if (mapped.ready() || !mapped.ready()) mapped.wait();
  for (int r : mapped.get()) total += r;
  for (auto [i, r] : pool.map_unordered(add, xs, ys)) total += static_cast<long>(i) + r;
  for (std::size_t i : pool.map_unordered(nothing, xs)) total += static_cast<long>(i);
  pool.map(nothing, xs).get();
  const std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}};
  for (int r : pool.starmap(add, pairs)) total += r;
  const std::vector<std::array<int, 2>> arrays{{{1, 2}}, {{3, 4}}};
  for (int r : pool.starmap(spawnpool::MapOptions{}, add, arrays)) total += r;
  int next_input = 0;
  auto inputs = [&]() -> std::optional<std::tuple<int, int>> {
    if (next_input == 10) return std::nullopt;
    ++next_input;
    return std::make_tuple(next_input, 1);
  };
  for (auto [i, r] : pool.submit_batch(add, inputs)) total += static_cast<long>(i) + r;
  for (auto [i, r] : pool.submit_batch(spawnpool::MapOptions{}, add, pairs.begin(), pairs.end())) {
    total += static_cast<long>(i) + r;
  }

  // the rest of the executor
  total += pool.num_workers();
  total += static_cast<long>(pool.workers().size());
  pool.shutdown(true, false);
  return total;
}

/// Instantiated for the MPI executor (never called here: it needs a Runtime and workers).
[[maybe_unused]] long exercise_mpi(spawnpool::Executor& pool) {
  spawnpool::Command command;
  command.args = {"true"};
  long total = pool.submit(spawnpool::run_command, command).get().exit_code;
  total += static_cast<long>(pool.stats().completed);
  (void)spawnpool::to_string(pool.mode());
  return total + exercise(pool);
}

[[maybe_unused]] void exercise_serve(MPI_Comm comm) {
  spawnpool::serve(comm, 0, [](spawnpool::Executor& pool) { (void)exercise(pool); });
}

TEST(PublicHeaders, ThreadExecutorRunsEveryCall) {
  spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(2));
  EXPECT_GT(exercise(pool), 0);
  EXPECT_NE(std::string(spawnpool::version()), "");
}

}  // namespace strict
