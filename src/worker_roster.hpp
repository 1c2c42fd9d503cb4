#pragma once
// The workers of one pool as the engine tracks them, and as other threads see them (workers(),
// stats()). The engine's thread owns the records: it reads them freely and changes what other
// threads read (identity, state, counters) only through the roster's methods, under its lock.
//
// Each worker has an id in its pool, which errors, workers(), stats(), the trace and log lines
// (the manager's and the worker's own, which learns it from its Hello) name it by: a static,
// communicator-mode or service rank's id is its rank; spawned workers, each rank 0 of its own
// communicator, are numbered 1..N in the order they are started, and a replacement takes the next
// number (ids are never reused within a pool: an id names one process).

#include "control_messages.hpp"

#include <spawnpool/detail/work_item.hpp>
#include <spawnpool/runtime.hpp>
#include <spawnpool/stats.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace spawnpool::detail {

/// A message sent to a worker and not answered yet.
struct SentMessage {
  std::shared_ptr<Buffer> message;
  OutOfBand out_of_band;  // kept (with its owners) to send again if the worker is lost
  std::vector<PendingCall> calls;
  /// Part of a k-rank call on a static group (PoolCore::dispatch_group): the members' indices in
  /// the roster, leader first (its message holds the call; the others' hold none). Empty otherwise.
  std::vector<std::size_t> group;
  bool spread_ranks = false;  // that call's TaskOptions::spread
};

enum class WorkerState { kStarting, kReady, kLost, kLeft };

struct Worker {
  int id = -1;           // its id in the pool (see the top of this file)
  std::size_t link = 0;  // index of its WorkerLink in the engine
  int rank = -1;         // its rank on that link's communicator
  std::string host;
  long pid = 0;
  bool same_host = false;  // on the manager's host: its process can be checked
  // Spawn mode: the host in the pool's HostPlan of each of its processes (one for a worker, k
  // for a group of k, its rank 0's first), if placed; empty otherwise.
  std::vector<std::size_t> placed_on;
  WorkerState state = WorkerState::kStarting;
  std::deque<SentMessage> sent;  // messages in flight, oldest (being run) first; engine only
  std::chrono::steady_clock::time_point last_heard;  // engine only
  // engine only: when its oldest message in flight began running, at the latest (when it was
  // sent to an idle worker, or when the message before it was answered)
  std::chrono::steady_clock::time_point front_started;
  std::uint64_t calls_answered = 0;
  std::uint64_t busy_ns = 0;

  /// "worker 2 (pid 1234, host node17)"
  std::string describe() const;
};

class WorkerRoster {
 public:
  std::size_t size() const noexcept { return workers_.size(); }
  Worker& operator[](std::size_t i) noexcept { return workers_[i]; }
  const Worker& operator[](std::size_t i) const noexcept { return workers_[i]; }
  std::vector<Worker>::iterator begin() noexcept { return workers_.begin(); }
  std::vector<Worker>::iterator end() noexcept { return workers_.end(); }
  std::vector<Worker>::const_iterator begin() const noexcept { return workers_.begin(); }
  std::vector<Worker>::const_iterator end() const noexcept { return workers_.end(); }

  /// Adds a worker; returns its index.
  std::size_t add(Worker worker);
  /// The worker at `rank` of link `link`.
  /// @throws wire::ProtocolError when no worker of this pool is there
  std::size_t index_of(std::size_t link, int rank) const;
  /// Takes a worker's Ready answer: its identity; it is ready now.
  void set_ready(Worker& worker, const Ready& ready, const std::string& manager_host);
  /// Marks a worker lost (false if it was lost or had left already); counts its running calls
  /// as failed.
  bool set_lost(Worker& worker);
  /// The worker said goodbye.
  void set_left(Worker& worker);
  /// A message of `calls` calls, `ok` of which succeeded, answered after `busy_ns` of work.
  void count_answers(Worker& worker, std::uint64_t calls, std::uint64_t ok, std::uint64_t busy_ns);
  void count_failed(std::uint64_t calls);
  void count_cancelled(std::uint64_t calls);
  /// A lost worker was not replaced: no host had room (Stats::workers_not_replaced).
  void count_not_replaced();
  /// `host` was found lost (Stats::lost_hosts); false when it was already.
  bool add_lost_host(const std::string& host);

  /// Workers that were ready and not lost (those that left at shutdown included). Thread-safe.
  int live() const;
  /// Id, rank, host and pid of each ready worker. Thread-safe.
  std::vector<WorkerInfo> infos() const;
  /// A snapshot of the counters, `submitted` (read under the roster's lock, so that a snapshot
  /// never counts more calls ended than submitted) included. Thread-safe.
  Stats stats(const std::atomic<std::uint64_t>& submitted) const;

 private:
  mutable std::mutex mutex_;  // guards what other threads read (see the top of this file)
  std::vector<Worker> workers_;
  std::uint64_t completed_ = 0, failed_ = 0, cancelled_ = 0, workers_lost_ = 0;
  std::uint64_t not_replaced_ = 0;
  std::vector<std::string> lost_hosts_;
};

}  // namespace spawnpool::detail
