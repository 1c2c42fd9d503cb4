#include "forked_copy.hpp"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

namespace spawnpool::detail {

namespace {

std::atomic<pid_t> g_worker_pid{0};
/// Set in the child of every fork() since remember_serving_worker (the parent's stays false).
std::atomic<bool> g_forked_since_remembered{false};

}  // namespace

void remember_serving_worker() {
  static std::once_flag registered;
  std::call_once(registered, [] {
    pthread_atfork(nullptr, nullptr,
                   [] { g_forked_since_remembered.store(true, std::memory_order_relaxed); });
  });
  g_forked_since_remembered = false;
  g_worker_pid = getpid();
}

pid_t serving_worker_pid() noexcept { return g_worker_pid.load(std::memory_order_relaxed); }

bool is_forked_copy_of_worker() noexcept {
  const pid_t worker = g_worker_pid.load(std::memory_order_relaxed);
  return worker != 0 && g_forked_since_remembered.load(std::memory_order_relaxed) &&
         getpid() != worker;
}

}  // namespace spawnpool::detail
