// The Chrome trace-event timeline (Options::trace_file, SPAWNPOOL_TRACE): every executor of the
// program in one file, written as events happen.
//
// The file is the trace format's JSON array, one event per line:
//   [
//   {"name":"process_name","ph":"M","pid":1,...},
//   {"name":"cube","cat":"task","ph":"X","pid":1,"tid":2,"ts":...,"dur":...},
//   ]                                   <- no comma before it: the last event has none
// Each batch of events is written with one pwrite() at the offset of the closing "\n]\n", which it
// writes again after its events, so the file is a complete JSON array after every batch: a
// program killed between two batches leaves valid JSON, and one killed inside a write leaves a
// partial last line, which Perfetto and chrome://tracing tolerate (the array's closing bracket is
// optional in that format).
//
// Numbers: each executor is a process ("pid") and each of its workers a thread ("tid"), all drawn
// from one sequence per file (1, 2, ...), because Perfetto takes a JSON tid for a system-wide
// thread id: two executors' "tid 1" would be one thread to it, hopping between processes. Names
// say who is who: "spawnpool executor 2 (...)", "worker 3 (host, pid 4711)"; each call's args
// carry its worker's id too.
#include "task_observer.hpp"

#include "environment.hpp"
#include "log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>

namespace spawnpool::detail {

namespace {

/// `text` as a JSON string. Control characters other than \b \f \n \r \t (and DEL) become '?':
/// Perfetto's JSON reader rejects the whole file at a \u escape or a raw control character.
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
    }
  }
  return out + "\"";
}

/// One trace file of this program, shared by the executors that name it.
class TraceFile {
 public:
  /// The file at `path`: created (emptied) the first time this program names it, shared after;
  /// started anew when the file there was removed or replaced meanwhile. Null when it cannot be
  /// created (logged).
  static std::shared_ptr<TraceFile> open(const std::string& path) {
    // Leaked on purpose: an executor may end during static destruction.
    static auto* mutex = new std::mutex;
    static auto* files = new std::map<std::string, std::shared_ptr<TraceFile>>;
    std::lock_guard<std::mutex> lock(*mutex);
    auto& file = (*files)[path];
    if (file && file->still_at(path)) return file;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      log().error("cannot write the trace file {}: {}", path, std::strerror(errno));
      file.reset();
      return nullptr;
    }
    file = std::make_shared<TraceFile>(fd, path);
    return file;
  }

  TraceFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
    std::lock_guard<std::mutex> lock(mutex_);
    write_at("[\n]\n", 0);
    end_ = 1;  // events go after the "["
  }
  ~TraceFile() { ::close(fd_); }
  TraceFile(const TraceFile&) = delete;
  TraceFile& operator=(const TraceFile&) = delete;

  /// The next executor's number in this file: 1, 2, ...
  int next_executor() {
    std::lock_guard<std::mutex> lock(mutex_);
    return ++executors_;
  }
  /// A number for a process or thread, unique in this file: 1, 2, ...
  int next_track() {
    std::lock_guard<std::mutex> lock(mutex_);
    return ++tracks_;
  }

  /// Appends `events` (one or more events separated by ",\n") with one write.
  void append(const std::string& events) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string chunk = empty_ ? "\n" : ",\n";
    chunk.reserve(chunk.size() + events.size() + 3);
    chunk += events;
    const std::size_t length = chunk.size();
    chunk += "\n]\n";
    if (!write_at(chunk, end_)) return;
    end_ += static_cast<off_t>(length);
    empty_ = false;
  }

 private:
  bool still_at(const std::string& path) const {
    struct stat there {}, ours {};
    return ::stat(path.c_str(), &there) == 0 && ::fstat(fd_, &ours) == 0 &&
           there.st_dev == ours.st_dev && there.st_ino == ours.st_ino;
  }

  bool write_at(const std::string& bytes, off_t offset) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done,
                                 offset + static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (!failed_) {
          log().error("cannot write the trace file {}: {}", path_,
                      n < 0 ? std::strerror(errno) : "nothing written");
        }
        failed_ = true;
        return false;
      }
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  const int fd_;
  const std::string path_;
  std::mutex mutex_;  // guards what follows, and orders the writes
  off_t end_ = 0;     // where the closing "\n]\n" starts
  bool empty_ = true;
  bool failed_ = false;  // a write failed: said once
  int executors_ = 0;
  int tracks_ = 0;
};

std::uint64_t wall_clock_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

/// One executor's events in a trace file: a process (pid) of its own, a thread (tid) per worker.
class ChromeTrace final : public TaskObserver {
 public:
  ChromeTrace(std::shared_ptr<TraceFile> file, Mode mode)
      : file_(std::move(file)), executor_(file_->next_executor()), pid_(file_->next_track()) {
    const std::string name = "spawnpool executor " + std::to_string(executor_) + " (" +
                             to_string(mode) + " pool, manager pid " +
                             std::to_string(static_cast<long>(getpid())) + ", host " +
                             host_name() + ")";
    file_->append(metadata("process_name", pid_, "\"name\":" + json_string(name)) + ",\n" +
                  metadata("process_sort_index", pid_,
                           "\"sort_index\":" + std::to_string(executor_)));
  }

  void worker_ready(const Worker& w) override {
    const std::string name = "worker " + std::to_string(w.id) + " (" + w.host + ", pid " +
                             std::to_string(w.pid) + ")";
    const int tid = tid_of(w);
    file_->append(metadata("thread_name", tid, "\"name\":" + json_string(name)) + ",\n" +
                  metadata("thread_sort_index", tid, "\"sort_index\":" + std::to_string(w.id)));
  }

  void calls_finished(const Worker& w, const std::vector<FinishedCall>& calls) override {
    // One complete ("X") event per call, on its worker's track.
    std::string events;
    events.reserve(calls.size() * 140);
    const std::string track = where(tid_of(w));
    const std::string worker = std::to_string(w.id);
    for (const FinishedCall& c : calls) {
      if (!events.empty()) events += ",\n";
      events += "{\"name\":" + json_string(c.task_name) +
                ",\"cat\":" + (c.ok ? "\"task\"" : "\"failed\"") + ",\"ph\":\"X\"," + track +
                ",\"ts\":" + std::to_string(c.started_us) + ",\"dur\":" +
                std::to_string(c.ended_us >= c.started_us ? c.ended_us - c.started_us : 0) +
                ",\"args\":{\"call\":" + std::to_string(c.call_id) + ",\"worker\":" + worker +
                "}}";
    }
    if (!events.empty()) file_->append(events);
  }

  void worker_lost(const Worker& w, const std::string& cause) override {
    // An instant event on the worker's track, at the manager's clock.
    file_->append("{\"name\":\"worker lost\",\"cat\":\"worker\",\"ph\":\"i\",\"s\":\"t\"," +
                  where(tid_of(w)) + ",\"ts\":" + std::to_string(wall_clock_us()) +
                  ",\"args\":{\"worker\":" + std::to_string(w.id) +
                  ",\"cause\":" + json_string(cause) + "}}");
  }

 private:
  /// The worker's thread number in the file, drawn on first use.
  int tid_of(const Worker& w) {
    auto [it, added] = tids_.try_emplace(w.id, 0);
    if (added) it->second = file_->next_track();
    return it->second;
  }
  std::string where(int tid) const {
    return "\"pid\":" + std::to_string(pid_) + ",\"tid\":" + std::to_string(tid);
  }
  std::string metadata(const char* name, int tid, const std::string& args) const {
    return std::string("{\"name\":\"") + name + "\",\"ph\":\"M\"," + where(tid) + ",\"args\":{" +
           args + "}}";
  }

  std::shared_ptr<TraceFile> file_;
  const int executor_;  // 1, 2, ... in the file, for its name
  const int pid_;
  std::map<int, int> tids_;  // worker id -> thread number
};

}  // namespace

std::unique_ptr<TaskObserver> make_chrome_trace(const std::string& path, Mode mode) {
  std::shared_ptr<TraceFile> file = TraceFile::open(path);
  if (!file) return nullptr;
  return std::make_unique<ChromeTrace>(std::move(file), mode);
}

}  // namespace spawnpool::detail
