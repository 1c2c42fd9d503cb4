#include <spawnpool/detail/progress_driver.hpp>

namespace spawnpool::detail {

void DriverLink::drive(const TaskState& state, std::chrono::steady_clock::time_point deadline) noexcept {
  ProgressDriver* driver = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (driver_ == nullptr) return;
    driver = driver_;
    ++active_;
  }
  driver->drive(state, deadline);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --active_;
  }
  idle_.notify_all();
}

void DriverLink::detach() noexcept {
  std::unique_lock<std::mutex> lock(mutex_);
  driver_ = nullptr;
  idle_.wait(lock, [this] { return active_ == 0; });
}

}  // namespace spawnpool::detail
