#include <spawnpool/detail/task_state.hpp>
#include <spawnpool/errors.hpp>

namespace spawnpool::detail {

bool TaskState::cancel() {
  Phase expected = Phase::kQueued;
  if (!phase_.compare_exchange_strong(expected, Phase::kCancelled)) return false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::make_exception_ptr(
        Cancelled("spawnpool: task \"" + task_name_ + "\" was cancelled before it ran"));
  }
  complete();
  return true;
}

void TaskState::set_value(SharedBytes result) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (completed_.load()) return;
    result_ = std::move(result);
    phase_.store(Phase::kDone);
  }
  complete();
}

void TaskState::set_decoded(std::shared_ptr<void> value) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (completed_.load()) return;
    decoded_ = std::move(value);
    phase_.store(Phase::kDone);
  }
  complete();
}

void TaskState::set_error(std::exception_ptr error) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (completed_.load()) return;
    error_ = std::move(error);
    if (phase_.load() != Phase::kCancelled) phase_.store(Phase::kDone);
  }
  complete();
}

void TaskState::complete() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    completed_.store(true, std::memory_order_release);
    callbacks.swap(callbacks_);
  }
  done_.notify_all();
  for (auto& callback : callbacks) callback();
}

void TaskState::set_driver(std::shared_ptr<DriverLink> driver) {
  std::lock_guard<std::mutex> lock(mutex_);
  driver_ = std::move(driver);
}

void TaskState::drive_until(std::chrono::steady_clock::time_point deadline) const {
  std::shared_ptr<DriverLink> driver;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (completed_.load()) return;
    driver = driver_;
  }
  if (driver) driver->drive(*this, deadline);
}

void TaskState::wait() const {
  if (ready()) return;
  drive_until(std::chrono::steady_clock::time_point::max());
  if (ready()) return;
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return completed_.load(); });
}

bool TaskState::wait_until(std::chrono::steady_clock::time_point deadline) const {
  if (ready()) return true;
  drive_until(deadline);
  if (ready()) return true;
  std::unique_lock<std::mutex> lock(mutex_);
  return done_.wait_until(lock, deadline, [this] { return completed_.load(); });
}

const SharedBytes& TaskState::result() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (error_) std::rethrow_exception(error_);
  return result_;
}

void TaskState::on_complete(std::function<void()> callback) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!completed_.load()) {
      callbacks_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

}  // namespace spawnpool::detail
