// Seeing long work: Executor::stats() counters, which worker did what (worker ids and pids in
// errors, workers(), stats()), and the Chrome trace-event timeline.
#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

int cube(int x) {
  if (x < 0) throw std::domain_error("negative");
  return x * x * x;
}
SPAWNPOOL_TASK(cube);

/// Throws after `ms` milliseconds, naming its own process.
int fail_after(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  throw std::runtime_error(std::to_string(getpid()));
}
SPAWNPOOL_TASK(fail_after);

long pid_of_worker() { return static_cast<long>(getpid()); }
SPAWNPOOL_TASK(pid_of_worker);

/// Sleeps `ms` milliseconds.
int nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
SPAWNPOOL_TASK(nap);

/// Ends its worker process.
int end_worker(int status) { std::_Exit(status); }
SPAWNPOOL_TASK(end_worker);

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

// A packed chunk (map of trivially copyable types) is one message but counts as the calls it holds,
// also when it is lost with its worker or cancelled before it was sent.
TEST(Stats, PackedChunksLostOrCancelledCountEachCall) {
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(1));
  EXPECT_THROW(pool.map(spawnpool::MapOptions{}.chunksize(5), end_worker, std::vector<int>(5, 3))
                   .get(),
               spawnpool::WorkerLost);
  spawnpool::Stats s = pool.stats();
  EXPECT_EQ(s.submitted, 5u);
  EXPECT_EQ(s.failed, 5u) << "the lost chunk's calls";
  // 10 chunks of 4 naps of 50 ms on one worker; the map's timeout cancels those not sent yet.
  auto naps = pool.map(spawnpool::MapOptions{}.chunksize(4).timeout(std::chrono::milliseconds(300)),
                       nap, std::vector<int>(40, 50));
  EXPECT_THROW(naps.get(), spawnpool::Timeout);
  naps.wait();
  // Cancelled calls are counted as the dispatcher passes them: a later call is sent after them.
  EXPECT_EQ(pool.submit(cube, 2).get(), 8);
  s = pool.stats();
  EXPECT_EQ(s.submitted, 46u);
  EXPECT_GT(s.cancelled, 0u);
  EXPECT_EQ(s.cancelled % 4, 0u) << "whole chunks are cancelled, each of 4 calls";
  EXPECT_EQ(s.completed + s.failed + s.cancelled, s.submitted);
}

// Every spawned worker is rank 0 of its own MPI_COMM_WORLD; the pool numbers them 1..N, and a
// RemoteError names the worker that ran the task by that number and by its pid.
TEST(WorkerIds, SpawnedWorkersHaveDistinctIdsAndTheirOwnPids) {
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(3));
  // Three slow calls at once go to three idle workers (fewest messages in flight first).
  std::vector<spawnpool::Future<int>> futures;
  for (int i = 0; i < 3; ++i) futures.push_back(pool.submit(fail_after, 300));
  std::map<int, long> pid_of_id;
  for (auto& f : futures) {
    try {
      f.get();
      ADD_FAILURE() << "expected RemoteError";
    } catch (const spawnpool::RemoteError& e) {
      const long pid = std::stol(e.message());  // the task's own getpid()
      EXPECT_EQ(e.worker_rank(), e.worker_id());
      EXPECT_EQ(e.worker_pid(), pid);
      pid_of_id[e.worker_id()] = pid;
      EXPECT_NE(std::string(e.what()).find("on worker " + std::to_string(e.worker_id()) +
                                           ", pid " + std::to_string(pid) + ", host "),
                std::string::npos)
          << e.what();
    }
  }
  ASSERT_EQ(pid_of_id.size(), 3u) << "three calls at once, on fewer than three worker ids";
  std::set<long> pids;
  for (const auto& [id, pid] : pid_of_id) {
    EXPECT_GE(id, 1);
    EXPECT_LE(id, 3);
    pids.insert(pid);
  }
  EXPECT_EQ(pids.size(), 3u);
  // workers() and stats() say the same.
  for (const spawnpool::WorkerInfo& w : pool.workers()) {
    ASSERT_EQ(pid_of_id.count(w.id), 1u) << "worker id " << w.id;
    EXPECT_EQ(pid_of_id[w.id], w.pid);
    EXPECT_EQ(w.rank, 0);  // each spawned worker's rank in its own communicator
  }
  for (const spawnpool::WorkerStats& w : pool.stats().workers) {
    ASSERT_EQ(pid_of_id.count(w.id), 1u) << "worker id " << w.id;
    EXPECT_EQ(pid_of_id[w.id], w.pid);
  }
}

// A replacement gets the next number: an id names one process for the executor's whole life.
TEST(WorkerIds, AReplacementGetsANewId) {
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(2));
  std::set<int> before;
  for (const spawnpool::WorkerInfo& w : pool.workers()) before.insert(w.id);
  EXPECT_EQ(before, (std::set<int>{1, 2}));
  EXPECT_THROW(pool.submit(end_worker, 3).get(), spawnpool::WorkerLost);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (pool.num_workers() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(pool.num_workers(), 2) << "no replacement within 60 s";
  std::set<int> after;
  for (const spawnpool::WorkerInfo& w : pool.workers()) after.insert(w.id);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after.count(3), 1u) << "the replacement is worker 3";
  EXPECT_EQ(*after.begin() == 1 || *after.begin() == 2, true);
  // stats() keeps the lost worker under its own id.
  std::map<int, bool> alive;
  for (const spawnpool::WorkerStats& w : pool.stats().workers) alive[w.id] = w.alive;
  EXPECT_EQ(alive.size(), 3u);
  EXPECT_TRUE(alive[3]);
  // The replacement serves as worker 3, with its own pid.
  for (int i = 0; i < 20; ++i) pool.submit(pid_of_worker).get();
}

/// Checks the trace file at `path` with Python's json module: `checks` runs with `events` (the
/// file's events, parsed strictly) in scope.
void expect_trace(const std::string& path, const std::string& checks) {
  const std::string script = "/tmp/spawnpool_trace_check_" + std::to_string(getpid()) + ".py";
  {
    std::ofstream out(script);
    out << "import json, sys\n"
           "events = json.load(open(sys.argv[1]))\n"
           "assert isinstance(events, list), 'not the JSON array format'\n"
        << checks << "\n";
  }
  const std::string command = "/usr/bin/python3 " + script + " " + path;
  EXPECT_EQ(std::system(command.c_str()), 0) << "trace file " << path << " is not as expected";
  std::remove(script.c_str());
}

TEST(Trace, OneCompleteEventPerTaskInValidJson) {
  const std::string path = "/tmp/spawnpool_trace_" + std::to_string(getpid()) + ".json";
  {
    spawnpool::Executor pool(spawnpool::Options{}.max_workers(2).trace_file(path));
    std::vector<int> inputs(250);
    std::iota(inputs.begin(), inputs.end(), 0);
    EXPECT_EQ(pool.map(spawnpool::MapOptions{}.chunksize(10), cube, inputs).get().size(), 250u);
    EXPECT_THROW(pool.submit(cube, -1).get(), spawnpool::RemoteError);
  }
  // One "X" event per call, on the thread (tid) named after the worker that ran it; one process
  // with a name.
  expect_trace(path,
               "x = [e for e in events if e['ph'] == 'X']\n"
               "assert len(x) == 251, len(x)\n"
               "assert all(e['name'] == 'cube' and e['dur'] >= 0 for e in x)\n"
               "assert sum(e['cat'] == 'failed' for e in x) == 1\n"
               "m = [e for e in events if e['ph'] == 'M']\n"
               "assert sum(e['name'] == 'process_name' for e in m) == 1, m\n"
               "names = {e['tid']: e['args']['name'] for e in m if e['name'] == 'thread_name'}\n"
               "assert sorted(n.split(' (')[0] for n in names.values()) == ['worker 1', 'worker 2'], names\n"
               "assert all(names[e['tid']].startswith('worker %d (' % e['args']['worker']) for e in x)\n"
               "assert len({e['pid'] for e in events}) == 1\n");
  std::remove(path.c_str());
}

// One file holds every executor of the program, each its own process track: two in sequence, then
// two at once.
TEST(Trace, OneFileHoldsEveryExecutor) {
  const std::string path = "/tmp/spawnpool_trace_all_" + std::to_string(getpid()) + ".json";
  std::vector<int> inputs(40);
  std::iota(inputs.begin(), inputs.end(), 0);
  for (int round = 0; round < 2; ++round) {
    spawnpool::Executor pool(spawnpool::Options{}.max_workers(1).trace_file(path));
    EXPECT_EQ(pool.map(cube, std::vector<int>(inputs.begin(), inputs.begin() + 10 + round)).get().size(),
              static_cast<std::size_t>(10 + round));
  }
  {
    spawnpool::Executor a(spawnpool::Options{}.max_workers(2).trace_file(path));
    spawnpool::Executor b(spawnpool::Options{}.max_workers(1).trace_file(path));
    auto from_a = a.map(spawnpool::MapOptions{}.chunksize(1), cube, inputs);
    auto from_b = b.map(spawnpool::MapOptions{}.chunksize(1), cube,
                        std::vector<int>(inputs.begin(), inputs.begin() + 30));
    EXPECT_EQ(from_a.get().size(), 40u);
    EXPECT_EQ(from_b.get().size(), 30u);
  }
  // Four processes, each named once, with 10, 11, 40 and 30 calls.
  expect_trace(path,
               "procs = [e for e in events if e['ph'] == 'M' and e['name'] == 'process_name']\n"
               "pids = [e['pid'] for e in procs]\n"
               "assert len(pids) == 4 and len(set(pids)) == 4, procs\n"
               "assert all('pool' in e['args']['name'] for e in procs), procs\n"
               "counts = sorted(sum(1 for e in events if e['ph'] == 'X' and e['pid'] == p) "
               "for p in pids)\n"
               "assert counts == [10, 11, 30, 40], counts\n"
               "threads = [e for e in events if e['ph'] == 'M' and e['name'] == 'thread_name']\n"
               "assert sorted(len([t for t in threads if t['pid'] == p]) for p in pids) == "
               "[1, 1, 1, 2], threads\n"
               // Perfetto takes a tid for a system-wide thread: no two workers, and no worker and
               // executor, share a number.
               "tids = [t['tid'] for t in threads]\n"
               "assert len(set(tids)) == len(tids) and not set(tids) & set(pids), (tids, pids)\n");
  std::remove(path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
