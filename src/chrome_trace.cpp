// The Chrome trace-event timeline of a pool (Options::trace_file, SPAWNPOOL_TRACE).
#include "task_observer.hpp"

#include "log.hpp"

#include <cstdio>
#include <fstream>
#include <vector>

namespace spawnpool::detail {

namespace {

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

class ChromeTrace final : public TaskObserver {
 public:
  explicit ChromeTrace(std::string path) : path_(std::move(path)) {}

  void call_finished(FinishedCall call) override { calls_.push_back(std::move(call)); }

  void pool_ended(Mode mode, const WorkerRoster& workers) override {
    std::ofstream out(path_);
    if (!out) {
      log().error("cannot write the trace file {}", path_);
      return;
    }
    // One complete ("X") event per call; one track (tid) per worker.
    out << "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
    out << "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":"
        << json_string(std::string("spawnpool ") + to_string(mode) + " pool") << "}}";
    for (std::size_t i = 0; i < workers.size(); ++i) {
      const Worker& w = workers[i];
      out << ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":" << i + 1
          << ",\"args\":{\"name\":"
          << json_string("worker " + std::to_string(w.rank) + " (" + w.host + ", pid " +
                         std::to_string(w.pid) + ")" +
                         (w.state == WorkerState::kLost ? " lost" : ""))
          << "}}";
    }
    for (const FinishedCall& e : calls_) {
      out << ",\n{\"name\":" << json_string(e.state->task_name())
          << ",\"cat\":" << (e.ok ? "\"task\"" : "\"failed\"") << ",\"ph\":\"X\",\"pid\":1,\"tid\":"
          << e.worker + 1 << ",\"ts\":" << e.started_us
          << ",\"dur\":" << (e.ended_us >= e.started_us ? e.ended_us - e.started_us : 0)
          << ",\"args\":{\"call\":" << e.call_id << "}}";
    }
    out << "\n]}\n";
  }

 private:
  std::string path_;
  std::vector<FinishedCall> calls_;
};

}  // namespace

std::unique_ptr<TaskObserver> make_chrome_trace(std::string path) {
  return std::make_unique<ChromeTrace>(std::move(path));
}

}  // namespace spawnpool::detail
