#include <spawnpool/thread_executor.hpp>

#include "environment.hpp"
#include "exception_type.hpp"
#include "log.hpp"
#include "wire.hpp"

#include <spawnpool/detail/packed_chunk.hpp>
#include <spawnpool/detail/registry.hpp>
#include <spawnpool/errors.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

namespace spawnpool {

namespace {

int default_thread_count() {
  if (const auto n = detail::env_integer(detail::env::kMaxWorkers)) return static_cast<int>(*n);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

/// The queue of encoded work and the threads that run it. A worker thread takes one WorkItem (one
/// submit, or one map chunk) at a time, decodes its call entries like a worker process does, and
/// completes each call's state before starting the next.
class ThreadExecutor::Core {
 public:
  explicit Core(int threads) : host_(detail::host_name()) {
    threads_.reserve(static_cast<std::size_t>(threads));
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this, i] { run(i); });
  }

  ~Core() { shutdown(true, false); }

  std::uint64_t reserve_ids(std::size_t count) { return next_id_.fetch_add(count); }

  void enqueue(detail::WorkItem item) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_) throw BrokenExecutor("spawnpool: cannot submit: the executor has been shut down");
      queue_.push_back(std::move(item));
    }
    work_.notify_one();
  }

  void shutdown(bool wait, bool cancel_pending) {
    std::deque<detail::WorkItem> cancelled;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      if (cancel_pending) {
        cancel_requested_ = true;
        cancelled.swap(queue_);
      }
    }
    work_.notify_all();
    // Outside the lock: cancelling completes states, which runs their callbacks.
    for (auto& item : cancelled) {
      for (auto& call : item.calls) call.state->cancel();
    }
    if (!wait) return;
    std::lock_guard<std::mutex> lock(join_mutex_);
    for (std::thread& t : threads_) {
      if (!t.joinable()) continue;
      // A task that shuts down its own executor cannot wait for itself.
      if (t.get_id() != std::this_thread::get_id()) t.join();
    }
  }

  int num_workers() const noexcept { return static_cast<int>(threads_.size()); }
  const std::string& host() const noexcept { return host_; }

 private:
  void run(int index) {
    for (;;) {
      detail::WorkItem item;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        work_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopped and drained
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      run_item(item, index);
    }
  }

  void run_item(detail::WorkItem& item, int index) {
    std::vector<detail::wire::CallView> calls;
    try {
      detail::wire::Header header;
      header.kind = static_cast<std::uint16_t>(detail::wire::Kind::kTasks);
      header.count = static_cast<std::uint32_t>(item.calls.size());
      header.body_size = item.message.size() - detail::wire::kHeaderSize;
      header.oob_size = item.out_of_band.bytes();
      header.oob_part_size = header.oob_size ? UINT32_MAX : 0;  // (not cut into messages here)
      calls = detail::wire::decode_calls(
          header, detail::ByteSpan{item.message.data(), item.message.size()});
    } catch (...) {
      for (auto& call : item.calls) call.state->set_error(std::current_exception());
      return;
    }
    // Out-of-band argument blocks are copied from the caller's holder, in entry order.
    detail::OutOfBandCopy out_of_band(item.out_of_band);
    for (std::size_t i = 0; i < calls.size(); ++i) {
      const std::shared_ptr<detail::TaskState>& state = item.calls[i].state;
      if (cancel_requested_.load()) {
        state->cancel();
        continue;
      }
      if (!state->mark_sent()) continue;  // cancelled through its future
      run_call(calls[i], *state, index, out_of_band);
    }
  }

  /// What a worker process does with one call entry (worker_loop.cpp), with the outcome turned
  /// into what the manager would make of the reply (pool_core.cpp).
  void run_call(const detail::wire::CallView& call, detail::TaskState& state, int index,
                detail::OutOfBandCopy& out_of_band) {
    const detail::TaskEntry* task = detail::find_task(call.name);
    if (task == nullptr) {
      state.set_error(std::make_exception_ptr(UnregisteredTask(
          "spawnpool: this program has no task named \"" + std::string(call.name) +
          "\"; register it with SPAWNPOOL_TASK(" + std::string(call.name) + ")")));
      return;
    }
    if (task->signature != call.signature) {
      state.set_error(std::make_exception_ptr(
          Error("spawnpool: task \"" + task->name + "\" is registered with the type " +
                task->signature_text + ", which differs from the submitted function's")));
      return;
    }
    try {
      auto result = std::make_shared<const detail::Buffer>(
          task->invoke(call.args, call.args_oob ? &out_of_band : nullptr, 0, false).buffer);
      const detail::ByteSpan span{result->data(), result->size()};
      if (state.packed_calls() != 0 && detail::packed_has_failures(span)) {
        auto origin = std::make_shared<detail::PackedOrigin>();  // its RemoteErrors name the thread
        origin->payload = detail::SharedBytes{std::move(result), span};
        origin->worker_id = index;
        origin->worker_pid = static_cast<long>(getpid());
        origin->host = host_;
        state.set_decoded(std::move(origin));
        return;
      }
      state.set_value(detail::SharedBytes{std::move(result), span});
    } catch (const detail::BadArguments& bad) {
      state.set_error(std::make_exception_ptr(
          Error("spawnpool: the arguments of task \"" + task->name +
                "\" could not be decoded: " + bad.what)));
    } catch (const std::exception& e) {
      state.set_error(std::make_exception_ptr(
          RemoteError(detail::current_exception_type(), e.what(), index,
                      static_cast<long>(getpid()), host_, state.task_name())));
    } catch (...) {
      state.set_error(std::make_exception_ptr(
          RemoteError(detail::current_exception_type(), "(not a std::exception)", index,
                      static_cast<long>(getpid()), host_, state.task_name())));
    }
  }

  const std::string host_;
  std::atomic<std::uint64_t> next_id_{1};

  std::mutex mutex_;
  std::condition_variable work_;
  std::deque<detail::WorkItem> queue_;
  bool stop_ = false;
  std::atomic<bool> cancel_requested_{false};

  std::mutex join_mutex_;
  std::vector<std::thread> threads_;
};

ThreadExecutor::ThreadExecutor(Options options) {
  if (const std::string conflicts = detail::registry_conflicts(); !conflicts.empty()) {
    throw Error("spawnpool: " + conflicts);
  }
  detail::warn_about_log_setting();
  detail::env_integer(detail::env::kBufferCacheMb);  // the encoding's recycled storage reads it
  // Only read the environment when the options leave the count to it.
  const int threads = options.max_workers() ? *options.max_workers() : default_thread_count();
  if (threads < 1) {
    throw Error("spawnpool::ThreadExecutor: max_workers must be at least 1, got " +
                std::to_string(threads));
  }
  core_ = std::make_unique<Core>(threads);
}

ThreadExecutor::~ThreadExecutor() = default;  // Core's destructor: shutdown(true, false)

ThreadExecutor::ThreadExecutor(ThreadExecutor&&) noexcept = default;
ThreadExecutor& ThreadExecutor::operator=(ThreadExecutor&& other) noexcept {
  if (this != &other) core_ = std::move(other.core_);  // the old core shuts down as it goes
  return *this;
}

void ThreadExecutor::shutdown(bool wait, bool cancel_pending) {
  if (core_) core_->shutdown(wait, cancel_pending);
}

int ThreadExecutor::num_workers() const { return core_ ? core_->num_workers() : 0; }

std::vector<WorkerInfo> ThreadExecutor::workers() const {
  std::vector<WorkerInfo> infos;
  if (!core_) return infos;
  for (int i = 0; i < core_->num_workers(); ++i) {
    infos.push_back(WorkerInfo{i, i, core_->host(), static_cast<long>(getpid())});
  }
  return infos;
}

std::uint64_t ThreadExecutor::reserve_call_ids(std::size_t count) {
  if (!core_) throw BrokenExecutor("spawnpool: this ThreadExecutor was moved from");
  return core_->reserve_ids(count);
}

void ThreadExecutor::enqueue(detail::WorkItem item) {
  if (!core_) throw BrokenExecutor("spawnpool: this ThreadExecutor was moved from");
  core_->enqueue(std::move(item));
}

void ThreadExecutor::enqueue_ranked(int ranks, detail::WorkItem item) {
  if (ranks != 1) {
    throw Error("spawnpool::ThreadExecutor: a k-rank task with TaskOptions::ranks(" +
                std::to_string(ranks) +
                ") needs that many processes; a ThreadExecutor runs tasks on threads of one "
                "process and only takes ranks(1). Use a spawnpool::Executor.");
  }
  enqueue(std::move(item));
}

}  // namespace spawnpool
