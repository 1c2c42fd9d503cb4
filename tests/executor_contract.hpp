// What both executors must do alike, written once for test_executor.cpp (worker processes) and
// test_thread_executor.cpp (threads): the tasks both suites use, and the checks of how a task's
// error or an unregistered task comes back. Include it in one source file per test program (it
// registers tasks).
#pragma once
#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace physics {
struct SimulationDiverged : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct Particle {
  double x = 0, v = 0;
  std::string label;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, v, label);
  }
  bool operator==(const Particle& o) const { return x == o.x && v == o.v && label == o.label; }
};
inline Particle step(Particle p, double dt) {
  if (dt < 0) throw SimulationDiverged("negative time step");
  p.x += p.v * dt;
  p.label += "'";
  return p;
}
}  // namespace physics
SPAWNPOOL_TASK_AS(physics::step, "step");

inline int add(int a, int b) { return a + b; }
SPAWNPOOL_TASK(add);

inline int square(int x) { return x * x; }
SPAWNPOOL_TASK(square);

inline int parse(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    throw std::invalid_argument("bad input");
  }
  return std::stoi(text);
}
SPAWNPOOL_TASK(parse);

inline int throw_int(int value) { throw value; }
SPAWNPOOL_TASK(throw_int);

inline std::map<std::string, int> count_words(const std::vector<std::string>& words) {
  std::map<std::string, int> counts;
  for (const auto& w : words) ++counts[w];
  return counts;
}
SPAWNPOOL_TASK(count_words);

inline int never_registered(int x) { return x; }  // deliberately no SPAWNPOOL_TASK

namespace executor_contract {

/// A std::exception thrown by a task arrives as RemoteError with its type, message, task, the
/// worker that ran it (its id and pid) and that worker's host.
template <class Pool>
void std_exception_arrives_as_remote_error(Pool& pool) {
  auto f = pool.submit(parse, std::string("12x"));
  try {
    f.get();
    FAIL() << "expected RemoteError";
  } catch (const spawnpool::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::invalid_argument");
    EXPECT_EQ(e.message(), "bad input");
    EXPECT_EQ(e.task_name(), "parse");
    // The worker is one of the pool's, by id and pid.
    int matches = 0;
    for (const spawnpool::WorkerInfo& w : pool.workers()) {
      if (w.id == e.worker_id()) {
        ++matches;
        EXPECT_EQ(w.pid, e.worker_pid());
      }
    }
    EXPECT_EQ(matches, 1) << "worker id " << e.worker_id();
    EXPECT_EQ(e.worker_rank(), e.worker_id());
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    EXPECT_EQ(e.host(), host);
    EXPECT_EQ(std::string(e.what()), "std::invalid_argument: bad input (task \"parse\" on worker " +
                                         std::to_string(e.worker_id()) + ", pid " +
                                         std::to_string(e.worker_pid()) + ", host " + host + ")");
  }
}

/// A user's exception type keeps its name, so does a thrown non-exception (an int, whose message
/// says so), and the pool keeps working afterwards.
template <class Pool>
void user_exception_types_keep_their_names(Pool& pool) {
  try {
    pool.submit(physics::step, physics::Particle{}, -1.0).get();
    FAIL() << "expected RemoteError";
  } catch (const spawnpool::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "physics::SimulationDiverged");
    EXPECT_EQ(e.message(), "negative time step");
    EXPECT_EQ(e.task_name(), "step");
  }
  try {
    pool.submit(throw_int, 42).get();
    FAIL() << "expected RemoteError";
  } catch (const spawnpool::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "int");
    EXPECT_EQ(e.message(), "(not a std::exception)");
  }
  EXPECT_EQ(pool.submit(square, 3).get(), 9);  // the pool keeps working
}

/// submit() (and map()) of a function without SPAWNPOOL_TASK throws UnregisteredTask naming the
/// function and the macro; the pool keeps working.
template <class Pool>
void unregistered_task_is_refused_at_submit(Pool& pool) {
  try {
    (void)pool.submit(never_registered, 1);
    FAIL() << "expected UnregisteredTask";
  } catch (const spawnpool::UnregisteredTask& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("never_registered"), std::string::npos) << what;
    EXPECT_NE(what.find("SPAWNPOOL_TASK"), std::string::npos) << what;
  }
  EXPECT_THROW((void)pool.map(never_registered, std::vector<int>{1}),
               spawnpool::UnregisteredTask);
  EXPECT_EQ(pool.submit(square, 4).get(), 16);
}

/// A failed call of a map fails its own future only: the other calls of its chunk are unaffected.
template <class Pool>
void map_errors_stay_with_their_inputs(Pool& pool) {
  const std::vector<std::string> inputs = {"1", "2", "x", "4", "y"};
  auto results = pool.map(spawnpool::MapOptions{}.chunksize(2), parse, inputs);
  auto& futures = results.futures();
  EXPECT_EQ(futures[0].get(), 1);
  EXPECT_EQ(futures[1].get(), 2);
  EXPECT_THROW(futures[2].get(), spawnpool::RemoteError);
  EXPECT_EQ(futures[3].get(), 4);  // other calls of the same chunk are unaffected
  EXPECT_THROW(futures[4].get(), spawnpool::RemoteError);
}

}  // namespace executor_contract
