#include "finalize_within.hpp"

#include "spawn/launcher_guard.hpp"

#include <mpi.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

namespace spawnpool::detail {

void finalize_within(std::chrono::milliseconds limit, int status, const std::string& notice,
                     const std::function<void()>& before_leaving) noexcept {
  std::mutex mutex;
  std::condition_variable finalized;
  bool done = false;
  std::thread watchdog;
  try {
    watchdog = std::thread([&] {
      std::unique_lock<std::mutex> lock(mutex);
      if (finalized.wait_for(lock, limit, [&] { return done; })) return;
      std::fprintf(stderr, "%s\n", notice.c_str());
      std::fflush(nullptr);
      if (before_leaving) before_leaving();
      tell_launcher_finalized();
      _exit(status);
    });
  } catch (...) {
    // No thread: finalize without the bound.
  }
  MPI_Finalize();
  if (watchdog.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      done = true;
    }
    finalized.notify_one();
    watchdog.join();
  }
}

}  // namespace spawnpool::detail
