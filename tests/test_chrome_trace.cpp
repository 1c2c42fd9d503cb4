// The Chrome trace file without MPI: executors that name the same file share it, each a process of
// its own, and the file is a complete JSON array after every write.
#include "src/task_observer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace sd = spawnpool::detail;

namespace {

std::string temp_path(const char* what) {
  return "/tmp/spawnpool_chrome_trace_" + std::string(what) + "_" + std::to_string(getpid()) +
         ".json";
}

/// Runs `checks` in Python with `events` (the file, parsed strictly as JSON) in scope.
bool python_accepts(const std::string& path, const std::string& checks) {
  const std::string script = path + ".py";
  {
    std::ofstream out(script);
    out << "import json, sys\nevents = json.load(open(sys.argv[1]))\nassert isinstance(events, list)\n"
        << checks << "\n";
  }
  const int status = std::system(("/usr/bin/python3 " + script + " " + path).c_str());
  std::remove(script.c_str());
  return status == 0;
}

sd::Worker worker(int id, long pid) {
  sd::Worker w;
  w.id = id;
  w.pid = pid;
  w.host = "node\"17\"";  // quotes must be escaped
  return w;
}

TEST(ChromeTrace, ExecutorsShareTheFileAndItIsValidJsonAfterEveryWrite) {
  const std::string path = temp_path("shared");
  auto first = sd::make_chrome_trace(path, spawnpool::Mode::spawn);
  ASSERT_TRUE(first);
  EXPECT_TRUE(python_accepts(path, "assert len(events) == 2, events"));  // process name, sort index
  const sd::Worker w1 = worker(1, 101);
  first->worker_ready(w1);
  first->calls_finished(w1, {sd::FinishedCall{1, 1000, 1500, true, "cube"},
                             sd::FinishedCall{2, 1500, 1600, false, "cube"}});
  EXPECT_TRUE(python_accepts(path, "assert sum(e['ph'] == 'X' for e in events) == 2"));
  auto second = sd::make_chrome_trace(path, spawnpool::Mode::static_world);  // at once
  ASSERT_TRUE(second);
  const sd::Worker w2 = worker(2, 202);
  second->worker_ready(w2);
  second->calls_finished(w2, {sd::FinishedCall{1, 2000, 2100, true, "square"}});
  first->worker_lost(w1, "killed by signal 9 (SIGKILL)");
  first.reset();
  auto third = sd::make_chrome_trace(path, spawnpool::Mode::spawn);  // after the first ended
  third->worker_ready(w1);
  third->calls_finished(w1, {sd::FinishedCall{1, 3000, 3100, true, "cube"}});
  EXPECT_TRUE(python_accepts(
      path,
      // executor number (from its name) by pid; worker name by tid
      "procs = {e['pid']: e['args']['name'] for e in events if e['name'] == 'process_name'}\n"
      "executor = {p: int(n.split()[2]) for p, n in procs.items()}\n"
      "assert sorted(executor.values()) == [1, 2, 3], procs\n"
      "assert all('static pool' in n for n in procs.values() if ' 2 (' in n), procs\n"
      "threads = {e['tid']: e['args']['name'] for e in events if e['name'] == 'thread_name'}\n"
      "assert len(threads) == 3, threads\n"
      "assert not set(threads) & set(procs), (threads, procs)\n"
      "assert all(n.startswith('worker ') for n in threads.values())\n"
      "assert 'worker 1 (node\"17\", pid 101)' in threads.values(), threads\n"
      "x = [(executor[e['pid']], threads[e['tid']].split(' (')[0], e['args']['worker'], e['name'], "
      "e['cat'], e['dur']) for e in events if e['ph'] == 'X']\n"
      "assert x == [(1, 'worker 1', 1, 'cube', 'task', 500), (1, 'worker 1', 1, 'cube', 'failed', 100), "
      "(2, 'worker 2', 2, 'square', 'task', 100), (3, 'worker 1', 1, 'cube', 'task', 100)], x\n"
      "lost = [e for e in events if e['ph'] == 'i']\n"
      "assert len(lost) == 1 and executor[lost[0]['pid']] == 1, lost\n"
      "assert threads[lost[0]['tid']].startswith('worker 1 '), lost\n"
      "assert 'SIGKILL' in lost[0]['args']['cause']\n"));
  std::remove(path.c_str());
}

TEST(ChromeTrace, AFileRemovedMeanwhileIsStartedAnew) {
  const std::string path = temp_path("removed");
  {
    auto trace = sd::make_chrome_trace(path, spawnpool::Mode::spawn);
    const sd::Worker w = worker(1, 101);
    trace->calls_finished(w, {sd::FinishedCall{1, 1000, 1500, true, "cube"}});
  }
  std::remove(path.c_str());
  auto trace = sd::make_chrome_trace(path, spawnpool::Mode::spawn);
  ASSERT_TRUE(trace);
  EXPECT_TRUE(python_accepts(
      path, "assert [e['args']['name'].split(' (')[0] for e in events if e['name'] == "
            "'process_name'] == ['spawnpool executor 1'], events"));
  std::remove(path.c_str());
}

// Perfetto's reader gives up on a whole file at a \u escape or a raw control character.
TEST(ChromeTrace, NamesNeedNoUnicodeEscapes) {
  const std::string path = temp_path("names");
  {
    auto trace = sd::make_chrome_trace(path, spawnpool::Mode::spawn);
    const sd::Worker w = worker(1, 101);
    trace->calls_finished(w, {sd::FinishedCall{1, 1000, 1500, true, "a\tb\nc\x01" "d\x7f" "\\e\"f"}});
  }
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("\\u"), std::string::npos) << text;
  EXPECT_TRUE(python_accepts(
      path, "x = [e['name'] for e in events if e['ph'] == 'X']\n"
            "assert x == ['a\\tb\\nc?d?\\\\e\"f'], x\n"));
  std::remove(path.c_str());
}

TEST(ChromeTrace, AnUnwritableFileMeansNoTrace) {
  EXPECT_FALSE(sd::make_chrome_trace("/nonexistent-dir/trace.json", spawnpool::Mode::spawn));
}

}  // namespace
