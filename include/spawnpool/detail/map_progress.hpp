#pragma once
// The opt-in progress line of a map (MapOptions::progress): one line on stderr, rewritten in place
// with '\r' as calls complete, at most ten times a second, ended by a newline when the last call
// completes. Only when stderr is a terminal; otherwise nothing is ever written.

#include <spawnpool/detail/task_state.hpp>
#include <spawnpool/detail/terminal.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace spawnpool::detail {

/// The text of a progress line, e.g. "map calc_primes: 523/1000 done, 0 failed, 2.1 s".
/// `done` counts every completed call, failed (or cancelled) ones included.
inline std::string format_map_progress(const std::string& task, std::size_t done,
                                       std::size_t failed, std::size_t total, double seconds) {
  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, "%.1f s", seconds);
  return "map " + task + ": " + std::to_string(done) + "/" + std::to_string(total) + " done, " +
         std::to_string(failed) + " failed, " + elapsed;
}

/// Counts the completions of a map's calls and draws the line. Shared by the completion callbacks
/// (which run on the completing thread: the progress thread or a worker thread); drawing is
/// throttled and a draw that would wait for another one is skipped, except the final one.
class MapProgress {
 public:
  static constexpr std::chrono::milliseconds kMinInterval{100};

  MapProgress(std::FILE* out, std::string task, std::size_t total)
      : out_(out), task_(std::move(task)), total_(total),
        start_(std::chrono::steady_clock::now()) {}

  /// Watches `states` and draws on `out`, or does nothing (returns nullptr) when `out` is not a
  /// terminal or there is nothing to watch.
  static std::shared_ptr<MapProgress> watch_if_terminal(
      const std::vector<std::shared_ptr<TaskState>>& states, std::FILE* out = stderr) {
    const bool terminal =
        fileno(out) == STDERR_FILENO ? stderr_is_terminal() : isatty(fileno(out)) == 1;
    if (states.empty() || !terminal) return nullptr;
    return watch(states, out);
  }

  /// Watches `states` and draws on `out`, terminal or not (for tests).
  static std::shared_ptr<MapProgress> watch(const std::vector<std::shared_ptr<TaskState>>& states,
                                            std::FILE* out) {
    auto progress = std::make_shared<MapProgress>(out, states.front()->task_name(), states.size());
    for (const auto& state : states) {
      TaskState* raw = state.get();  // the state runs its own callbacks, so it is alive then
      state->on_complete([progress, raw] { progress->completed(failed(*raw)); });
    }
    return progress;
  }

  /// Lines drawn so far (the final one included).
  std::size_t draws() const noexcept { return draws_.load(); }

  void completed(bool failed) {
    if (failed) failed_.fetch_add(1);
    const std::size_t done = done_.fetch_add(1) + 1;
    const auto now = std::chrono::steady_clock::now();
    if (done == total_) {
      std::lock_guard<std::mutex> lock(draw_mutex_);
      draw(done, now, "\n");
      return;
    }
    std::unique_lock<std::mutex> lock(draw_mutex_, std::try_to_lock);
    if (!lock.owns_lock() || finished_) return;
    if (draws_.load() > 0 && now - last_draw_ < kMinInterval) return;
    draw(done, now, "");
  }

 private:
  static bool failed(const TaskState& state) {
    try {
      state.result();
      return false;
    } catch (...) {
      return true;
    }
  }

  void draw(std::size_t done, std::chrono::steady_clock::time_point now, const char* end) {
    if (finished_) return;
    if (*end != '\0') finished_ = true;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const std::string line = format_map_progress(task_, done, failed_.load(), total_, seconds);
    std::fprintf(out_, "\r%s%s", line.c_str(), end);
    std::fflush(out_);
    last_draw_ = now;
    draws_.fetch_add(1);
  }

  std::FILE* out_;
  const std::string task_;
  const std::size_t total_;
  const std::chrono::steady_clock::time_point start_;
  std::atomic<std::size_t> done_{0};
  std::atomic<std::size_t> failed_{0};
  std::atomic<std::size_t> draws_{0};
  std::mutex draw_mutex_;
  std::chrono::steady_clock::time_point last_draw_;
  bool finished_ = false;
};

}  // namespace spawnpool::detail
