#include "worker_sentinel.hpp"

#include "runtime_state.hpp"

#include "control_messages.hpp"
#include "environment.hpp"
#include "forked_copy.hpp"
#include "log.hpp"
#include "one_line_reason.hpp"
#include "process_check.hpp"
#include "static_rank_heartbeats.hpp"
#include "transport.hpp"
#include "spawn/launch.hpp"
#include "wire.hpp"

#include <spawnpool/detail/seconds_text.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <initializer_list>
#include <cstring>
#include <iterator>
#include <vector>

namespace spawnpool::detail {

namespace {

// What a dying thread tells the watch thread. Written from signal handlers: plain data only.
struct DeathRecord {
  LossReport::Cause cause;
  int number;
};

int g_report_pipe[2] = {-1, -1};  // dying thread -> watch thread
int g_ack_pipe[2] = {-1, -1};     // watch thread -> dying thread: "reported, go on dying"
std::atomic<bool> g_armed{false};
bool g_shared_rank = false;  // Settings::shared_rank: the world holds the manager too
bool g_static_rank = false;  // Settings::static_rank: exit 0 after a delivered report
WorkerSentinel* g_sentinel = nullptr;  // the armed one (group_share_started)

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM};
struct sigaction g_previous_actions[std::size(kFatalSignals)];
constexpr int kReportWaitMs = 2000;

enum class Told { kNoSentinel, kNotDelivered, kDelivered };

Told tell_and_wait(DeathRecord record) {
  // A forked copy of the worker dying: it inherited the handlers, and never reports. getpid(), not
  // is_forked_copy_of_worker(): a dying process can afford it, and a raw clone is seen too.
  if (getpid() != serving_worker_pid()) return Told::kNoSentinel;
  if (!g_armed.exchange(false)) return Told::kNoSentinel;
  char ack = 0;
  if (write(g_report_pipe[1], &record, sizeof record) == sizeof record) {
    pollfd readable{g_ack_pipe[0], POLLIN, 0};
    if (poll(&readable, 1, kReportWaitMs) > 0 && read(g_ack_pipe[0], &ack, 1) != 1) ack = 0;
  }
  return ack == 1 ? Told::kDelivered : Told::kNotDelivered;
}

/// A static rank whose report reached the manager exits 0 and lets its launcher guard tell hydra
/// it ended in order. Without a delivered report it dies as it would have: the launcher then
/// ends the job, instead of a manager waiting for a rank it does not know is gone.
void leave_quietly_if_reported(Told told) {
  if (told != Told::kDelivered || !g_static_rank) return;
  permit_orderly_end();
  _exit(0);
}

void on_fatal_signal(int sig) {
  leave_quietly_if_reported(tell_and_wait(DeathRecord{LossReport::Cause::kSignal, sig}));
  signal(sig, SIG_DFL);
  raise(sig);
}

void on_process_exit(int status, void*) {
  const Told told = tell_and_wait(DeathRecord{LossReport::Cause::kExit, status});
  if (told == Told::kDelivered && g_static_rank) std::fflush(nullptr);
  leave_quietly_if_reported(told);
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool report_worker_end(LossReport::Cause cause, int number) noexcept {
  const Told told = tell_and_wait(DeathRecord{cause, number});
  if (told == Told::kDelivered && g_static_rank) permit_orderly_end();
  return told != Told::kNoSentinel;
}

int status_after_report(int status) noexcept { return g_static_rank ? 0 : status; }

bool world_is_this_worker() noexcept { return !g_shared_rank; }

void group_share_started() noexcept {
  if (g_sentinel != nullptr && !is_forked_copy_of_worker()) g_sentinel->call_started(0, "");
}

void group_share_finished() noexcept {
  if (g_sentinel != nullptr && !is_forked_copy_of_worker()) g_sentinel->call_finished();
}

WorkerSentinel::WorkerSentinel(Settings settings) : settings_(std::move(settings)) {
  task_timeout_ms_ = settings_.task_timeout.count();
  if (pipe2(g_report_pipe, O_CLOEXEC) != 0 || pipe2(g_ack_pipe, O_CLOEXEC) != 0 ||
      pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    log().error("cannot create the sentinel's pipes: {}", std::strerror(errno));
    return;
  }
  // An alternate stack, so that a stack overflow in a task is reported too.
  static std::vector<char> alternate_stack(1 << 16);
  stack_t stack{};
  stack.ss_sp = alternate_stack.data();
  stack.ss_size = alternate_stack.size();
  sigaltstack(&stack, nullptr);
  struct sigaction action {};
  action.sa_handler = on_fatal_signal;
  action.sa_flags = SA_ONSTACK | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  for (std::size_t i = 0; i < std::size(kFatalSignals); ++i) {
    sigaction(kFatalSignals[i], &action, &g_previous_actions[i]);
  }
  static bool exit_hook_installed = false;
  if (!exit_hook_installed) {
    on_exit(on_process_exit, nullptr);
    exit_hook_installed = true;
  }
  remember_serving_worker();
  g_shared_rank = settings_.shared_rank;
  g_static_rank = settings_.shared_rank && settings_.static_rank;
  g_armed = true;
  g_sentinel = this;
  thread_ = std::thread([this] { watch(); });
}

void WorkerSentinel::stop_watching() noexcept {
  stop_ = true;
  // The watch thread waits up to 0.1 s a turn: a worker told to leave would wait that long for it.
  if (wake_pipe_[1] >= 0) (void)!write(wake_pipe_[1], "", 1);
}

WorkerSentinel::~WorkerSentinel() {
  g_armed = false;
  stop_watching();
  if (thread_.joinable()) thread_.join();
  // Disarmed, so no handler writes to them any more: a communicator-mode rank that serves again
  // and again (a long-lived application) would otherwise keep 4 descriptors more each time.
  for (int* pipe_ends : {g_report_pipe, g_ack_pipe, wake_pipe_}) {
    for (int i = 0; i < 2; ++i) {
      if (pipe_ends[i] >= 0) close(pipe_ends[i]);
      pipe_ends[i] = -1;
    }
  }
  g_sentinel = nullptr;
  // The program's own handlers again (a communicator-mode rank goes back to the caller's code).
  for (std::size_t i = 0; i < std::size(kFatalSignals); ++i) {
    sigaction(kFatalSignals[i], &g_previous_actions[i], nullptr);
  }
}

void WorkerSentinel::call_started(std::uint64_t call_id, std::string_view task_name) {
  {
    std::lock_guard<std::mutex> lock(task_mutex_);
    task_name_.assign(task_name);
  }
  call_id_ = call_id;
  call_started_ns_ = now_ns();
}

void WorkerSentinel::call_finished() { call_started_ns_ = 0; }

void WorkerSentinel::set_sessions(std::vector<int> session_tags) {
  std::lock_guard<std::mutex> lock(task_mutex_);
  sessions_ = std::move(session_tags);
}

bool WorkerSentinel::report_and_release(LossReport::Cause cause, long number) {
  LossReport report;
  report.cause = cause;
  report.number = number;
  std::vector<int> sessions;
  {
    std::lock_guard<std::mutex> lock(task_mutex_);
    if (call_started_ns_.load()) {
      report.task_name = task_name_;
      report.call_id = call_id_.load();
    }
    sessions = sessions_;
  }
  char delivered = 0;
  try {
    Transport control(settings_.control);
    if (!settings_.shared_rank) {
      send_loss_report(control, 0, report);
    } else {
      // Every executor this rank serves loses it; only the one whose call ran learns which call.
      const int running = running_session_.load();
      for (int tag : sessions) {
        LossReport to_session = report;
        if (tag != running) {
          to_session.call_id = 0;
          to_session.task_name.clear();
        }
        send_loss_report(control, 0, to_session, tag);
      }
    }
    const bool any = !settings_.shared_rank || !sessions.empty();
    delivered = control.flush_sends(std::chrono::seconds(1)) && any ? 1 : 0;
  } catch (const std::exception& e) {
    log().error("could not report its end: {}", one_line_reason(e));
    log().debug("could not report its end: {}", e.what());
  }
  (void)!write(g_ack_pipe[1], &delivered, 1);
  return delivered == 1;
}

void WorkerSentinel::end_past_timeout() {
  g_armed = false;  // a crash from now on is not reported again
  const bool delivered =
      report_and_release(LossReport::Cause::kTimeout, static_cast<long>(task_timeout_ms_.load()));
  if (delivered && g_static_rank) {
    // As a static rank that died in a task: the job goes on without this rank (see above).
    std::fflush(nullptr);
    permit_orderly_end();
    _exit(0);
  }
  _exit(124);
}

bool WorkerSentinel::past_timeout() const noexcept {
  const std::int64_t started = call_started_ns_.load();
  const std::int64_t timeout_ms = task_timeout_ms_.load();
  return timeout_ms > 0 && started != 0 && now_ns() - started > timeout_ms * 1'000'000;
}

void WorkerSentinel::watch() {
  using clock = std::chrono::steady_clock;
  const bool manager_here = settings_.manager_host == host_name();
  try {
    Transport control(settings_.control);
    auto last_from_manager = clock::now();
    auto next_heartbeat = clock::now();
    while (!stop_) {
      pollfd watched[] = {{g_report_pipe[0], POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
      if (poll(watched, std::size(watched), 100) > 0 && (watched[0].revents & POLLIN)) {
        DeathRecord record{};
        if (read(g_report_pipe[0], &record, sizeof record) == sizeof record) {
          report_and_release(record.cause, record.number);
          return;  // the process is ending
        }
      }
      if (stop_) break;  // the serve loop is ending: the manager may be gone by now, rightly
      const auto now = clock::now();
      if (settings_.shared_rank) {
        // Deaths are reported: the manager's executors share this rank and its launcher. A static
        // rank also sends a heartbeat every second, so that the manager notices when this rank's
        // node stops answering (static_rank_heartbeats.hpp); the manager sends none back (a
        // static job's launcher ends its ranks).
        if (manager_here && process_gone(settings_.manager_pid)) _exit(1);
        if (settings_.static_rank && static_ranks_send_heartbeats(runtime_state().thread_level) &&
            now >= next_heartbeat) {
          send_signal(control, 0, wire::kControlTag, wire::Kind::kHeartbeat);
          next_heartbeat = now + std::chrono::seconds(1);
        }
        control.progress_sends();
        if (past_timeout()) end_past_timeout();
        continue;
      }
      if (!kOneSendingThread && now >= next_heartbeat) {
        send_signal(control, 0, wire::kControlTag, wire::Kind::kHeartbeat);
        next_heartbeat = now + std::chrono::seconds(1);
      }
      control.progress_sends();
      while (auto in = control.try_receive(0, wire::kControlTag)) last_from_manager = now;
      if (manager_here && process_gone(settings_.manager_pid)) {
        log().warn("the manager (pid {}) is gone; exiting", settings_.manager_pid);
        _exit(1);
      }
      if (now - last_from_manager > settings_.manager_silence_limit) {
        log().warn("no word from the manager for {}; exiting",
                   seconds_text(settings_.manager_silence_limit));
        _exit(1);
      }
      if (past_timeout()) end_past_timeout();
    }
  } catch (const std::exception& e) {
    // MPI failed talking to the manager: it is gone. Without this thread nothing would end the
    // worker, so end it now. A manager on this host that ended is named as such (its connection
    // may break before its process check runs); MPI's whole error stack is for debugging.
    log().debug("cannot reach the manager: {}", e.what());
    if (manager_here && process_gone(settings_.manager_pid)) {
      log().warn("the manager (pid {}) is gone; exiting", settings_.manager_pid);
    } else {
      log().warn("cannot reach the manager ({}); exiting", one_line_reason(e));
    }
    _exit(1);
  }
}

}  // namespace spawnpool::detail
