#include "worker_replacement.hpp"

#include "runtime_state.hpp"
#include "wire.hpp"

#include <spawnpool/detail/seconds_text.hpp>
#include <spawnpool/errors.hpp>

namespace spawnpool::detail {

WorkerReplacement::WorkerReplacement(const SpawnRequest& request, const Greeting& greeting,
                                     int worker_id, std::chrono::milliseconds timeout)
    : greeting_(greeting),
      worker_id_(worker_id),
      spawn_(start_spawn(request)),
      timeout_(timeout),
      deadline_(std::chrono::steady_clock::now() + timeout) {}

bool WorkerReplacement::advance() {
  try {
    return step();
  } catch (...) {
    if (link_) {
      // It may not have been greeted yet: a worker leaves on shutdown either way.
      link_->dismiss(0, greeting_.tag);
      link_->close(WorkerLink::Ending::kAbandon);
      link_.reset();
      // One that never answered and was not seen to end (stopped, stuck in its set-up) would
      // keep MPI_Finalize waiting for its connection for ever.
      if (silent_) runtime_state().peer_unreachable = true;
    }
    throw;
  }
}

bool WorkerReplacement::step() {
  if (!link_) {
    if (!spawn_.finished()) return false;
    link_ = std::make_unique<WorkerLink>(spawn_.take(), WorkerLink::Ownership::kWatched);
    link_->keep_start_watch(spawn_.take_start_watch());
    send_hello(link_->transport(), 0, greeting_.tag, greeting_.hello_for(worker_id_, deadline_));
    return true;
  }
  bool any = link_->transport().progress_sends();
  if (auto answer = receive_ready(link_->transport(), 0, greeting_)) {
    answer_ = std::move(answer->second);
    link_->end_start_watch();
    return true;
  }
  std::optional<LossReport> lost;
  try {
    lost = receive_loss_report(link_->transport(), 0);
  } catch (const wire::ProtocolError& e) {
    throw SpawnError(std::string("spawnpool: a replacement worker ended while it started, and its "
                                 "report cannot be read: ") + e.what());
  }
  if (lost) {
    throw SpawnError("spawnpool: a replacement worker ('" + greeting_.program +
                     "') ended while it started, before it answered: " + set_up_loss(*lost));
  }
  if (const auto ended = report_of_end(*link_, ended_seen_)) {
    throw SpawnError("spawnpool: a replacement worker ended after MPI_Init, before it answered: "
                     "the worker program " + *ended);
  }
  if (std::chrono::steady_clock::now() > deadline_) {
    silent_ = !ended_seen_;
    throw SpawnError("spawnpool: a replacement worker ('" + greeting_.program +
                     "') started but did not answer within the spawn timeout (" +
                     seconds_text(timeout_) + ")");
  }
  return any;
}

}  // namespace spawnpool::detail
