// The two executors the feature tests run against, created once per test binary by main():
// a spawn-mode Executor with two worker processes and a ThreadExecutor with two threads.
#pragma once
#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>

#include <memory>

namespace test_pools {

inline std::unique_ptr<spawnpool::Executor>& executor() {
  static std::unique_ptr<spawnpool::Executor> pool;
  return pool;
}
inline std::unique_ptr<spawnpool::ThreadExecutor>& threads() {
  static std::unique_ptr<spawnpool::ThreadExecutor> pool;
  return pool;
}

template <class Pool>
Pool& get();
template <>
inline spawnpool::Executor& get<spawnpool::Executor>() { return *executor(); }
template <>
inline spawnpool::ThreadExecutor& get<spawnpool::ThreadExecutor>() { return *threads(); }

using Both = ::testing::Types<spawnpool::ThreadExecutor, spawnpool::Executor>;

/// main() of a feature test: Runtime first (worker processes serve inside it and exit), then the
/// pools, the tests, and the pools' shutdown before the Runtime ends.
inline int run_all(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  executor() = std::make_unique<spawnpool::Executor>(spawnpool::Options{}.max_workers(2));
  threads() = std::make_unique<spawnpool::ThreadExecutor>(spawnpool::Options{}.max_workers(2));
  const int status = RUN_ALL_TESTS();
  threads().reset();
  executor().reset();
  return status;
}

}  // namespace test_pools
