#pragma once
// The thread that runs Future::then continuations, one at a time in the order their futures
// completed, so that user code never runs on (and never stalls) an executor's progress thread or
// worker threads. Started on first use; intentionally never destroyed (it may be needed until the
// very end of the process, and a continuation must not race with static destruction).

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace spawnpool::detail {

class ContinuationThread {
 public:
  /// Queues `job`; never blocks for long (one mutex). Thread-safe.
  void post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }

  static ContinuationThread& instance() {
    static ContinuationThread* thread = new ContinuationThread();  // never deleted, see above
    return *thread;
  }

 private:
  ContinuationThread() { std::thread([this] { run(); }).detach(); }

  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();  // jobs catch their own exceptions
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
};

}  // namespace spawnpool::detail
