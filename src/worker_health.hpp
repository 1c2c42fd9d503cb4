#pragma once
// When the engine checks on its workers, and what it concludes. Spawned workers get a heartbeat
// every second (they give up a silent manager); workers on the manager's host have their process
// checked every 0.1 s; a spawned worker silent past the heartbeat timeout is lost; so is a worker
// whose oldest message has run past the task timeout (once per call) plus kOverdueGrace while it
// has been silent for kOverdueGrace too: its own sentinel would have ended it, so it is stopped
// (SIGSTOP, a debugger) or stuck. Lost workers'
// processes are remembered until they are gone: a replacement is spawned only then (or after a
// grace period), because spawning while hydra still handles a dying process was seen to hang
// MPI_Comm_spawn. Not thread-safe: owned by the engine.

#include "worker_roster.hpp"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace spawnpool::detail {

class WorkerHealth {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kHeartbeatInterval{1};
  static constexpr std::chrono::milliseconds kCheckInterval{100};
  static constexpr std::chrono::seconds kDyingGrace{3};
  static constexpr std::chrono::seconds kOverdueGrace{2};

  /// `task_timeout`: Options::task_timeout (0: none).
  WorkerHealth(std::chrono::milliseconds heartbeat_timeout, std::chrono::milliseconds task_timeout);

  std::chrono::milliseconds heartbeat_timeout() const noexcept { return heartbeat_timeout_; }
  /// True when heartbeats are due (then not again for kHeartbeatInterval).
  bool heartbeat_due(clock::time_point now);
  /// True when the workers are due a check (then not again for kCheckInterval).
  bool check_due(clock::time_point now);

  enum class Verdict {
    kAlive,
    kProcessGone,  // its process on this host has ended
    kSilent,       // no message for the heartbeat timeout
    kOverdue,      // a task ran past the task timeout and the worker did not end it
  };
  /// What a check finds about a ready worker; `watched`: it sends heartbeats, the last of which
  /// (or its last message, if later) came at `heard`. `busy_is_silent`: a worker running a task
  /// may be silent (its serve loop sends the heartbeats: one sending thread, mpi_flavor.hpp).
  Verdict examine(const Worker& worker, bool watched, clock::time_point heard, bool busy_is_silent,
                  clock::time_point now) const;
  /// Why `worker`, with that verdict, is lost, for WorkerLost or Timeout.
  std::string cause(Verdict verdict, const Worker& worker) const;
  /// For kOverdue, what the task did, without a subject ("ran longer than the task timeout (500
  /// ms) and its worker did not end it (it is stuck)"), for a Timeout that names the task.
  std::string overdue_predicate(const Worker& worker) const;

  /// A lost worker whose process (on this host) may still be ending. `end_after_grace`: end it
  /// (SIGKILL) if it is still there after kDyingGrace (see end_overstaying).
  void note_dying(const Worker& worker, bool end_after_grace);
  /// True when every lost worker's process has ended or had its grace period.
  bool dying_processes_gone() const;
  /// Ends the lost workers' processes that may be ended and are still there after kDyingGrace,
  /// and forgets those that are gone or past it.
  void end_overstaying(clock::time_point now);

 private:
  std::chrono::milliseconds heartbeat_timeout_;
  std::chrono::milliseconds task_timeout_;
  clock::time_point next_heartbeat_;
  clock::time_point next_check_;
  struct Dying {
    long pid;
    clock::time_point lost_at;
    bool end_after_grace;
  };
  std::vector<Dying> dying_;
};

}  // namespace spawnpool::detail
