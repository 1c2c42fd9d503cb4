#include "worker_roster.hpp"

#include "wire.hpp"

#include <algorithm>

namespace spawnpool::detail {

std::string Worker::describe() const {
  return "worker " + std::to_string(id) + " (pid " + std::to_string(pid) + ", host " + host + ")";
}

std::size_t WorkerRoster::add(Worker worker) {
  std::lock_guard<std::mutex> lock(mutex_);
  workers_.push_back(std::move(worker));
  return workers_.size() - 1;
}

std::size_t WorkerRoster::index_of(std::size_t link, int rank) const {
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i].link == link && workers_[i].rank == rank) return i;
  }
  throw wire::ProtocolError("spawnpool: message from rank " + std::to_string(rank) +
                            ", which is not a worker of this pool");
}

void WorkerRoster::set_ready(Worker& worker, const Ready& ready, const std::string& manager_host) {
  std::lock_guard<std::mutex> lock(mutex_);
  worker.pid = static_cast<long>(ready.pid);
  worker.host = ready.host;
  worker.same_host = ready.host == manager_host;
  worker.state = WorkerState::kReady;
  worker.last_heard = std::chrono::steady_clock::now();
}

bool WorkerRoster::set_lost(Worker& worker) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (worker.state == WorkerState::kLost || worker.state == WorkerState::kLeft) return false;
  worker.state = WorkerState::kLost;
  ++workers_lost_;
  if (!worker.sent.empty()) failed_ += calls_held(worker.sent.front().calls);
  return true;
}

void WorkerRoster::set_left(Worker& worker) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (worker.state == WorkerState::kReady) worker.state = WorkerState::kLeft;
}

void WorkerRoster::count_answers(Worker& worker, std::uint64_t calls, std::uint64_t ok,
                                 std::uint64_t busy_ns) {
  std::lock_guard<std::mutex> lock(mutex_);
  worker.calls_answered += calls;
  worker.busy_ns += busy_ns;
  completed_ += ok;
  failed_ += calls - ok;
}

void WorkerRoster::count_failed(std::uint64_t calls) {
  std::lock_guard<std::mutex> lock(mutex_);
  failed_ += calls;
}

void WorkerRoster::count_cancelled(std::uint64_t calls) {
  std::lock_guard<std::mutex> lock(mutex_);
  cancelled_ += calls;
}

void WorkerRoster::count_not_replaced() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++not_replaced_;
}

bool WorkerRoster::add_lost_host(const std::string& host) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (std::find(lost_hosts_.begin(), lost_hosts_.end(), host) != lost_hosts_.end()) return false;
  lost_hosts_.push_back(host);
  return true;
}

int WorkerRoster::live() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(std::count_if(workers_.begin(), workers_.end(), [](const Worker& w) {
    return w.state == WorkerState::kReady || w.state == WorkerState::kLeft;
  }));
}

std::vector<WorkerInfo> WorkerRoster::infos() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<WorkerInfo> infos;
  for (const Worker& w : workers_) {
    if (w.state == WorkerState::kReady) infos.push_back(WorkerInfo{w.id, w.rank, w.host, w.pid});
  }
  return infos;
}

Stats WorkerRoster::stats(const std::atomic<std::uint64_t>& submitted) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Stats s;
  s.submitted = submitted.load();
  s.completed = completed_;
  s.failed = failed_;
  s.cancelled = cancelled_;
  s.workers_lost = workers_lost_;
  s.workers_not_replaced = not_replaced_;
  s.lost_hosts = lost_hosts_;
  for (const Worker& w : workers_) {
    if (w.state == WorkerState::kStarting) continue;
    s.workers.push_back(WorkerStats{w.id, w.rank, w.host, w.pid, w.state != WorkerState::kLost,
                                    w.calls_answered, static_cast<double>(w.busy_ns) * 1e-9});
  }
  return s;
}

}  // namespace spawnpool::detail
