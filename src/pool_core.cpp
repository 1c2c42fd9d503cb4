#include "pool_core.hpp"

#include "environment.hpp"
#include "mpi_call.hpp"
#include "runtime_state.hpp"
#include "wire.hpp"

#include <spawnpool/errors.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace spawnpool::detail {

namespace {

constexpr std::size_t kCoalesceLimitBytes = 64 * 1024;  // larger messages travel alone
constexpr double kTargetMessageNs = 200e3;   // pack short calls into messages of about this much work
constexpr double kLongCallNs = 5e6;          // calls this long are sent one at a time

std::shared_ptr<Buffer> strings_message(const std::vector<std::string>& strings) {
  auto message = std::make_shared<Buffer>(wire::kHeaderSize + wire::strings_size(strings));
  wire::put_strings(message->data() + wire::kHeaderSize, strings);
  return message;
}

}  // namespace

PoolCore::PoolCore(PoolChannel channel, Mode mode, const Options& options,
                   std::string worker_program,
                   std::chrono::steady_clock::time_point ready_deadline)
    : comm_(channel.comm),
      tag_(channel.tag),
      disconnect_at_end_(channel.disconnect_at_end),
      mode_(mode),
      worker_program_(std::move(worker_program)),
      pipeline_depth_(std::max(1, options.pipeline_depth())),
      max_batch_(static_cast<std::size_t>(std::max(1, options.max_batch()))),
      shutdown_timeout_(options.shutdown_timeout()),
      poll_(PollSettings::from_environment()),
      transport_(channel.comm) {
  if (options.poll_spin()) poll_.spin = *options.poll_spin();
  if (options.poll_max_sleep()) poll_.max_sleep = *options.poll_max_sleep();
  for (int rank : channel.worker_ranks) {
    Worker w;
    w.rank = rank;
    workers_.push_back(w);
  }
  greet_workers(ready_deadline);
  {
    std::lock_guard<std::mutex> lock(runtime_state().pools_mutex);
    runtime_state().pools.insert(this);
  }
  progress_ = std::thread([this] { run(); });
}

PoolCore::~PoolCore() {
  shutdown(true, false);
  std::lock_guard<std::mutex> lock(runtime_state().pools_mutex);
  runtime_state().pools.erase(this);
}

void PoolCore::greet_workers(std::chrono::steady_clock::time_point deadline) {
  auto lock = mpi_lock();
  const std::vector<std::string> hello = {std::to_string(poll_.spin.count()),
                                          std::to_string(poll_.max_sleep.count()),
                                          std::to_string(getpid()), host_name()};
  for (const Worker& w : workers_) {
    transport_.send(w.rank, tag_, wire::Kind::kHello, static_cast<std::uint32_t>(hello.size()),
                    strings_message(hello));
  }
  std::size_t ready = 0;
  Backoff backoff(poll_);
  while (ready < workers_.size()) {
    transport_.progress_sends();
    std::optional<Transport::Incoming> in;
    try {
      in = transport_.try_receive(MPI_ANY_SOURCE, tag_);
    } catch (const wire::ProtocolError& e) {
      throw SpawnError("spawnpool: worker program '" + worker_program_ + "' answered in a way " +
                       "this manager does not understand: " + e.what());
    }
    if (!in) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw SpawnError("spawnpool: " + std::to_string(workers_.size() - ready) + " of " +
                         std::to_string(workers_.size()) + " workers ('" + worker_program_ +
                         "') did not answer in time after starting. A worker program must create "
                         "a spawnpool::Runtime at the top of main().");
      }
      backoff.pause();
      continue;
    }
    backoff.activity();
    if (in->header.kind != static_cast<std::uint16_t>(wire::Kind::kReady)) continue;
    Worker& w = workers_[worker_index(in->source)];
    const auto fields =
        wire::decode_strings(in->header, ByteSpan{in->message->data(), in->message->size()});
    if (fields.size() >= 2) {
      w.pid = std::stol(fields[0]);
      w.host = fields[1];
    }
    ++ready;
  }
}

std::vector<WorkerInfo> PoolCore::worker_infos() const {
  std::vector<WorkerInfo> infos;
  for (const Worker& w : workers_) infos.push_back(WorkerInfo{w.rank, w.host, w.pid});
  return infos;
}

std::size_t PoolCore::worker_index(int rank) const {
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i].rank == rank) return i;
  }
  throw wire::ProtocolError("spawnpool: message from rank " + std::to_string(rank) +
                            ", which is not a worker of this pool");
}

void PoolCore::enqueue(WorkItem item) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!broken_reason_.empty()) throw BrokenExecutor(broken_reason_);
    if (stop_requested_) {
      throw BrokenExecutor("spawnpool: cannot submit: the executor has been shut down");
    }
    submitted_.push_back(std::move(item));
  }
  wake_.notify_one();
}

void PoolCore::shutdown(bool wait, bool cancel_pending) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_requested_ = true;
    if (cancel_pending) {
      cancel_requested_ = true;
      for (auto& item : submitted_) {
        for (auto& call : item.calls) call.state->cancel();
      }
      submitted_.clear();
    }
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
  const int depth = effective_depth();
  while (!queue_.empty()) {
    // The least busy worker, rotating among equals.
    std::size_t best = workers_.size();
    for (std::size_t k = 0; k < workers_.size(); ++k) {
      const std::size_t i = (next_worker_ + k) % workers_.size();
      if (workers_[i].messages_in_flight >= depth) continue;
      if (best == workers_.size() ||
          workers_[i].messages_in_flight < workers_[best].messages_in_flight) {
        best = i;
      }
    }
    if (best == workers_.size()) break;
    next_worker_ = (best + 1) % workers_.size();
    int free_slots = 0;
    for (const Worker& w : workers_) free_slots += std::max(0, depth - w.messages_in_flight);

    // Drop items whose calls were all cancelled; mark the rest as sent.
    auto claim = [](WorkItem& item) {
      bool any = false;
      for (auto& call : item.calls) any |= call.state->mark_sent();
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
    while (first.calls.size() == 1 && batch.size() + 1 < share && !queue_.empty() &&
           queue_.front().calls.size() == 1 &&
           batch_bytes + queue_.front().message.size() <= kCoalesceLimitBytes &&
           first.message.size() <= kCoalesceLimitBytes) {
      WorkItem next = std::move(queue_.front());
      queue_.pop_front();
      queued_calls_ -= 1;
      if (!claim(next)) continue;
      batch_bytes += next.message.size() - wire::kHeaderSize;
      batch.push_back(std::move(next));
    }

    std::shared_ptr<Buffer> message;
    std::uint32_t count = static_cast<std::uint32_t>(first.calls.size());
    if (batch.empty()) {
      message = std::make_shared<Buffer>(std::move(first.message));
    } else {
      message = std::make_shared<Buffer>(batch_bytes);
      char* out = message->data() + wire::kHeaderSize;
      out = wire::put_bytes(out, first.message.data() + wire::kHeaderSize,
                            first.message.size() - wire::kHeaderSize);
      for (auto& item : batch) {
        out = wire::put_bytes(out, item.message.data() + wire::kHeaderSize,
                              item.message.size() - wire::kHeaderSize);
        count += static_cast<std::uint32_t>(item.calls.size());
      }
    }
    for (auto& call : first.calls) in_flight_.emplace(call.id, InFlight{std::move(call.state), best});
    for (auto& item : batch) {
      for (auto& call : item.calls) in_flight_.emplace(call.id, InFlight{std::move(call.state), best});
    }
    transport_.send(workers_[best].rank, tag_, wire::Kind::kTasks, count, std::move(message));
    ++workers_[best].messages_in_flight;
    sent = true;
  }
  return sent;
}

bool PoolCore::receive() {
  bool any = false;
  for (int i = 0; i < 64; ++i) {
    auto in = transport_.try_receive(MPI_ANY_SOURCE, tag_);
    if (!in) break;
    any = true;
    switch (static_cast<wire::Kind>(in->header.kind)) {
      case wire::Kind::kResults:
        handle_results(*in);
        break;
      case wire::Kind::kBye:
        workers_[worker_index(in->source)].said_bye = true;
        break;
      default:
        throw wire::ProtocolError("spawnpool: unexpected message kind " +
                                  std::to_string(in->header.kind) + " from worker " +
                                  std::to_string(in->source));
    }
  }
  return any;
}

void PoolCore::handle_results(const Transport::Incoming& in) {
  Worker& worker = workers_[worker_index(in.source)];
  --worker.messages_in_flight;
  record_busy_time(in.header.aux, in.header.count);
  const ByteSpan whole{in.message->data(), in.message->size()};
  for (const wire::ResultView& r : wire::decode_results(in.header, whole)) {
    auto found = in_flight_.find(r.id);
    if (found == in_flight_.end()) continue;  // e.g. a call cancelled while its chunk was sent
    std::shared_ptr<TaskState> state = std::move(found->second.state);
    in_flight_.erase(found);
    switch (r.status) {
      case wire::ResultStatus::kOk:
        state->set_value(SharedBytes{in.message, r.payload});
        break;
      case wire::ResultStatus::kException: {
        auto e = wire::decode_error_payload(r.payload);
        state->set_error(std::make_exception_ptr(RemoteError(
            std::move(e.type_name), std::move(e.message), worker.rank, worker.host,
            state->task_name())));
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

void PoolCore::run() {
  set_fine_timer_slack();
  Backoff backoff(poll_);
  try {
    for (;;) {
      bool active = take_queued();
      bool stop = false;
      {
        auto lock = mpi_lock();
        active |= dispatch();
        active |= transport_.progress_sends();
        active |= receive();
      }
      bool cancel = false;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stop = stop_requested_ && submitted_.empty();
        cancel = cancel_requested_;
      }
      if (cancel && !queue_.empty()) {
        for (auto& item : queue_) {
          for (auto& call : item.calls) call.state->cancel();
        }
        queue_.clear();
        queued_calls_ = 0;
      }
      if (stop && queue_.empty() && in_flight_.empty()) break;
      if (active) {
        backoff.activity();
        continue;
      }
      const auto pause = backoff.next_pause();
      if (pause.count() == 0) {
        std::this_thread::yield();
      } else {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait_for(lock, pause, [this] { return !submitted_.empty() || stop_requested_; });
      }
    }
    say_goodbye();
  } catch (...) {
    fail_all(std::current_exception());
  }
}

void PoolCore::say_goodbye() {
  auto lock = mpi_lock();
  for (const Worker& w : workers_) {
    transport_.send(w.rank, tag_, wire::Kind::kShutdown, 0, std::make_shared<Buffer>(wire::kHeaderSize));
  }
  const auto deadline = std::chrono::steady_clock::now() + shutdown_timeout_;
  Backoff backoff(poll_);
  auto everyone_left = [this] {
    return std::all_of(workers_.begin(), workers_.end(), [](const Worker& w) { return w.said_bye; });
  };
  while (!everyone_left() || transport_.sends_pending()) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr,
                   "spawnpool: some workers did not finish within the shutdown timeout (%lld ms); "
                   "leaving them\n",
                   static_cast<long long>(shutdown_timeout_.count()));
      transport_.abandon_sends();
      if (disconnect_at_end_) MPI_Comm_free(&comm_);
      return;
    }
    const bool active = transport_.progress_sends() | receive();
    if (active) backoff.activity(); else backoff.pause();
  }
  if (disconnect_at_end_) SPAWNPOOL_MPI(MPI_Comm_disconnect(&comm_));
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
  std::fprintf(stderr, "%s\n", reason.c_str());
  std::deque<WorkItem> submitted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    broken_reason_ = reason;
    submitted.swap(submitted_);
  }
  const auto broken = std::make_exception_ptr(BrokenExecutor(reason));
  for (auto* queue : {&queue_, &submitted}) {
    for (auto& item : *queue) {
      for (auto& call : item.calls) call.state->set_error(broken);
    }
    queue->clear();
  }
  for (auto& [id, f] : in_flight_) f.state->set_error(broken);
  in_flight_.clear();
}

}  // namespace spawnpool::detail
