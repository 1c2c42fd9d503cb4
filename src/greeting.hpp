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
  /// before `deadline`: three quarters of the time left, or all but two seconds when that is
  /// longer, for its set-up (Hello::setup_limit_ms: a group's rank 0 sets up its other ranks in
  /// it, a static rank ends when its own set-up outlasts it), so that its answer (naming a rank
  /// that did not finish, or its own end) arrives before the manager gives up.
  Hello hello_for(int worker_id, std::chrono::steady_clock::time_point deadline) const;
};

/// How long after a worker's start watch reported its end (WorkerLink::ended_while_starting) its
/// start waits on for the worker's own report (a crash in its set-up, sent before it ended), which
/// says more, before it fails with the watch's report.
inline constexpr std::chrono::milliseconds kReportAfterEndWait{500};

/// The start watch's report of the end of the worker on `link`, once it has been known for
/// kReportAfterEndWait (`first_seen`: when it was first known, kept by the caller); nothing
/// before that, or when the worker has not ended.
std::optional<std::string> report_of_end(WorkerLink& link,
                                         std::optional<std::chrono::steady_clock::time_point>& first_seen);

/// What a worker's report of its end during its set-up says, naming what ran: "the initializer
/// \"load\" called exit(0)" (the report's own words say "the task", as for a task's end), and a
/// timeout as the set-up's share of the spawn timeout.
std::string set_up_loss(const LossReport& lost);

/// A worker being greeted reported its own end (a loss report on the control tag of a spawned
/// worker's link, `transport`, from `source`): its set-up crashed or, for a group's rank 0,
/// another rank of the group ended or did not finish its set-up. Heartbeats are skipped.
/// @throws wire::ProtocolError when the report cannot be read
std::optional<LossReport> receive_loss_report(Transport& transport, int source);

/// What a worker being greeted sent on the greeting's tag: its Ready, or (a static or
/// communicator-mode rank, whose reports come on the session's tag) the report of its own end.
struct GreetingAnswer {
  int source = 0;                 // the rank it came from
  std::optional<Ready> ready;     // exactly one of these is set
  std::optional<LossReport> lost;
};

/// An answer that has arrived on `transport` from `source` (or MPI_ANY_SOURCE) on the greeting's
/// tag; other messages on that tag are skipped.
/// @throws SpawnError when the worker answers in a way this manager cannot decode (most likely a
///         worker from another spawnpool build: the message says so, naming the program)
std::optional<GreetingAnswer> receive_answer(Transport& transport, int source,
                                             const Greeting& greeting);

/// receive_answer's Ready, and the rank it came from; a loss report is skipped (a spawned
/// worker's comes on the control tag: receive_loss_report).
std::optional<std::pair<int, Ready>> receive_ready(Transport& transport, int source,
                                                   const Greeting& greeting);

/// Greets the workers `which` of `roster` (on their links, each with its id) and waits until every one has answered;
/// `on_ready` takes each answer. `on_lost` is told of a worker that reported its end before it
/// answered (then the SpawnError follows).
/// @throws SpawnError when they do not all answer before `deadline`, when one of them reports
///         its end meanwhile (receive_loss_report on watched links, receive_answer on shared
///         ones: a static rank whose set-up crashed or outlasted its limit; the message names the
///         rank and the cause), when a spawned one ends without a report (its link's start
///         watch, WorkerLink::ended_while_starting: killed, or ended in its set-up), when a send
///         to one fails (it ended after MPI_Init, before it answered), or answer in another
///         protocol
void greet_workers(std::vector<std::unique_ptr<WorkerLink>>& links, WorkerRoster& roster,
                   const std::vector<std::size_t>& which, const Greeting& greeting,
                   std::chrono::steady_clock::time_point deadline, PollSettings poll,
                   const std::function<void(Worker&, const Ready&)>& on_ready,
                   const std::function<void(Worker&, const LossReport&)>& on_lost);

}  // namespace spawnpool::detail
