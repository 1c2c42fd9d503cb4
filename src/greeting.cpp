#include "greeting.hpp"

#include "wire.hpp"

#include <spawnpool/errors.hpp>
#include <spawnpool/version.hpp>

#include <algorithm>
#include <cstdint>

namespace spawnpool::detail {

Hello Greeting::hello_for(int worker_id, std::chrono::steady_clock::time_point deadline) const {
  Hello h = hello;
  h.worker_id = worker_id;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  h.setup_limit_ms = std::max<std::int64_t>(
      1, std::max(left.count() * 3 / 4, left.count() - std::int64_t{2000}));
  return h;
}

std::optional<std::string> report_of_end(
    WorkerLink& link, std::optional<std::chrono::steady_clock::time_point>& first_seen) {
  auto ended = link.ended_while_starting();
  if (!ended) return std::nullopt;
  const auto now = std::chrono::steady_clock::now();
  if (!first_seen) first_seen = now;
  if (now - *first_seen <= kReportAfterEndWait) return std::nullopt;
  return ended;
}

std::optional<LossReport> receive_loss_report(Transport& transport, int source) {
  while (auto in = transport.try_receive(source, wire::kControlTag)) {
    if (is(*in, wire::Kind::kLost)) return read_loss_report(in->bytes());
  }
  return std::nullopt;
}

std::optional<std::pair<int, Ready>> receive_ready(Transport& transport, int source,
                                                   const Greeting& greeting) {
  while (auto answer = receive_answer(transport, source, greeting)) {
    if (answer->ready) return std::make_pair(answer->source, std::move(*answer->ready));
  }
  return std::nullopt;
}

std::optional<GreetingAnswer> receive_answer(Transport& transport, int source,
                                             const Greeting& greeting) {
  try {
    while (auto in = transport.try_receive(source, greeting.tag)) {
      GreetingAnswer answer;
      answer.source = in->source;
      if (is(*in, wire::Kind::kReady)) {
        answer.ready = read_ready(in->bytes());
      } else if (is(*in, wire::Kind::kLost)) {
        answer.lost = read_loss_report(in->bytes());
      } else {
        continue;
      }
      return answer;
    }
    return std::nullopt;
  } catch (const wire::ProtocolError& e) {
    throw SpawnError("spawnpool: worker program '" + greeting.program +
                     "' answered in a way this manager (spawnpool " + version() + ", protocol " +
                     std::to_string(wire::kProtocolVersion) + ") does not understand: " + e.what());
  }
}

std::string set_up_loss(const LossReport& lost) {
  const std::string what =
      lost.task_name.empty() ? "its set-up" : "the initializer \"" + lost.task_name + "\"";
  if (lost.cause == LossReport::Cause::kTimeout) {
    return what + " ran longer than its share of the spawn timeout (" +
           std::to_string(lost.number) + " ms; Options::spawn_timeout) and was ended";
  }
  return lost.describe(what);
}

namespace {

/// How long the greeting waits for more ranks' reports after the first rank ended in its set-up.
constexpr std::chrono::seconds kMoreLossesWait{1};

/// The SpawnError's message for static ranks that ended in their set-up (rank, cause; at least one).
std::string set_up_losses_message(std::vector<std::pair<int, std::string>> losses,
                                  const std::string& program) {
  std::sort(losses.begin(), losses.end());
  if (losses.size() == 1) {
    return "spawnpool: rank " + std::to_string(losses[0].first) + " ('" + program +
           "') ended while it applied the worker set-up, before it answered: " + losses[0].second +
           "; the rank is lost for the rest of the job";
  }
  std::string ranks;
  std::string causes;
  bool one_cause = true;
  for (std::size_t i = 0; i < losses.size(); ++i) {
    ranks += (i == 0 ? "" : i + 1 == losses.size() ? " and " : ", ") + std::to_string(losses[i].first);
    causes += (i == 0 ? "" : "; ") + std::string("rank ") + std::to_string(losses[i].first) + ": " +
              losses[i].second;
    one_cause = one_cause && losses[i].second == losses[0].second;
  }
  return "spawnpool: ranks " + ranks + " ('" + program + "') ended while they applied the worker " +
         "set-up, before they answered: " + (one_cause ? losses[0].second + ", on each" : causes) +
         "; they are lost for the rest of the job";
}

void greet(std::vector<std::unique_ptr<WorkerLink>>& links, WorkerRoster& roster,
           const std::vector<std::size_t>& which, const Greeting& greeting,
           std::chrono::steady_clock::time_point deadline, PollSettings poll,
           const std::function<void(Worker&, const Ready&)>& on_ready,
           const std::function<void(Worker&, const LossReport&)>& on_lost) {
  for (std::size_t i : which) {
    send_hello(links[roster[i].link]->transport(), roster[i].rank, greeting.tag,
               greeting.hello_for(roster[i].id, deadline));
  }
  std::size_t waiting = which.size();
  std::vector<std::pair<int, std::string>> losses;  // ranks that ended in their set-up, and why
  std::optional<std::chrono::steady_clock::time_point> losses_until;
  std::optional<std::chrono::steady_clock::time_point> ended_seen;  // a start watch's report
  Backoff backoff(poll);
  while (waiting > 0 || !losses.empty()) {
    bool active = false;
    for (std::size_t l = 0; l < links.size(); ++l) {
      Transport& transport = links[l]->transport();
      active |= transport.progress_sends();
      // A spawned worker's link holds that one worker (rank 0): its report, while it starts.
      if (links[l]->watched() && roster[roster.index_of(l, 0)].state == WorkerState::kStarting) {
        std::optional<LossReport> lost;
        try {
          lost = receive_loss_report(transport, MPI_ANY_SOURCE);
        } catch (const wire::ProtocolError& e) {
          throw SpawnError(std::string("spawnpool: a worker ended while it started, and its report "
                                       "cannot be read: ") + e.what());
        }
        if (lost) {
          // It is ending by itself: the failed start awaits no goodbye from it (2 s, then no
          // MPI_Finalize for this process).
          roster.set_lost(roster[roster.index_of(l, 0)]);
          throw SpawnError("spawnpool: a worker ('" + greeting.program + "') ended while it " +
                           "started, before it answered: " + set_up_loss(*lost));
        }
        if (const auto ended = report_of_end(*links[l], ended_seen)) {
          throw SpawnError("spawnpool: a worker ended after MPI_Init, before it answered: the "
                           "worker program " + *ended);
        }
      }
      const auto answer = receive_answer(transport, MPI_ANY_SOURCE, greeting);
      if (!answer) continue;
      active = true;
      Worker& w = roster[roster.index_of(l, answer->source)];
      if (w.state != WorkerState::kStarting) continue;
      --waiting;
      if (answer->lost) {
        // Every rank met the same set-up: the others' reports (a hang ends them all at about the
        // same time) are taken in too, for a little while, so that each is known lost.
        on_lost(w, *answer->lost);
        w.state = WorkerState::kLost;
        losses.emplace_back(w.rank, set_up_loss(*answer->lost));
        if (!losses_until) {
          losses_until = std::min(deadline, std::chrono::steady_clock::now() + kMoreLossesWait);
        }
        continue;
      }
      links[l]->end_start_watch();  // a spawned worker's link holds only it
      on_ready(w, *answer->ready);
    }
    if (!losses.empty() && (waiting == 0 || std::chrono::steady_clock::now() > *losses_until)) {
      throw SpawnError(set_up_losses_message(losses, greeting.program));
    }
    if (active) {
      backoff.activity();
    } else if (std::chrono::steady_clock::now() > deadline) {
      throw SpawnError("spawnpool: " + std::to_string(waiting) + " of " +
                       std::to_string(which.size()) + " workers ('" + greeting.program +
                       "') did not answer within the spawn timeout after starting. A worker "
                       "program must create a spawnpool::Runtime at the top of main(), and its "
                       "set-up (Options::initializer) must finish within the spawn timeout.");
    } else {
      backoff.pause();
    }
  }
}

}  // namespace

void greet_workers(std::vector<std::unique_ptr<WorkerLink>>& links, WorkerRoster& roster,
                   const std::vector<std::size_t>& which, const Greeting& greeting,
                   std::chrono::steady_clock::time_point deadline, PollSettings poll,
                   const std::function<void(Worker&, const Ready&)>& on_ready,
                   const std::function<void(Worker&, const LossReport&)>& on_lost) {
  try {
    greet(links, roster, which, greeting, deadline, poll, on_ready, on_lost);
  } catch (const MpiError& e) {
    // A send to a worker that ended after MPI_Init, before it answered (its connection is gone).
    throw SpawnError("spawnpool: a worker ('" + greeting.program + "') ended while it started, " +
                     "before it answered: its connection failed (" + e.what() + ")");
  }
}

}  // namespace spawnpool::detail
