#include "pool_core.hpp"

#include "environment.hpp"
#include "log.hpp"
#include <spawnpool/detail/mpi_call.hpp>
#include "runtime_state.hpp"
#include "wire.hpp"

#include <spawnpool/errors.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>

namespace spawnpool::detail {

namespace {

using clock = std::chrono::steady_clock;

constexpr std::size_t kCoalesceLimitBytes = 64 * 1024;  // larger messages travel alone
constexpr double kTargetMessageNs = 200e3;  // pack short calls into messages of about this much work
constexpr double kLongCallNs = 5e6;         // calls this long are sent one at a time
constexpr auto kHeartbeatInterval = std::chrono::seconds(1);
constexpr auto kLivenessInterval = std::chrono::milliseconds(100);
// A submit wakes the progress thread only from a sleep at least this long (it sends the work
// itself); shorter sleeps delay a result nobody waits for by less than this.
constexpr auto kLongSleep = std::chrono::microseconds(500);

std::shared_ptr<Buffer> strings_message(const std::vector<std::string>& strings) {
  auto message = std::make_shared<Buffer>(wire::kHeaderSize + wire::strings_size(strings));
  wire::put_strings(message->data() + wire::kHeaderSize, strings);
  return message;
}

std::shared_ptr<Buffer> empty_message() { return std::make_shared<Buffer>(wire::kHeaderSize); }

/// True when the process is gone (or a zombie) on this host.
bool process_gone(long pid) {
  if (pid <= 0) return false;
  if (kill(static_cast<pid_t>(pid), 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

std::string describe_cause(const std::string& cause, long number) {
  if (cause == "signal") {
    const char* name = sigabbrev_np(static_cast<int>(number));
    return "killed by signal " + std::to_string(number) + (name ? std::string(" (SIG") + name + ")" : "");
  }
  if (cause == "exit") return "the task called exit(" + std::to_string(number) + ")";
  if (cause == "timeout") return "the task ran longer than the task timeout (" + std::to_string(number) + " ms)";
  return cause;
}

}  // namespace

PoolCore::PoolCore(PoolSetup setup, const Options& options)
    : setup_(std::move(setup)),
      pipeline_depth_(std::max(1, options.pipeline_depth())),
      max_batch_(static_cast<std::size_t>(std::max(1, options.max_batch()))),
      shutdown_timeout_(options.shutdown_timeout()),
      task_timeout_(options.task_timeout()),
      heartbeat_timeout_(options.heartbeat_timeout().value_or(
          std::chrono::seconds(env_long("SPAWNPOOL_HEARTBEAT_TIMEOUT", 30)))),
      poll_(PollSettings::from_environment()) {
  if (options.poll_spin()) poll_.spin = *options.poll_spin();
  if (options.poll_max_sleep()) poll_.max_sleep = *options.poll_max_sleep();
  hello_ = {std::to_string(poll_.spin.count()),
            std::to_string(poll_.max_sleep.count()),
            std::to_string(getpid()),
            host_name(),
            std::to_string(task_timeout_.count()),
            std::to_string(heartbeat_timeout_.count()),
            options.working_directory(),
            options.initializer_entry() ? *options.initializer_entry() : std::string()};
  for (const auto& [name, value] : options.env()) hello_.push_back(name + "=" + value);
  trace_file_ = options.trace_file().empty() ? env_string("SPAWNPOOL_TRACE").value_or("")
                                             : options.trace_file();
  const auto deadline = clock::now() + setup_.start_timeout;
  try {
    if (setup_.spawn) {
      for (int i = 0; i < setup_.workers; ++i) {
        try {
          add_spawned_worker(deadline);
        } catch (const SpawnError& e) {
          if (i == 0 || i < setup_.min_workers || runtime_state().mpi_stuck) throw;
          log().warn("started {} of {} workers (min_workers {}): {}", i, setup_.workers,
                     setup_.min_workers, e.what());
          break;
        }
      }
    } else {
      Link link;
      link.comm = setup_.shared_comm;
      link.transport = std::make_unique<Transport>(link.comm);
      link.owned = setup_.own_shared_comm;
      links_.push_back(std::move(link));
      for (int rank : setup_.shared_ranks) {
        Worker w;
        w.rank = rank;
        workers_.push_back(w);
      }
    }
    std::vector<std::size_t> all(workers_.size());
    std::iota(all.begin(), all.end(), 0);
    greet(all, deadline);
  } catch (...) {
    // Do not leave started workers behind: tell them to leave, then let go of their links.
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      Link& link = links_[workers_[i].link];
      if (!link.owned) continue;
      try {
        link.transport->send(workers_[i].rank, setup_.tag, wire::Kind::kShutdown, 0, empty_message());
      } catch (...) {
      }
      if (workers_[i].same_host && workers_[i].pid > 0) kill(static_cast<pid_t>(workers_[i].pid), SIGKILL);
    }
    for (Link& link : links_) {
      if (!link.owned) continue;
      link.transport->abandon_sends();
      MPI_Comm_free(&link.comm);
    }
    throw;
  }
  live_workers_ = static_cast<int>(workers_.size());
  {
    std::lock_guard<std::mutex> lock(runtime_state().pools_mutex);
    runtime_state().pools.insert(this);
  }
  progress_ = std::thread([this] { run(); });
}

PoolCore::~PoolCore() {
  shutdown(true, false);
  driver_link_->detach();
  std::lock_guard<std::mutex> lock(runtime_state().pools_mutex);
  runtime_state().pools.erase(this);
}

void PoolCore::add_spawned_worker(clock::time_point deadline) {
  SpawnRequest request = *setup_.spawn;
  request.count = 1;
  if (!setup_.hosts.empty()) request.host = setup_.hosts[links_.size() % setup_.hosts.size()];
  request.timeout = std::max(std::chrono::milliseconds(1),
                             std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
  Link link;
  link.comm = spawn_workers(request);
  link.transport = std::make_unique<Transport>(link.comm);
  link.owned = true;
  link.watched = true;
  std::lock_guard<std::mutex> lock(infos_mutex_);
  links_.push_back(std::move(link));
  Worker w;
  w.link = links_.size() - 1;
  w.rank = 0;
  workers_.push_back(w);
}

void PoolCore::greet(const std::vector<std::size_t>& which, clock::time_point deadline) {
  auto lock = mpi_lock();
  for (std::size_t i : which) send_hello(*links_[workers_[i].link].transport, workers_[i].rank);
  std::size_t waiting = which.size();
  Backoff backoff(poll_);
  while (waiting > 0) {
    bool active = false;
    for (std::size_t l = 0; l < links_.size(); ++l) {
      Transport& transport = *links_[l].transport;
      active |= transport.progress_sends();
      const auto in = receive_answer(transport, MPI_ANY_SOURCE);
      if (!in) continue;
      active = true;
      if (in->header.kind != static_cast<std::uint16_t>(wire::Kind::kReady)) continue;
      Worker& w = workers_[worker_at(l, in->source)];
      if (w.state != WorkerState::kStarting) continue;
      take_ready(w, *in);
      --waiting;
      log().debug("{} ready ({} mode)", describe(w), to_string(setup_.mode));
    }
    if (active) {
      backoff.activity();
    } else if (clock::now() > deadline) {
      throw SpawnError("spawnpool: " + std::to_string(waiting) + " of " +
                       std::to_string(which.size()) + " workers ('" + setup_.worker_program +
                       "') did not answer in time after starting. A worker program must create "
                       "a spawnpool::Runtime at the top of main().");
    } else {
      backoff.pause();
    }
  }
}

void PoolCore::send_hello(Transport& transport, int rank) {
  transport.send(rank, setup_.tag, wire::Kind::kHello, static_cast<std::uint32_t>(hello_.size()),
                 strings_message(hello_));
}

std::optional<Transport::Incoming> PoolCore::receive_answer(Transport& transport, int source) {
  try {
    return transport.try_receive(source, setup_.tag);
  } catch (const wire::ProtocolError& e) {
    throw SpawnError("spawnpool: worker program '" + setup_.worker_program +
                     "' answered in a way this manager does not understand: " + e.what());
  }
}

void PoolCore::take_ready(Worker& w, const Transport::Incoming& in) {
  const auto fields =
      wire::decode_strings(in.header, ByteSpan{in.message->data(), in.message->size()});
  {
    std::lock_guard<std::mutex> infos(infos_mutex_);
    if (fields.size() >= 2) {
      w.pid = std::stol(fields[0]);
      w.host = fields[1];
      w.same_host = w.host == host_name();
    }
    w.state = WorkerState::kReady;
    w.last_heard = clock::now();
  }
  if (fields.size() >= 4 && !fields[3].empty()) {
    std::lock_guard<std::mutex> guard(mutex_);
    if (broken_reason_.empty()) {
      broken_reason_ = "spawnpool: the executor is broken: setting up " + describe(w) +
                       " failed: " + fields[3];
      broken_ = true;
    }
  }
}

std::vector<WorkerInfo> PoolCore::worker_infos() const {
  std::lock_guard<std::mutex> lock(infos_mutex_);
  std::vector<WorkerInfo> infos;
  for (const Worker& w : workers_) {
    if (w.state == WorkerState::kReady) infos.push_back(WorkerInfo{w.rank, w.host, w.pid});
  }
  return infos;
}

Stats PoolCore::stats() const {
  std::lock_guard<std::mutex> lock(infos_mutex_);
  Stats s;
  s.submitted = submitted_calls_.load();
  s.completed = completed_;
  s.failed = failed_;
  s.cancelled = cancelled_;
  s.workers_lost = workers_lost_;
  for (const Worker& w : workers_) {
    if (w.state == WorkerState::kStarting) continue;
    s.workers.push_back(WorkerStats{w.rank, w.host, w.pid, w.state != WorkerState::kLost,
                                    w.calls_answered, static_cast<double>(w.busy_ns) * 1e-9});
  }
  return s;
}

std::size_t PoolCore::worker_at(std::size_t link, int rank) const {
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i].link == link && workers_[i].rank == rank) return i;
  }
  throw wire::ProtocolError("spawnpool: message from rank " + std::to_string(rank) +
                            ", which is not a worker of this pool");
}

std::string PoolCore::describe(const Worker& w) const {
  return "worker " + std::to_string(w.rank) + " (pid " + std::to_string(w.pid) + ", host " +
         w.host + ")";
}

namespace {
/// Set while this thread does a pool's progress work: a completion callback that waits for a
/// future from there must not start driving (it would wait for the engine it holds).
thread_local bool t_in_progress_work = false;
struct InProgressWork {
  InProgressWork() { t_in_progress_work = true; }
  ~InProgressWork() { t_in_progress_work = false; }
};
}  // namespace

void PoolCore::enqueue(WorkItem item) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!broken_reason_.empty()) throw BrokenExecutor(broken_reason_);
    if (stop_requested_) {
      throw BrokenExecutor("spawnpool: cannot submit: the executor has been shut down");
    }
    submitted_calls_ += item.calls.size();
    for (auto& call : item.calls) call.state->set_driver(driver_link_);
    submitted_.push_back(std::move(item));
  }
  // Send it from here when nobody else is polling: the progress thread need not wake up for it
  // (unless it sleeps long: then it would see the result late if nobody waits for it).
  if (!t_in_progress_work && dispatch_now()) {
    if (sleeping_long_.load()) wake_.notify_one();
    return;
  }
  wake_.notify_one();
}

bool PoolCore::dispatch_now() noexcept {
  if (kOneSendingThread) return false;
  std::unique_lock<std::mutex> engine(engine_, std::try_to_lock);
  if (!engine.owns_lock() || finished_ || driver_error_) return false;
  try {
    InProgressWork marker;
    auto lock = mpi_lock();
    take_queued();
    dispatch();
  } catch (...) {
    driver_error_ = std::current_exception();
    return false;
  }
  return true;
}

void PoolCore::shutdown(bool wait, bool cancel_pending) {
  std::deque<WorkItem> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_requested_ = true;
    if (cancel_pending) {
      cancel_requested_ = true;
      dropped.swap(submitted_);
    }
  }
  // Cancelling runs completion callbacks, which may submit: never under mutex_.
  for (auto& item : dropped) {
    for (auto& call : item.calls) call.state->cancel();
  }
  wake_.notify_one();
  if (!wait) return;
  std::lock_guard<std::mutex> lock(join_mutex_);
  if (progress_.joinable() && progress_.get_id() != std::this_thread::get_id()) progress_.join();
}

bool PoolCore::take_queued() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (submitted_.empty()) return false;
  for (auto& item : submitted_) {
    queued_calls_ += item.calls.size();
    queue_.push_back(std::move(item));
  }
  submitted_.clear();
  return true;
}

void PoolCore::record_busy_time(std::uint64_t nanoseconds, std::uint32_t calls) {
  if (calls == 0) return;
  const double per_call = static_cast<double>(nanoseconds) / calls;
  mean_call_ns_ = mean_call_ns_ < 0 ? per_call : 0.8 * mean_call_ns_ + 0.2 * per_call;
}

int PoolCore::effective_depth() const {
  return mean_call_ns_ >= kLongCallNs ? 1 : pipeline_depth_;
}

std::size_t PoolCore::batch_limit() const {
  if (mean_call_ns_ < 0) return 1;
  const double fit = kTargetMessageNs / std::max(mean_call_ns_, 1.0);
  return std::clamp<std::size_t>(static_cast<std::size_t>(fit), 1, max_batch_);
}

bool PoolCore::dispatch() {
  bool sent = false;
  if (broken_) return false;
  const int depth = effective_depth();
  while (!queue_.empty()) {
    // The least busy ready worker, rotating among equals.
    std::size_t best = workers_.size();
    int free_slots = 0;
    for (std::size_t k = 0; k < workers_.size(); ++k) {
      const std::size_t i = (next_worker_ + k) % workers_.size();
      const Worker& w = workers_[i];
      const int in_flight = static_cast<int>(w.sent.size());
      if (w.state != WorkerState::kReady || in_flight >= depth) continue;
      free_slots += depth - in_flight;
      if (best == workers_.size() || in_flight < static_cast<int>(workers_[best].sent.size())) best = i;
    }
    if (best == workers_.size()) break;
    next_worker_ = (best + 1) % workers_.size();

    // Drop items whose calls were all cancelled; mark the rest as sent.
    auto claim = [this](WorkItem& item) {
      if (item.requeued) return true;
      bool any = false;
      std::uint64_t cancelled = 0;
      for (auto& call : item.calls) {
        const bool sent = call.state->mark_sent();
        any |= sent;
        cancelled += sent ? 0 : 1;
      }
      if (cancelled) {
        std::lock_guard<std::mutex> lock(infos_mutex_);
        cancelled_ += cancelled;
      }
      return any;
    };
    WorkItem first = std::move(queue_.front());
    queue_.pop_front();
    queued_calls_ -= first.calls.size();
    if (!claim(first)) continue;

    // Pack more small single calls into the same message when the queue is long enough that every
    // free slot would still get work.
    std::vector<WorkItem> batch;
    const std::size_t share =
        std::min(batch_limit(), (queued_calls_ + first.calls.size()) /
                                    static_cast<std::size_t>(std::max(1, free_slots)));
    std::size_t batch_bytes = first.message.size();
    // (Items with out-of-band blocks go alone: they are large.)
    while (first.calls.size() == 1 && first.out_of_band.empty() && batch.size() + 1 < share &&
           !queue_.empty() && queue_.front().calls.size() == 1 &&
           queue_.front().out_of_band.empty() &&
           batch_bytes + queue_.front().message.size() <= kCoalesceLimitBytes) {
      WorkItem next = std::move(queue_.front());
      queue_.pop_front();
      queued_calls_ -= 1;
      if (!claim(next)) continue;
      batch_bytes += next.message.size() - wire::kHeaderSize;
      batch.push_back(std::move(next));
    }

    SentMessage sent_message;
    sent_message.calls = std::move(first.calls);
    sent_message.out_of_band = std::move(first.out_of_band);
    if (batch.empty()) {
      sent_message.message = std::make_shared<Buffer>(std::move(first.message));
    } else {
      sent_message.message = std::make_shared<Buffer>(batch_bytes);
      char* out = sent_message.message->data() + wire::kHeaderSize;
      out = wire::put_bytes(out, first.message.data() + wire::kHeaderSize,
                            first.message.size() - wire::kHeaderSize);
      for (auto& item : batch) {
        out = wire::put_bytes(out, item.message.data() + wire::kHeaderSize,
                              item.message.size() - wire::kHeaderSize);
        for (auto& call : item.calls) sent_message.calls.push_back(std::move(call));
      }
    }
    Worker& w = workers_[best];
    const auto count = static_cast<std::uint32_t>(sent_message.calls.size());
    auto message = sent_message.message;
    OutOfBand out_of_band = sent_message.out_of_band;
    w.sent.push_back(std::move(sent_message));
    try {
      links_[w.link].transport->send(w.rank, setup_.tag, wire::Kind::kTasks, count,
                                     std::move(message), 0, std::move(out_of_band));
    } catch (const MpiError& e) {
      lose_worker(best, std::string("MPI failed sending to it: ") + e.what(), 0, false);
    }
    sent = true;
  }
  return sent;
}

bool PoolCore::receive() {
  bool any = false;
  for (std::size_t l = 0; l < links_.size(); ++l) {
    for (int i = 0; i < 64; ++i) {
      auto in = links_[l].transport->try_receive(MPI_ANY_SOURCE, setup_.tag);
      if (!in) break;
      any = true;
      const std::size_t w = worker_at(l, in->source);
      workers_[w].last_heard = clock::now();
      switch (static_cast<wire::Kind>(in->header.kind)) {
        case wire::Kind::kResults:
          handle_results(w, *in, *links_[l].transport);
          break;
        case wire::Kind::kBye:
          if (workers_[w].state == WorkerState::kReady) workers_[w].state = WorkerState::kLeft;
          break;
        default:
          throw wire::ProtocolError("spawnpool: unexpected message kind " +
                                    std::to_string(in->header.kind) + " from worker " +
                                    std::to_string(in->source));
      }
    }
  }
  return any;
}

bool PoolCore::receive_control() {
  bool any = false;
  for (std::size_t l = 0; l < links_.size(); ++l) {
    if (!links_[l].watched) continue;
    while (auto in = links_[l].transport->try_receive(MPI_ANY_SOURCE, wire::kControlTag)) {
      const std::size_t w = worker_at(l, in->source);
      workers_[w].last_heard = clock::now();
      // Heartbeats are not activity: they must not keep an idle pool from backing off.
      if (in->header.kind == static_cast<std::uint16_t>(wire::Kind::kLost)) {
        any = true;
        const auto fields =
            wire::decode_strings(in->header, ByteSpan{in->message->data(), in->message->size()});
        if (fields.size() >= 4) {
          lose_worker(w, describe_cause(fields[0], std::stol(fields[1])), std::stoull(fields[2]),
                      fields[0] == "timeout");
        }
      }
    }
  }
  return any;
}

bool PoolCore::watch_workers() {
  const auto now = clock::now();
  bool any = false;
  if (now >= next_heartbeat_) {
    next_heartbeat_ = now + kHeartbeatInterval;
    for (const Worker& w : workers_) {
      if (w.state != WorkerState::kReady || !links_[w.link].watched) continue;
      try {
        links_[w.link].transport->send(w.rank, wire::kControlTag, wire::Kind::kHeartbeat, 0,
                                       empty_message());
      } catch (const MpiError&) {
        // noticed below or by the next send
      }
    }
  }
  if (now < next_liveness_check_) return false;
  next_liveness_check_ = now + kLivenessInterval;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = workers_[i];
    if (w.state != WorkerState::kReady) continue;
    if (w.same_host && process_gone(w.pid)) {
      // Its own report, if it sent one, is already on the way: give it a moment to arrive.
      for (int attempt = 0; attempt < 20 && w.state == WorkerState::kReady; ++attempt) {
        receive_control();
        if (w.state == WorkerState::kReady) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (w.state == WorkerState::kReady) {
        lose_worker(i, "its process ended without a report (killed by SIGKILL, the out-of-memory "
                       "killer, or another signal that cannot be caught)", 0, false);
      }
      any = true;
    } else if (links_[w.link].watched && now - w.last_heard > heartbeat_timeout_ &&
               !(kOneSendingThread && !w.sent.empty())) {
      // (With one sending thread a worker is silent while it runs a task.)
      lose_worker(i, "no heartbeat for " + std::to_string(heartbeat_timeout_.count() / 1000) + " s",
                  0, false);
      any = true;
    }
  }
  return any;
}

void PoolCore::handle_results(std::size_t index, const Transport::Incoming& in,
                              Transport& transport) {
  Worker& worker = workers_[index];
  worker.last_heard = clock::now();
  if (worker.sent.empty()) {
    throw wire::ProtocolError("spawnpool: results from " + describe(worker) +
                              ", which has no task in flight");
  }
  SentMessage done = std::move(worker.sent.front());
  worker.sent.pop_front();
  record_busy_time(in.header.aux, in.header.count);
  const ByteSpan whole{in.message->data(), in.message->size()};
  const std::vector<wire::ResultView> results = wire::decode_results(in.header, whole);
  // The state each result completes, in order.
  std::vector<std::shared_ptr<TaskState>> states;
  states.reserve(results.size());
  std::size_t next = 0;
  for (const wire::ResultView& r : results) {
    while (next < done.calls.size() && done.calls[next].id != r.id) ++next;
    if (next == done.calls.size()) {
      throw wire::ProtocolError("spawnpool: " + describe(worker) + " answered call " +
                                std::to_string(r.id) + ", which it was not sent");
    }
    states.push_back(std::move(done.calls[next++].state));
  }
  done = SentMessage{};  // the arguments are not needed any more
  std::vector<Decoded> decoded;
  try {
    decoded = receive_decoded(in, results, states, transport, worker);
  } catch (const Error& e) {  // Timeout, MpiError: the worker died while sending its results
    if (!dynamic_cast<const Timeout*>(&e) && !dynamic_cast<const MpiError*>(&e)) throw;
    const std::string cause =
        std::string("it ended while sending a result's out-of-band bytes (") + e.what() + ")";
    {
      std::lock_guard<std::mutex> lock(infos_mutex_);
      failed_ += states.size();
    }
    for (const auto& state : states) {
      state->set_error(std::make_exception_ptr(WorkerLost(
          "spawnpool: " + describe(worker) + " was lost while running task \"" +
          state->task_name() + "\": " + cause)));
    }
    lose_worker(index, cause, 0, false);
    return;
  }
  {
    // Counted before any future completes, so that whoever sees a result sees it counted.
    std::uint64_t ok_count = 0;
    for (const auto& r : results) ok_count += r.status == wire::ResultStatus::kOk ? 1 : 0;
    std::lock_guard<std::mutex> lock(infos_mutex_);
    worker.calls_answered += results.size();
    worker.busy_ns += in.header.aux;
    completed_ += ok_count;
    failed_ += results.size() - ok_count;
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    const wire::ResultView& r = results[i];
    std::shared_ptr<TaskState> state = std::move(states[i]);
    if (!trace_file_.empty()) {
      trace_.push_back(TraceEvent{index, r.id, r.started_us, r.ended_us,
                                  r.status == wire::ResultStatus::kOk, state});
    }
    switch (r.status) {
      case wire::ResultStatus::kOk:
        if (r.payload_oob == 0) {
          state->set_value(SharedBytes{in.message, r.payload});
        } else if (decoded[i].value) {
          state->set_decoded(std::move(decoded[i].value));
        } else {
          state->set_error(decoded[i].error);
        }
        break;
      case wire::ResultStatus::kException: {
        auto e = wire::decode_error_payload(r.payload);
        state->set_error(std::make_exception_ptr(RemoteError(std::move(e.type_name),
                                                             std::move(e.message), worker.rank,
                                                             worker.host, state->task_name())));
        break;
      }
      case wire::ResultStatus::kUnknownTask:
        state->set_error(std::make_exception_ptr(
            UnregisteredTask("spawnpool: " + wire::decode_error_payload(r.payload).message)));
        break;
      default:
        state->set_error(std::make_exception_ptr(
            Error("spawnpool: " + wire::decode_error_payload(r.payload).message)));
    }
  }
}

std::vector<PoolCore::Decoded> PoolCore::receive_decoded(
    const Transport::Incoming& in, const std::vector<wire::ResultView>& results,
    const std::vector<std::shared_ptr<TaskState>>& states, Transport& transport,
    const Worker& worker) {
  std::vector<Decoded> decoded(results.size());
  if (in.header.oob_size == 0) return decoded;
  // Arguments whose sends have completed give their vectors' storage back first, for these
  // results to reuse (vector_recycling.hpp).
  transport.progress_sends();
  // Results with out-of-band blocks are decoded now, and their blocks received straight into the
  // decoded objects. One that cannot be decoded fails its future; its bytes go to scratch space.
  std::vector<MutableSpan> targets;
  std::vector<Buffer> scratch;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const wire::ResultView& r = results[i];
    if (r.payload_oob == 0) continue;
    const std::size_t first_target = targets.size();
    try {
      if (r.status != wire::ResultStatus::kOk || states[i]->decoder() == nullptr) {
        throw Error("a result of this kind cannot have out-of-band bytes");
      }
      OutOfBandTargets out_of_band(r.payload_oob, targets);
      decoded[i].value = states[i]->decoder()(r.payload, &out_of_band);
      if (out_of_band.remaining() != 0) {
        throw Error(std::to_string(out_of_band.remaining()) +
                    " out-of-band bytes left over after the result");
      }
    } catch (const std::exception& e) {
      decoded[i].value.reset();
      decoded[i].error = std::make_exception_ptr(
          Error("spawnpool: could not decode the result of task \"" + states[i]->task_name() +
                "\": " + e.what()));
      targets.resize(first_target);
      scratch.emplace_back(static_cast<std::size_t>(r.payload_oob));
      targets.push_back({scratch.back().data(), scratch.back().size()});
    }
  }
  transport.receive_out_of_band(in, targets, [&worker] {
    return worker.same_host && worker.pid > 0 && process_gone(worker.pid);
  });
  return decoded;
}

void PoolCore::lose_worker(std::size_t index, const std::string& cause, std::uint64_t running_call,
                           bool timed_out) {
  Worker& w = workers_[index];
  if (w.state == WorkerState::kLost || w.state == WorkerState::kLeft) return;
  {
    std::lock_guard<std::mutex> lock(infos_mutex_);
    w.state = WorkerState::kLost;
    ++workers_lost_;
    if (!w.sent.empty()) failed_ += w.sent.front().calls.size();
  }
  --live_workers_;
  if (links_[w.link].watched) links_[w.link].transport->abandon_sends();  // its own link only
  if (!w.sent.empty()) {
    // The oldest message was being run: its calls are lost with the worker.
    SentMessage lost = std::move(w.sent.front());
    w.sent.pop_front();
    for (const PendingCall& call : lost.calls) {
      const std::string text = "spawnpool: " + describe(w) + " was lost while running task \"" +
                               call.state->task_name() + "\": " + cause;
      if (timed_out && (call.id == running_call || running_call == 0)) {
        call.state->set_error(std::make_exception_ptr(
            Timeout("spawnpool: task \"" + call.state->task_name() + "\" " + cause +
                    "; its worker was stopped and replaced")));
      } else {
        call.state->set_error(std::make_exception_ptr(WorkerLost(text)));
      }
    }
    // Later messages never started: send them again, in their order, to other workers.
    for (auto it = w.sent.rbegin(); it != w.sent.rend(); ++it) {
      WorkItem again;
      again.message = Buffer(it->message->size());
      std::memcpy(again.message.data(), it->message->data(), it->message->size());
      again.out_of_band = std::move(it->out_of_band);
      again.calls = std::move(it->calls);
      again.requeued = true;
      queued_calls_ += again.calls.size();
      queue_.push_front(std::move(again));
    }
    w.sent.clear();
  }
  log().warn("{} was lost: {}", describe(w), cause);
  if (setup_.spawn) ++replacements_wanted_;
  if (w.same_host && w.pid > 0) dying_.emplace_back(w.pid, clock::now());
}

bool PoolCore::lost_processes_gone() {
  const auto now = clock::now();
  dying_.erase(std::remove_if(dying_.begin(), dying_.end(),
                              [&](const auto& d) {
                                return process_gone(d.first) || now - d.second > std::chrono::seconds(3);
                              }),
               dying_.end());
  return dying_.empty();
}

// Advances the start of a replacement worker by one step without blocking: start the spawn (once
// the lost worker's process is gone), see whether it has returned, greet the new worker, take its
// answer. The spawn of a worker can take seconds (much longer under sanitizers or valgrind), and the
// other workers give up on a manager that stays silent for the heartbeat timeout, so the progress
// loop must go on meanwhile. True when something happened.
bool PoolCore::replace_lost_workers() {
  bool any = false;
  if (!replacement_ && replacements_wanted_ > 0 && lost_processes_gone()) {
    --replacements_wanted_;
    SpawnRequest request = *setup_.spawn;
    request.count = 1;
    if (!setup_.hosts.empty()) request.host = setup_.hosts[links_.size() % setup_.hosts.size()];
    request.timeout = setup_.start_timeout;
    try {
      replacement_.emplace(Replacement{start_spawn(request), clock::now() + setup_.start_timeout,
                                       Link{}, Worker{}});
    } catch (const std::exception& e) {
      give_up_replacing(e.what());
    }
    any = true;
  } else if (replacement_) {
    Replacement& r = *replacement_;
    try {
      if (r.link.comm == MPI_COMM_NULL) {
        if (r.spawn.finished()) {
          r.link.comm = r.spawn.take();
          r.link.transport = std::make_unique<Transport>(r.link.comm);
          r.link.owned = true;
          r.link.watched = true;
          r.worker.rank = 0;
          send_hello(*r.link.transport, 0);
          any = true;
        }
      } else {
        any = r.link.transport->progress_sends();
        const auto in = receive_answer(*r.link.transport, 0);
        if (in && in->header.kind == static_cast<std::uint16_t>(wire::Kind::kReady)) {
          any = true;
          Worker& w = r.worker;
          take_ready(w, *in);
          {
            std::lock_guard<std::mutex> lock(infos_mutex_);
            links_.push_back(std::move(r.link));
            w.link = links_.size() - 1;
            workers_.push_back(std::move(w));
          }
          ++live_workers_;
          log().debug("{} ready (replacement)", describe(workers_.back()));
          replacement_.reset();
        } else if (!in && clock::now() > r.deadline) {
          throw SpawnError("spawnpool: a replacement worker ('" + setup_.worker_program +
                           "') started but did not answer within the spawn timeout (" +
                           std::to_string(setup_.start_timeout.count() / 1000) + " s)");
        }
      }
    } catch (const std::exception& e) {
      if (r.link.comm != MPI_COMM_NULL) {
        // Tell it to leave (it may not have been greeted yet: a worker leaves on shutdown either
        // way), then let go of the link.
        try {
          r.link.transport->send(0, setup_.tag, wire::Kind::kShutdown, 0, empty_message());
          r.link.transport->progress_sends();
        } catch (...) {
        }
        r.link.transport->abandon_sends();
        MPI_Comm_free(&r.link.comm);
      }
      give_up_replacing(e.what());
      any = true;
    }
  }
  if (!replacement_ && replacements_wanted_ == 0 && live_workers_.load() == 0 && !queue_.empty()) {
    const auto error = std::make_exception_ptr(BrokenExecutor(
        "spawnpool: every worker of the pool was lost and none could be replaced" +
        (replacement_failure_.empty() ? std::string() : ": " + replacement_failure_)));
    for (auto& item : queue_) {
      for (auto& call : item.calls) call.state->set_error(error);
    }
    queue_.clear();
    queued_calls_ = 0;
    any = true;
  }
  return any;
}

void PoolCore::give_up_replacing(const std::string& reason) {
  log().error("could not start a replacement worker: {}", reason);
  replacement_.reset();
  replacements_wanted_ = 0;
  replacement_failure_ = reason;
}


bool PoolCore::poll_turn() {
  InProgressWork marker;
  bool active = take_queued();
  active |= dispatch();
  // Completed sends are not activity (heartbeats would count); results are.
  for (Link& link : links_) link.transport->progress_sends();
  active |= receive();
  active |= receive_control();
  active |= watch_workers();
  return active;
}

bool PoolCore::work_outstanding() const {
  return queued_calls_ > 0 || replacements_wanted_ > 0 || replacement_ ||
         std::any_of(workers_.begin(), workers_.end(), [](const Worker& w) { return !w.sent.empty(); });
}

void PoolCore::drive(const TaskState& state, clock::time_point deadline) noexcept {
  if (kOneSendingThread || t_in_progress_work) return;
  // One driver at a time; other waiters sleep until their state completes.
  if (drivers_.fetch_add(1) > 0) {
    drivers_.fetch_sub(1);
    return;
  }
  bool outstanding = false;
  try {
    auto quiet_until = clock::now() + poll_.spin;
    int engine_busy = 0;
    while (!state.ready()) {
      bool active = false;
      {
        // The progress thread holds the engine for one turn (up to ~0.1 s when it checks a
        // worker process that just ended): if it stays busy, wait on the state instead, where a
        // deadline is honoured.
        std::unique_lock<std::mutex> engine(engine_, std::try_to_lock);
        if (!engine.owns_lock()) {
          if (++engine_busy > 1000) break;
          std::this_thread::yield();
          continue;
        }
        engine_busy = 0;
        if (finished_ || driver_error_) break;
        {
          auto lock = mpi_lock();
          active = poll_turn();
        }
        outstanding = work_outstanding();
        // Replacing a lost worker takes many turns: that is the progress thread's job.
        if (replacements_wanted_ > 0 || replacement_) break;
      }
      if (state.ready()) break;
      const auto now = clock::now();
      if (active) {
        quiet_until = now + poll_.spin;
      } else if (now >= quiet_until || now >= deadline) {
        break;
      }
      std::this_thread::yield();
    }
  } catch (...) {
    std::lock_guard<std::mutex> engine(engine_);
    if (!driver_error_) driver_error_ = std::current_exception();
    outstanding = true;
  }
  if (outstanding) {
    // Hand over to the progress thread at once.
    std::lock_guard<std::mutex> lock(mutex_);
    handed_over_ = true;
    drivers_.fetch_sub(1);
    wake_.notify_one();
  } else {
    drivers_.fetch_sub(1);
  }
}

void PoolCore::run() {
  set_fine_timer_slack();
  Backoff backoff(poll_);
  next_heartbeat_ = clock::now() + kHeartbeatInterval;
  next_liveness_check_ = clock::now() + kLivenessInterval;
  try {
    for (;;) {
      if (drivers_.load() > 0) {
        // A waiting thread does the polling: step aside until it is done.
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait_for(lock, kLivenessInterval,
                       [this] { return drivers_.load() == 0 || stop_requested_; });
        const bool step_aside = drivers_.load() > 0 && !stop_requested_;
        const bool handed_over = std::exchange(handed_over_, false);
        lock.unlock();
        if (handed_over) backoff.activity();
        if (step_aside) continue;
      }
      std::unique_lock<std::mutex> engine(engine_);
      if (driver_error_) std::rethrow_exception(driver_error_);
      bool active = false;
      bool stop = false;
      bool cancel = false;
      {
        auto lock = mpi_lock();
        active = poll_turn();
        if (replacements_wanted_ > 0) {
          std::lock_guard<std::mutex> guard(mutex_);
          if (stop_requested_) replacements_wanted_ = 0;
        }
        if (replacements_wanted_ > 0 || replacement_ ||
            (live_workers_.load() == 0 && !queue_.empty())) {
          active |= replace_lost_workers();
        }
      }
      std::string broken;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stop = stop_requested_ && submitted_.empty();
        cancel = cancel_requested_;
        broken = broken_reason_;
      }
      if (!broken.empty() && !queue_.empty()) {
        const auto error = std::make_exception_ptr(BrokenExecutor(broken));
        for (auto& item : queue_) {
          for (auto& call : item.calls) call.state->set_error(error);
        }
        queue_.clear();
        queued_calls_ = 0;
      }
      if (cancel && !queue_.empty()) {
        for (auto& item : queue_) {
          for (auto& call : item.calls) call.state->cancel();
        }
        queue_.clear();
        queued_calls_ = 0;
      }
      const bool in_flight = std::any_of(workers_.begin(), workers_.end(),
                                         [](const Worker& w) { return !w.sent.empty(); });
      // A replacement being started is finished first, so that its process is shut down too.
      if (stop && queue_.empty() && !in_flight && !replacement_) {
        finished_ = true;  // drivers stay out from now on
        break;
      }
      // A large message on its way moves only while we call into MPI: poll, do not sleep.
      const bool sending = std::any_of(links_.begin(), links_.end(), [](const Link& link) {
        return link.transport->sends_pending();
      });
      engine.unlock();
      if (active) {
        backoff.activity();
        continue;
      }
      const auto pause = sending ? std::chrono::microseconds(0) : backoff.next_pause();
      if (pause.count() == 0) {
        std::this_thread::yield();
      } else {
        const auto sleep = std::min<std::chrono::microseconds>(pause, kLivenessInterval);
        std::unique_lock<std::mutex> lock(mutex_);
        sleeping_long_ = sleep >= kLongSleep;
        wake_.wait_for(lock, sleep, [this] { return !submitted_.empty() || stop_requested_; });
        sleeping_long_ = false;
      }
    }
    say_goodbye();
  } catch (...) {
    {
      std::lock_guard<std::mutex> engine(engine_);
      finished_ = true;
    }
    fail_all(std::current_exception());
  }
  if (!trace_file_.empty()) write_trace();
  log().debug("pool shut down ({} calls submitted)", submitted_calls_.load());
}

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
}  // namespace

void PoolCore::write_trace() const {
  std::ofstream out(trace_file_);
  if (!out) {
    log().error("cannot write the trace file {}", trace_file_);
    return;
  }
  // Chrome trace-event format: one complete ("X") event per call; one track (tid) per worker.
  out << "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  out << "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":"
      << json_string(std::string("spawnpool ") + to_string(setup_.mode) + " pool") << "}}";
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    const Worker& w = workers_[i];
    out << ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":" << i + 1
        << ",\"args\":{\"name\":"
        << json_string("worker " + std::to_string(w.rank) + " (" + w.host + ", pid " +
                       std::to_string(w.pid) + ")" + (w.state == WorkerState::kLost ? " lost" : ""))
        << "}}";
  }
  for (const TraceEvent& e : trace_) {
    out << ",\n{\"name\":" << json_string(e.state->task_name())
        << ",\"cat\":" << (e.ok ? "\"task\"" : "\"failed\"") << ",\"ph\":\"X\",\"pid\":1,\"tid\":"
        << e.worker + 1 << ",\"ts\":" << e.started_us
        << ",\"dur\":" << (e.ended_us >= e.started_us ? e.ended_us - e.started_us : 0)
        << ",\"args\":{\"call\":" << e.call_id << "}}";
  }
  out << "\n]}\n";
}

void PoolCore::say_goodbye() {
  auto lock = mpi_lock();
  for (const Worker& w : workers_) {
    if (w.state != WorkerState::kReady) continue;
    links_[w.link].transport->send(w.rank, setup_.tag, wire::Kind::kShutdown, 0, empty_message());
  }
  const auto deadline = clock::now() + shutdown_timeout_;
  Backoff backoff(poll_);
  auto someone_still_here = [this] {
    return std::any_of(workers_.begin(), workers_.end(),
                       [](const Worker& w) { return w.state == WorkerState::kReady; });
  };
  while (someone_still_here() && clock::now() < deadline) {
    bool active = false;
    for (Link& link : links_) active |= link.transport->progress_sends();
    active |= receive();
    active |= receive_control();
    active |= watch_workers();
    if (active) backoff.activity(); else backoff.pause();
  }
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i].state == WorkerState::kReady) {
      lose_worker(i, "it did not finish within the shutdown timeout", 0, false);
    }
  }
  for (std::size_t l = 0; l < links_.size(); ++l) {
    Link& link = links_[l];
    if (!link.owned) continue;
    const bool left_cleanly = std::all_of(workers_.begin(), workers_.end(), [&](const Worker& w) {
      return w.link != l || w.state == WorkerState::kLeft;
    });
    if (left_cleanly) {
      // Bye was the worker's last message: completing our sends needs nothing more from it.
      const auto flush_deadline = clock::now() + std::chrono::seconds(5);
      while (link.transport->sends_pending() && clock::now() < flush_deadline) {
        link.transport->progress_sends();
      }
      link.transport->abandon_sends();
      SPAWNPOOL_MPI(MPI_Comm_disconnect(&link.comm));
    } else {
      link.transport->abandon_sends();
      MPI_Comm_free(&link.comm);
    }
  }
}

void PoolCore::fail_all(const std::exception_ptr& error) {
  std::string reason;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    reason = std::string("spawnpool: the executor broke: ") + e.what();
  } catch (...) {
    reason = "spawnpool: the executor broke";
  }
  log().error("{}", reason);
  std::deque<WorkItem> submitted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    broken_reason_ = reason;
    broken_ = true;
    submitted.swap(submitted_);
  }
  const auto broken = std::make_exception_ptr(BrokenExecutor(reason));
  for (auto* queue : {&queue_, &submitted}) {
    for (auto& item : *queue) {
      for (auto& call : item.calls) call.state->set_error(broken);
    }
    queue->clear();
  }
  for (Worker& w : workers_) {
    for (auto& message : w.sent) {
      for (auto& call : message.calls) call.state->set_error(broken);
    }
    w.sent.clear();
  }
}

}  // namespace spawnpool::detail
