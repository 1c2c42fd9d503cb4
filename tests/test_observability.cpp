// Seeing long work: Executor::stats() counters and the Chrome trace-event timeline.
#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

int cube(int x) {
  if (x < 0) throw std::domain_error("negative");
  return x * x * x;
}
SPAWNPOOL_TASK(cube);

namespace {

TEST(Stats, CountsSubmittedCompletedFailedAndPerWorkerWork) {
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(2));
  std::vector<int> inputs(300);
  std::iota(inputs.begin(), inputs.end(), -10);  // 10 negative inputs fail
  auto results = pool.map(spawnpool::MapOptions{}.chunksize(7), cube, inputs);
  results.wait();
  const spawnpool::Stats s = pool.stats();
  EXPECT_EQ(s.submitted, 300u);
  EXPECT_EQ(s.completed, 290u);
  EXPECT_EQ(s.failed, 10u);
  EXPECT_EQ(s.workers_lost, 0u);
  ASSERT_EQ(s.workers.size(), 2u);
  std::uint64_t calls = 0;
  for (const auto& w : s.workers) {
    calls += w.calls;
    EXPECT_TRUE(w.alive);
    EXPECT_GE(w.busy_seconds, 0.0);
  }
  EXPECT_EQ(calls, 300u);
}

TEST(Trace, OneCompleteEventPerTaskInValidJson) {
  const std::string path = "/tmp/spawnpool_trace_" + std::to_string(getpid()) + ".json";
  {
    spawnpool::Executor pool(spawnpool::Options{}.max_workers(2).trace_file(path));
    std::vector<int> inputs(250);
    std::iota(inputs.begin(), inputs.end(), 0);
    EXPECT_EQ(pool.map(spawnpool::MapOptions{}.chunksize(10), cube, inputs).get().size(), 250u);
    EXPECT_THROW(pool.submit(cube, -1).get(), spawnpool::RemoteError);
  }  // the trace is written at shutdown
  // Validate with Python's json module: it must parse, and hold one "X" event per call.
  const std::string check =
      "/usr/bin/python3 -c \"import json,sys; d=json.load(open(sys.argv[1])); "
      "x=[e for e in d['traceEvents'] if e['ph']=='X']; "
      "assert len(x)==251, len(x); "
      "assert all(e['name']=='cube' and e['dur']>=0 and e['tid'] in (1,2) for e in x); "
      "assert sum(e['cat']=='failed' for e in x)==1; "
      "assert len([e for e in d['traceEvents'] if e['ph']=='M'])==3\" " + path;
  EXPECT_EQ(std::system(check.c_str()), 0) << "trace file " << path << " is not as expected";
  std::remove(path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
