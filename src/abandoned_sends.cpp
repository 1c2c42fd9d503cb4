#include "abandoned_sends.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <new>
#include <utility>

namespace spawnpool::detail {

namespace {

using clock = std::chrono::steady_clock;

constexpr auto kSweepInterval = std::chrono::milliseconds(50);

struct KeptSend {
  std::vector<MPI_Request> requests;
  std::shared_ptr<const void> owner;
};

struct Kept {
  std::mutex mutex;
  std::vector<KeptSend> sends;
  std::atomic<std::size_t> count{0};
  clock::time_point next_sweep{};
};

/// Never destroyed: MPI may read a kept send's memory until the process ends (MPI_Finalize may
/// still flush a connection's queue after static destructors would have run).
Kept& kept() {
  static Kept* instance = new Kept;
  return *instance;
}

bool mpi_usable() noexcept {
  int finalized = 1;
  MPI_Finalized(&finalized);
  return !finalized;
}

/// True when MPI has completed every request (completed ones become MPI_REQUEST_NULL). A request
/// that fails completes too: MPI frees it and sets it to MPI_REQUEST_NULL.
bool completed(KeptSend& send) noexcept {
  bool all = true;
  for (MPI_Request& request : send.requests) {
    if (request == MPI_REQUEST_NULL) continue;
    int done = 0;
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (request != MPI_REQUEST_NULL) all = false;
  }
  return all;
}

/// Drops the completed sends from `sends`; the caller holds the mutex.
void release_completed(std::vector<KeptSend>& sends) noexcept {
  for (std::size_t i = 0; i < sends.size();) {
    if (completed(sends[i])) {
      sends[i] = std::move(sends.back());
      sends.pop_back();
    } else {
      ++i;
    }
  }
}

}  // namespace

void abandon_send(std::vector<MPI_Request> requests, std::shared_ptr<const void> owner) noexcept {
  if (!mpi_usable()) {
    // MPI has ended: it reads nothing any more.
    return;
  }
  KeptSend send;
  send.requests = std::move(requests);
  send.owner = std::move(owner);
  for (MPI_Request& request : send.requests) {
    if (request != MPI_REQUEST_NULL) MPI_Cancel(&request);
  }
  if (completed(send)) return;  // cancelled (or sent) at once: nothing to keep
  Kept& k = kept();
  std::lock_guard<std::mutex> lock(k.mutex);
  try {
    k.sends.push_back(std::move(send));
  } catch (...) {
    // Leaked rather than freed under MPI.
    (void)new (std::nothrow) std::shared_ptr<const void>(std::move(send.owner));
  }
  k.count.store(k.sends.size());
}

std::size_t sweep_abandoned_sends() noexcept {
  Kept& k = kept();
  if (k.count.load(std::memory_order_relaxed) == 0) return 0;
  std::unique_lock<std::mutex> lock(k.mutex, std::try_to_lock);
  if (!lock.owns_lock()) return k.count.load();
  const auto now = clock::now();
  if (now < k.next_sweep || !mpi_usable()) return k.sends.size();
  k.next_sweep = now + kSweepInterval;
  release_completed(k.sends);
  k.count.store(k.sends.size());
  return k.sends.size();
}

}  // namespace spawnpool::detail
