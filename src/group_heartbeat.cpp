#include "group_heartbeat.hpp"

#include "environment.hpp"
#include "log.hpp"
#include "runtime_state.hpp"

#include <spawnpool/detail/mpi_call.hpp>

#include <atomic>

namespace spawnpool::detail {

namespace {

constexpr int kBeatTag = 1;

/// The timeout in ms; 0 until set_group_heartbeat_timeout (or a leader's heartbeat).
std::atomic<long long> g_timeout_ms{0};

std::chrono::milliseconds heartbeat_timeout() noexcept {
  if (const long long ms = g_timeout_ms.load(); ms > 0) return std::chrono::milliseconds(ms);
  if (const auto seconds = env_integer_or_default(env::kHeartbeatTimeout); seconds && *seconds > 0) {
    return std::chrono::seconds(*seconds);
  }
  return std::chrono::seconds(25);
}

}  // namespace

std::chrono::milliseconds group_heartbeat_timeout() noexcept { return heartbeat_timeout(); }

void set_group_heartbeat_timeout(std::chrono::milliseconds timeout) noexcept {
  if (timeout.count() > 0) g_timeout_ms.store(timeout.count());
}

GroupHeartbeat::GroupHeartbeat(MPI_Comm comm, int rank, std::vector<int> watched)
    : comm_(comm), rank_(rank), next_send_(clock::now()) {
  if (runtime_state().thread_level < MPI_THREAD_MULTIPLE) return;
  watched_ = std::move(watched);
  for (int r : watched_) peers_.push_back(Peer{r, clock::now(), MPI_REQUEST_NULL, 0});
}

GroupHeartbeat::~GroupHeartbeat() {
  auto lock = mpi_lock();
  for (Peer& p : peers_) {
    if (p.send == MPI_REQUEST_NULL) continue;
    int done = 0;
    MPI_Test(&p.send, &done, MPI_STATUS_IGNORE);
    if (!done) {
      MPI_Cancel(&p.send);
      MPI_Request_free(&p.send);
    }
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

int GroupHeartbeat::check() noexcept {
  if (peers_.empty()) return -1;
  const auto now = clock::now();
  auto lock = mpi_lock();
  for (Peer& p : peers_) {
    // Take in what it sent (a leader's heartbeat carries its timeout).
    for (;;) {
      int found = 0;
      MPI_Message message;
      MPI_Status status;
      if (const int code = MPI_Improbe(p.rank, kBeatTag, comm_, &found, &message, &status);
          code != MPI_SUCCESS) {
        return unreachable(p.rank, code);
      }
      if (!found) break;
      long long value = 0;
      if (const int code = MPI_Mrecv(&value, 1, MPI_LONG_LONG, &message, MPI_STATUS_IGNORE);
          code != MPI_SUCCESS) {
        return unreachable(p.rank, code);
      }
      p.last_heard = now;
      if (p.rank == 0 && value > 0) g_timeout_ms.store(value);
    }
    // A heartbeat MPI could not deliver: the member's process is gone.
    if (p.send != MPI_REQUEST_NULL) {
      int done = 0;
      if (const int code = MPI_Test(&p.send, &done, MPI_STATUS_IGNORE); code != MPI_SUCCESS) {
        return unreachable(p.rank, code);
      }
    }
  }
  const auto timeout = heartbeat_timeout();
  for (const Peer& p : peers_) {
    if (now - p.last_heard > timeout) {
      log().warn("group rank {}: rank {} on another host was silent for {} ms", rank_, p.rank,
                 std::chrono::duration_cast<std::chrono::milliseconds>(now - p.last_heard).count());
      return p.rank;
    }
  }
  if (now < next_send_) return -1;
  next_send_ = now + kInterval;
  for (Peer& p : peers_) {
    if (p.send != MPI_REQUEST_NULL) continue;  // the last one is not out yet: no pile-up
    p.payload = rank_ == 0 ? static_cast<long long>(timeout.count()) : 0;
    if (const int code = MPI_Isend(&p.payload, 1, MPI_LONG_LONG, p.rank, kBeatTag, comm_, &p.send);
        code != MPI_SUCCESS) {
      return unreachable(p.rank, code);
    }
  }
  return -1;
}

void drain_group_heartbeats(MPI_Comm comm) noexcept {
  auto lock = mpi_lock();
  for (;;) {
    int found = 0;
    MPI_Message message;
    if (MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm, &found, &message, MPI_STATUS_IGNORE) !=
            MPI_SUCCESS ||
        !found) {
      return;
    }
    long long value = 0;
    MPI_Mrecv(&value, 1, MPI_LONG_LONG, &message, MPI_STATUS_IGNORE);
  }
}

}  // namespace spawnpool::detail
