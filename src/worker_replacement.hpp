#pragma once
// Starting one replacement worker (spawn mode) beside the work: the spawn runs on a helper thread
// and the greeting is polled, so that the engine keeps serving, and heartbeating, the other workers
// meanwhile (their patience is the heartbeat timeout; a spawn can take seconds, far longer under
// sanitizers or valgrind). Not thread-safe: owned by the engine.

#include "greeting.hpp"
#include "worker_link.hpp"

#include "spawn/launch.hpp"

#include <chrono>
#include <memory>
#include <optional>

namespace spawnpool::detail {

class WorkerReplacement {
 public:
  /// Starts spawning one worker as `request` says, to be greeted as worker `worker_id`; the whole
  /// start (spawn, greeting, answer) must end within `timeout`.
  /// @throws SpawnError when the program cannot be started
  WorkerReplacement(const SpawnRequest& request, const Greeting& greeting, int worker_id,
                    std::chrono::milliseconds timeout);

  /// One step without blocking: has the spawn returned (then greet the worker), has it answered.
  /// True when something happened.
  /// @throws SpawnError (or MpiError) when the start failed or timed out; the worker, if it was
  ///         started, has been told to leave and its link closed
  bool advance();
  /// The worker has answered: take_link() and answer() are valid.
  bool ready() const noexcept { return answer_.has_value(); }
  std::unique_ptr<WorkerLink> take_link() { return std::move(link_); }
  const Ready& answer() const { return *answer_; }
  int worker_id() const noexcept { return worker_id_; }

 private:
  bool step();

  const Greeting& greeting_;
  int worker_id_;
  PendingSpawn spawn_;
  std::chrono::milliseconds timeout_;
  std::chrono::steady_clock::time_point deadline_;
  std::unique_ptr<WorkerLink> link_;  // once the spawn has returned
  std::optional<Ready> answer_;
  std::optional<std::chrono::steady_clock::time_point> ended_seen_;  // the start watch's report
  bool silent_ = false;  // it timed out without a word, and was not seen to end
};

}  // namespace spawnpool::detail
