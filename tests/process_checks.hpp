// Whether a process a test caused has gone away, read from /proc; for the tests that check that
// no process outlives what started it.
#pragma once

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

namespace test_processes {

/// True once process `pid` is gone (or a zombie waiting for its parent), within `limit`.
inline bool ends_within(long pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    const auto close = line.rfind(')');
    const bool zombie =
        close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
    if (zombie) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace test_processes
