// Futures as task arguments and Future::then, against both executors (spawn-mode Executor with two
// workers, ThreadExecutor with two threads): a dependent task gets the input's value; a failed input
// fails it with the same error; a cancelled input cancels it; continuations in both forms.
#include "pools_for_tests.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

int add(int a, int b) { return a + b; }
SPAWNPOOL_TASK(add);

int square(int x) { return x * x; }
SPAWNPOOL_TASK(square);

double scale(double x, const std::vector<double>& factors) {
  double out = x;
  for (double f : factors) out *= f;
  return out;
}
SPAWNPOOL_TASK(scale);

int slow_value(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
SPAWNPOOL_TASK(slow_value);

int parse(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    throw std::invalid_argument("bad input");
  }
  return std::stoi(text);
}
SPAWNPOOL_TASK(parse);

template <class Pool>
class Continuations : public ::testing::Test {
 protected:
  Pool& pool() { return test_pools::get<Pool>(); }
};
TYPED_TEST_SUITE(Continuations, test_pools::Both);

TYPED_TEST(Continuations, DependentTaskGetsTheValue) {
  spawnpool::Future<int> a = this->pool().submit(square, 3);
  spawnpool::Future<int> b = this->pool().submit(add, a, 1);
  EXPECT_EQ(b.get(), 10);
  EXPECT_TRUE(a.valid());  // observed, not consumed
  EXPECT_EQ(a.get(), 9);
}

TYPED_TEST(Continuations, SeveralFutureArgumentsAndConversions) {
  spawnpool::Future<int> a = this->pool().submit(slow_value, 150);
  spawnpool::Future<int> b = this->pool().submit(square, 4);
  spawnpool::Future<int> sum = this->pool().submit(add, a, b);
  EXPECT_FALSE(sum.ready());
  EXPECT_EQ(sum.get(), 166);
  // int result -> double parameter; a plain argument next to a future; a chain of three.
  spawnpool::Future<int> c = this->pool().submit(square, 2);
  spawnpool::Future<double> d =
      this->pool().submit(scale, c, std::vector<double>{0.5, 3.0});
  spawnpool::Future<double> e = this->pool().submit(scale, d, std::vector<double>{2.0});
  EXPECT_DOUBLE_EQ(e.get(), 12.0);
}

TYPED_TEST(Continuations, AlreadyCompleteInput) {
  spawnpool::Future<int> a = this->pool().submit(square, 5);
  a.wait();
  EXPECT_EQ(this->pool().submit(add, std::move(a), 5).get(), 30);
}

TYPED_TEST(Continuations, FailedInputFailsTheDependentWithTheSameError) {
  spawnpool::Future<int> a = this->pool().submit(parse, std::string("x1"));
  spawnpool::Future<int> b = this->pool().submit(add, a, 1);
  spawnpool::Future<int> c = this->pool().submit(square, b);  // two levels down
  std::string input_what;
  try {
    a.get();
  } catch (const spawnpool::RemoteError& e) {
    input_what = e.what();
  }
  ASSERT_FALSE(input_what.empty());
  for (spawnpool::Future<int>* f : {&b, &c}) {
    try {
      f->get();
      FAIL() << "expected RemoteError";
    } catch (const spawnpool::RemoteError& e) {
      EXPECT_EQ(e.type_name(), "std::invalid_argument");
      EXPECT_EQ(e.message(), "bad input");
      EXPECT_EQ(std::string(e.what()), input_what);
    }
  }
}

TYPED_TEST(Continuations, CancelledInputCancelsTheDependent) {
  spawnpool::Future<int> slow = this->pool().submit(slow_value, 300);
  spawnpool::Future<int> waiting = this->pool().submit(add, slow, 1);  // not queued yet
  spawnpool::Future<int> dependent = this->pool().submit(square, waiting);
  EXPECT_TRUE(waiting.cancel());
  EXPECT_TRUE(dependent.ready());
  EXPECT_TRUE(dependent.cancelled());
  EXPECT_THROW(dependent.get(), spawnpool::Cancelled);
  EXPECT_EQ(slow.get(), 300);
}

TYPED_TEST(Continuations, CancelledDependentIsNotRun) {
  spawnpool::Future<int> slow = this->pool().submit(slow_value, 100);
  spawnpool::Future<int> dependent = this->pool().submit(add, slow, 1);
  EXPECT_TRUE(dependent.cancel());
  EXPECT_EQ(slow.get(), 100);
  EXPECT_THROW(dependent.get(), spawnpool::Cancelled);
}

TYPED_TEST(Continuations, InvalidFutureArgumentIsRefused) {
  spawnpool::Future<int> empty;
  EXPECT_THROW((void)this->pool().submit(add, empty, 1), spawnpool::Error);
}

TYPED_TEST(Continuations, ThenWithTheValue) {
  spawnpool::Future<int> a = this->pool().submit(square, 6);
  spawnpool::Future<std::string> text = a.then([](int x) { return std::to_string(x); });
  spawnpool::Future<std::size_t> length =
      text.then([](const std::string& s) { return s.size(); });
  EXPECT_EQ(text.get(), "36");
  EXPECT_EQ(length.get(), 2u);
  // then() runs off the executor's threads, so it may submit and wait.
  auto& pool = this->pool();
  spawnpool::Future<int> nested =
      pool.submit(square, 2).then([&pool](int x) { return pool.submit(add, x, 1).get(); });
  EXPECT_EQ(nested.get(), 5);
  // void continuation
  std::atomic<int> seen{0};
  spawnpool::Future<void> done = pool.submit(square, 3).then([&seen](int x) { seen = x; });
  done.get();
  EXPECT_EQ(seen.load(), 9);
}

TYPED_TEST(Continuations, ThenPropagatesErrorsAndCancellation) {
  spawnpool::Future<int> bad = this->pool().submit(parse, std::string(""));
  std::atomic<bool> called{false};
  spawnpool::Future<int> next = bad.then([&called](int x) {
    called = true;
    return x;
  });
  EXPECT_THROW(next.get(), spawnpool::RemoteError);
  EXPECT_FALSE(called.load());
  // The future form sees the error itself.
  spawnpool::Future<std::string> handled = this->pool().submit(parse, std::string("?")).then(
      [](spawnpool::Future<int> f) -> std::string {
        try {
          return std::to_string(f.get());
        } catch (const spawnpool::RemoteError& e) {
          return "failed: " + e.message();
        }
      });
  EXPECT_EQ(handled.get(), "failed: bad input");
  // An exception thrown by the continuation is what get() throws.
  spawnpool::Future<int> throws =
      this->pool().submit(square, 1).then([](int) -> int { throw std::out_of_range("nope"); });
  EXPECT_THROW(throws.get(), std::out_of_range);
  // Cancelled input: the continuation is cancelled.
  spawnpool::Future<int> slow = this->pool().submit(slow_value, 200);
  spawnpool::Future<int> waiting = this->pool().submit(add, slow, 1);
  spawnpool::Future<int> after = waiting.then([](int x) { return x; });
  EXPECT_TRUE(waiting.cancel());
  EXPECT_THROW(after.get(), spawnpool::Cancelled);
  EXPECT_TRUE(slow.get() == 200);
}

TYPED_TEST(Continuations, FutureOfTheOtherExecutorAsArgument) {
  spawnpool::Future<int> from_threads = test_pools::get<spawnpool::ThreadExecutor>().submit(square, 7);
  spawnpool::Future<int> from_processes = test_pools::get<spawnpool::Executor>().submit(square, 2);
  EXPECT_EQ(this->pool().submit(add, from_threads, from_processes).get(), 53);
}

TYPED_TEST(Continuations, ManyDependents) {
  spawnpool::Future<int> root = this->pool().submit(slow_value, 50);
  std::vector<spawnpool::Future<int>> leaves;
  for (int i = 0; i < 200; ++i) leaves.push_back(this->pool().submit(add, root, i));
  for (int i = 0; i < 200; ++i) EXPECT_EQ(leaves[i].get(), 50 + i);
}

TEST(Continuations, DependentOfAShutDownExecutorFailsWithBrokenExecutor) {
  spawnpool::ThreadExecutor other(spawnpool::Options{}.max_workers(1));
  spawnpool::Future<int> slow = test_pools::get<spawnpool::ThreadExecutor>().submit(slow_value, 100);
  spawnpool::Future<int> dependent = other.submit(add, slow, 1);
  other.shutdown();
  EXPECT_THROW(dependent.get(), spawnpool::BrokenExecutor);
}

}  // namespace

int main(int argc, char** argv) { return test_pools::run_all(argc, argv); }
