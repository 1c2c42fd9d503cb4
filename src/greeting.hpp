#pragma once
// The manager's half of starting a session with workers: send each the Hello, wait for its Ready.
// Used for the workers a pool starts with (greet_workers, blocking) and for a replacement worker
// (worker_replacement.hpp, polled).

#include "backoff.hpp"
#include "control_messages.hpp"
#include "worker_link.hpp"
#include "worker_roster.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace spawnpool::detail {

/// What a pool greets its workers with.
struct Greeting {
  int tag = 0;              // the session's tag (wire::session_tag)
  Hello hello;              // settings and set-up, the same for every worker
  std::string program;      // the worker program, for messages

  /// The Hello for the worker with id `worker_id` (worker_roster.hpp) whose answer must arrive
  /// before `deadline`: a group's rank 0 gets three quarters of the time left, or all but a second
  /// when that is longer, to set up its other ranks (Hello::setup_limit_ms), so that its answer
  /// (naming a rank that did not finish) arrives before the manager gives up.
  Hello hello_for(int worker_id, std::chrono::steady_clock::time_point deadline) const;
};

/// A worker being greeted reported its own end (a loss report on the control tag of a spawned
/// worker's link, `transport`, from `source`): its set-up crashed or, for a group's rank 0,
/// another rank of the group ended or did not finish its set-up. Heartbeats are skipped.
/// @throws wire::ProtocolError when the report cannot be read
std::optional<LossReport> receive_loss_report(Transport& transport, int source);

/// A Ready that has arrived on `transport` from `source` (or MPI_ANY_SOURCE) on the greeting's
/// tag, and the rank it came from; other messages on that tag are skipped.
/// @throws SpawnError when the worker answers in a way this manager cannot decode (most likely a
///         worker from another spawnpool build: the message says so, naming the program)
std::optional<std::pair<int, Ready>> receive_ready(Transport& transport, int source,
                                                   const Greeting& greeting);

/// Greets the workers `which` of `roster` (on their links, each with its id) and waits until every one has answered;
/// `on_ready` takes each answer.
/// @throws SpawnError when they do not all answer before `deadline`, when one of them reports
///         its end meanwhile (receive_loss_report, on watched links), or answer in another
///         protocol
void greet_workers(std::vector<std::unique_ptr<WorkerLink>>& links, WorkerRoster& roster,
                   const std::vector<std::size_t>& which, const Greeting& greeting,
                   std::chrono::steady_clock::time_point deadline, PollSettings poll,
                   const std::function<void(Worker&, const Ready&)>& on_ready);

}  // namespace spawnpool::detail
