#include "worker_health.hpp"

#include "process_check.hpp"

#include <spawnpool/detail/seconds_text.hpp>

#include <algorithm>

namespace spawnpool::detail {

WorkerHealth::WorkerHealth(std::chrono::milliseconds heartbeat_timeout,
                           std::chrono::milliseconds task_timeout)
    : heartbeat_timeout_(heartbeat_timeout),
      task_timeout_(task_timeout),
      next_heartbeat_(clock::now() + kHeartbeatInterval),
      next_check_(clock::now() + kCheckInterval) {}

bool WorkerHealth::heartbeat_due(clock::time_point now) {
  if (now < next_heartbeat_) return false;
  next_heartbeat_ = now + kHeartbeatInterval;
  return true;
}

bool WorkerHealth::check_due(clock::time_point now) {
  if (now < next_check_) return false;
  next_check_ = now + kCheckInterval;
  return true;
}

WorkerHealth::Verdict WorkerHealth::examine(const Worker& w, bool watched, clock::time_point heard,
                                            bool busy_is_silent, clock::time_point now) const {
  if (w.state != WorkerState::kReady) return Verdict::kAlive;
  const auto overran = [&](std::chrono::milliseconds grace) {
    if (task_timeout_.count() <= 0 || w.sent.empty()) return false;
    const auto calls = static_cast<long>(w.sent.front().calls.size());
    return now - w.front_started > task_timeout_ * std::max(calls, 1L) + grace;
  };
  if (w.same_host && process_gone(w.pid)) {
    // Gone past its task's timeout: its sentinel ended it for that, and its report did not get
    // through (a busy MPI on a loaded host may hold it past the sentinel's 1 s): a Timeout still.
    return overran(std::chrono::milliseconds(0)) ? Verdict::kOverdue : Verdict::kProcessGone;
  }
  // Silent too: a worker whose sentinel runs ends the task itself, and keeps talking meanwhile
  // (large arguments or results on the way, a long first call).
  if (now - w.last_heard > kOverdueGrace && overran(kOverdueGrace)) return Verdict::kOverdue;
  // A busy worker may be silent where its serve loop sends the heartbeats, but not a stopped one.
  if (watched && now - heard > heartbeat_timeout_ &&
      (!(busy_is_silent && !w.sent.empty()) || (w.same_host && process_stopped(w.pid)))) {
    return Verdict::kSilent;
  }
  return Verdict::kAlive;
}

namespace {

std::string stopped_note(const Worker& worker) {
  return worker.same_host && process_stopped(worker.pid)
             ? " (its process is stopped: SIGSTOP, SIGTSTP or a debugger)"
             : "";
}

}  // namespace

std::string WorkerHealth::overdue_predicate(const Worker& worker) const {
  const std::string stopped = stopped_note(worker);
  return "ran longer than the task timeout (" + std::to_string(task_timeout_.count()) +
         " ms) and its worker did not end it" + (stopped.empty() ? " (it is stuck)" : stopped);
}

std::string WorkerHealth::cause(Verdict verdict, const Worker& worker) const {
  const std::string stopped = stopped_note(worker);
  switch (verdict) {
    case Verdict::kProcessGone:
      // No exit status reaches the manager: it is not the process's parent.
      return "its process ended without a report (killed by SIGKILL, the out-of-memory killer "
             "or another signal that cannot be caught, or a task called _exit or quick_exit)";
    case Verdict::kSilent:
      return "no heartbeat for " + seconds_text(heartbeat_timeout_) +
             stopped;
    case Verdict::kOverdue:
      return "the task " + overdue_predicate(worker);
    case Verdict::kAlive:
      break;
  }
  return "";
}

void WorkerHealth::note_dying(const Worker& worker, bool end_after_grace) {
  if (worker.same_host && worker.pid > 0) {
    dying_.push_back(Dying{worker.pid, clock::now(), end_after_grace});
  }
}

bool WorkerHealth::dying_processes_gone() const {
  const auto now = clock::now();
  return std::all_of(dying_.begin(), dying_.end(), [&](const Dying& d) {
    return now - d.lost_at > kDyingGrace || process_gone(d.pid);
  });
}

void WorkerHealth::end_overstaying(clock::time_point now) {
  dying_.erase(std::remove_if(dying_.begin(), dying_.end(),
                              [&](const Dying& d) {
                                if (process_gone(d.pid)) return true;
                                if (now - d.lost_at <= kDyingGrace) return false;
                                if (d.end_after_grace) end_process(d.pid);
                                return true;
                              }),
               dying_.end());
}

}  // namespace spawnpool::detail
