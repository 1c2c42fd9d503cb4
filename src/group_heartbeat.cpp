#include "group_heartbeat.hpp"

#include "abandoned_sends.hpp"
#include "environment.hpp"
#include "log.hpp"
#include "runtime_state.hpp"

#include <spawnpool/detail/mpi_call.hpp>

#include <algorithm>
#include <atomic>
#include <climits>

namespace spawnpool::detail {

namespace {

/// The timeout in ms; 0 until set_group_heartbeat_timeout (or a leader's heartbeat).
std::atomic<long long> g_timeout_ms{0};

}  // namespace

std::chrono::milliseconds group_heartbeat_timeout() noexcept {
  if (const long long ms = g_timeout_ms.load(); ms > 0) return std::chrono::milliseconds(ms);
  if (const auto seconds = env_integer_or_default(env::kHeartbeatTimeout); seconds && *seconds > 0) {
    return std::chrono::seconds(*seconds);
  }
  return std::chrono::seconds(25);
}

void set_group_heartbeat_timeout(std::chrono::milliseconds timeout) noexcept {
  if (timeout.count() > 0) g_timeout_ms.store(timeout.count());
}

GroupHeartbeat::GroupHeartbeat(Route route, int rank, const std::vector<int>& watched)
    : route_(std::move(route)), rank_(rank), next_send_(clock::now()) {
  // A second sending thread, as static ranks' heartbeats need (static_rank_heartbeats.hpp).
  if (runtime_state().thread_level < MPI_THREAD_MULTIPLE || kOneSendingThread) return;
  for (int r : watched) {
    Peer p;
    p.rank = r;
    p.comm_rank = route_.comm_ranks.empty() ? r : route_.comm_ranks[static_cast<std::size_t>(r)];
    p.last_heard = clock::now();
    peers_.push_back(p);
  }
}

GroupHeartbeat::~GroupHeartbeat() {
  if (peers_.empty()) return;
  const auto now = clock::now();
  auto lock = mpi_lock();
  for (Peer& p : peers_) {
    take_in(p, now);
    if (p.send == MPI_REQUEST_NULL) continue;
    int done = 0;
    MPI_Test(&p.send, &done, MPI_STATUS_IGNORE);
    if (!done) abandon_send({p.send}, p.payload);
  }
}

int GroupHeartbeat::unreachable(int rank, int code) const noexcept {
  try {
    log().warn("group rank {}: MPI cannot reach rank {} on another host: {}", rank_, rank,
               mpi_error_text(code));
  } catch (...) {
  }
  return rank;
}

bool GroupHeartbeat::take_in(Peer& p, clock::time_point now) noexcept {
  for (;;) {
    int found = 0;
    MPI_Message message;
    MPI_Status status;
    if (const int code = MPI_Improbe(p.comm_rank, route_.tag, route_.comm, &found, &message, &status);
        code != MPI_SUCCESS) {
      unreachable(p.rank, code);
      return false;
    }
    if (!found) return true;
    int value = 0;
    if (const int code = MPI_Mrecv(&value, 1, MPI_INT, &message, MPI_STATUS_IGNORE);
        code != MPI_SUCCESS) {
      unreachable(p.rank, code);
      return false;
    }
    p.last_heard = now;
    if (p.rank == 0 && value > 0) g_timeout_ms.store(value);  // the leader's timeout
  }
}

int GroupHeartbeat::check() noexcept {
  if (peers_.empty()) return -1;
  const auto now = clock::now();
  auto lock = mpi_lock();
  for (Peer& p : peers_) {
    if (!take_in(p, now)) return p.rank;
    // A heartbeat MPI could not deliver: the member's process is gone.
    if (p.send != MPI_REQUEST_NULL) {
      int done = 0;
      if (const int code = MPI_Test(&p.send, &done, MPI_STATUS_IGNORE); code != MPI_SUCCESS) {
        return unreachable(p.rank, code);
      }
    }
  }
  const auto timeout = group_heartbeat_timeout();
  for (const Peer& p : peers_) {
    if (now - p.last_heard > timeout) {
      try {
        log().warn("group rank {}: rank {} on another host was silent for {} ms", rank_, p.rank,
                   std::chrono::duration_cast<std::chrono::milliseconds>(now - p.last_heard).count());
      } catch (...) {
      }
      return p.rank;
    }
  }
  if (now < next_send_) return -1;
  next_send_ = now + kInterval;
  for (Peer& p : peers_) {
    if (p.send != MPI_REQUEST_NULL) continue;  // the last one is not out yet: no pile-up
    *p.payload = rank_ == 0 ? static_cast<int>(std::min<long long>(timeout.count(), INT_MAX)) : 0;
    if (const int code = MPI_Isend(p.payload.get(), 1, MPI_INT, p.comm_rank, route_.tag,
                                   route_.comm, &p.send);
        code != MPI_SUCCESS) {
      return unreachable(p.rank, code);
    }
  }
  return -1;
}

}  // namespace spawnpool::detail
