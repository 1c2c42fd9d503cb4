// The pool engine's progress loop: sending work, receiving results and control messages, watching
// and replacing workers; run by the progress thread, or by a thread waiting for a future (drive).
#include "pool_core.hpp"

#include "group_ranks.hpp"
#include "log.hpp"
#include "one_line_reason.hpp"
#include <spawnpool/detail/mpi_call.hpp>
#include "process_check.hpp"
#include "result_delivery.hpp"
#include "runtime_state.hpp"
#include "static_rank_heartbeats.hpp"
#include "static_rank_end.hpp"
#include "control_messages.hpp"

#include <spawnpool/detail/packed_chunk.hpp>
#include <spawnpool/errors.hpp>

#include <algorithm>
#include <cstring>
#include <utility>

namespace spawnpool::detail {

namespace {

using clock = std::chrono::steady_clock;

// A submit wakes the progress thread only from a sleep at least this long (it sends the work
// itself); shorter sleeps delay a result nobody waits for by less than this.
constexpr auto kLongSleep = std::chrono::microseconds(500);

/// Set while this thread does a pool's progress work: a completion callback that waits for a
/// future from there must not start driving (it would wait for the engine it holds), and a submit
/// from there must not dispatch (it would re-enter the engine).
thread_local bool t_in_progress_work = false;
struct InProgressWork {
  InProgressWork() { t_in_progress_work = true; }
  ~InProgressWork() { t_in_progress_work = false; }
};

/// MPI_Comm_create_group's tag of the next static group: unique among the groups in flight (any
/// executor of this process), within the 32767 every MPI allows.
int next_static_group_tag() {
  static std::atomic<unsigned> next{0};
  return static_cast<int>(1 + next.fetch_add(1) % 32000);
}

/// Held while an executor sends a group's kGroup messages (see dispatch_group).
std::mutex& static_group_send_order() {
  static std::mutex order;
  return order;
}

/// Claims the calls of `item` for sending: false when every one was cancelled meanwhile.
bool claim(WorkItem& item, WorkerRoster& roster) {
  if (item.requeued) return true;
  bool any = false;
  std::uint64_t cancelled = 0;
  for (auto& call : item.calls) {
    const bool sent = call.state->mark_sent();
    any |= sent;
    cancelled += sent ? 0 : call.state->calls_held();
  }
  if (cancelled) roster.count_cancelled(cancelled);
  return any;
}

/// The body (entries) of an item's message.
ByteSpan entries_of(const WorkItem& item) {
  return ByteSpan{item.message.data() + wire::kHeaderSize, item.message.size() - wire::kHeaderSize};
}

}  // namespace

bool PoolCore::dispatch_now() noexcept {
  if (kOneSendingThread || t_in_progress_work) return false;
  std::unique_lock<std::mutex> engine(engine_, std::try_to_lock);
  if (!engine.owns_lock() || finished_ || driver_error_) return false;
  try {
    InProgressWork marker;
    auto lock = mpi_lock();
    take_queued();
    dispatch();
  } catch (...) {
    driver_error_ = std::current_exception();
    return false;
  }
  return true;
}

bool PoolCore::take_queued() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (submitted_.empty()) return false;
  queue_.append(submitted_);
  return true;
}

bool PoolCore::dispatch() {
  bool sent = false;
  if (broken_) return false;
  while (!queue_.empty()) {
    if (queue_.front().ranks > 1) {
      if (!dispatch_group()) break;
      sent = true;
      continue;
    }
    const auto choice = policy_.choose(roster_.size(), [this](std::size_t i) -> std::optional<int> {
      if (roster_[i].state != WorkerState::kReady) return std::nullopt;
      // A member of a k-rank call's group takes nothing else until the call is over.
      if (!roster_[i].sent.empty() && !roster_[i].sent.front().group.empty()) return std::nullopt;
      return static_cast<int>(roster_[i].sent.size());
    });
    if (!choice) break;
    const std::size_t with_first = queue_.calls();
    WorkItem first = queue_.pop_front(
        policy_.most_calls_per_message(with_first, static_cast<std::size_t>(roster_.live())));
    if (!claim(first, roster_)) continue;

    // Pack more small single calls into the same message when the queue is long enough that every
    // free slot would still get work. (Items with out-of-band blocks go alone: they are large.)
    std::vector<WorkItem> batch;
    const std::size_t share = policy_.calls_per_message(with_first, choice->free_slots);
    std::size_t batch_bytes = first.message.size();
    while (first.calls.size() == 1 && first.out_of_band.empty() && batch.size() + 1 < share &&
           !queue_.empty() && queue_.front().calls.size() == 1 && queue_.front().ranks == 1 &&
           queue_.front().out_of_band.empty() &&
           SchedulingPolicy::fits(batch_bytes, queue_.front().message.size())) {
      WorkItem next = queue_.pop_front();
      if (!claim(next, roster_)) continue;
      batch_bytes += next.message.size() - wire::kHeaderSize;
      batch.push_back(std::move(next));
    }

    SentMessage message;
    message.calls = std::move(first.calls);
    message.out_of_band = std::move(first.out_of_band);
    if (batch.empty()) {
      message.message = std::make_shared<Buffer>(std::move(first.message));
    } else {
      message.message = std::make_shared<Buffer>(batch_bytes);
      const ByteSpan head = entries_of(first);
      char* out = wire::put_bytes(message.message->data() + wire::kHeaderSize, head.data, head.size);
      for (auto& item : batch) {
        const ByteSpan entries = entries_of(item);
        out = wire::put_bytes(out, entries.data, entries.size);
        for (auto& call : item.calls) message.calls.push_back(std::move(call));
      }
    }
    send_message(choice->worker, std::move(message));
    sent = true;
  }
  return sent;
}

bool PoolCore::dispatch_group() {
  const auto ranks = static_cast<std::size_t>(queue_.front().ranks);
  const bool spread = queue_.front().spread_ranks;
  // Packed on one host, or spread over the hosts (group_ranks.hpp).
  std::vector<std::string> hosts;
  std::vector<bool> idle;
  std::vector<std::string> live_hosts;
  for (const Worker& w : roster_) {
    hosts.push_back(w.host);
    idle.push_back(w.state == WorkerState::kReady && w.sent.empty());
    if (w.state == WorkerState::kReady) live_hosts.push_back(w.host);
  }
  // Spread: on as many hosts as the live ranks allow (it waits for ranks there to be idle).
  const std::size_t spread_hosts = std::min(ranks, distinct_hosts(live_hosts));
  const std::vector<std::size_t> members =
      choose_group_ranks(hosts, idle, ranks, spread, spread_hosts);
  if (members.empty()) {
    const std::size_t usable = spread ? live_hosts.size() : most_ranks_on_one_host(live_hosts);
    if (usable < ranks) {
      // Ranks were lost since it was submitted: it can never run.
      WorkItem item = queue_.pop_front();
      const auto error = std::make_exception_ptr(WorkerLost(
          "spawnpool: a task of " + std::to_string(ranks) + " ranks cannot run: only " +
          std::to_string(roster_.live()) + " workers of the pool are left" +
          (spread ? std::string()
                  : ", at most " + std::to_string(usable) + " of them on one host (a packed " +
                        "task's ranks share a host; TaskOptions::spread lifts that)")));
      roster_.count_failed(calls_held(item.calls));
      for (auto& call : item.calls) call.state->set_error(error);
      return true;
    }
    return false;
  }
  WorkItem item = queue_.pop_front();
  if (!claim(item, roster_)) return true;
  StaticGroup formed;
  formed.tag = next_static_group_tag();
  for (std::size_t i : members) {
    formed.ranks.push_back(roster_[i].rank);
    formed.pids.push_back(roster_[i].pid);
    formed.hosts.push_back(roster_[i].host);
  }
  const auto now = clock::now();
  try {
    // Every member takes its kGroup messages in one order (the executors of this process send
    // them under one lock), so that two groups sharing ranks never wait for each other.
    std::lock_guard<std::mutex> order(static_group_send_order());
    for (std::size_t i : members) {
      Worker& w = roster_[i];
      send_static_group(links_[w.link]->transport(), w.rank, setup_.tag, formed);
    }
    for (std::size_t m = 1; m < members.size(); ++m) {
      Worker& w = roster_[members[m]];
      SentMessage share;
      share.group = members;
      w.front_started = now;
      w.sent.push_back(std::move(share));
    }
    SentMessage message;
    message.message = std::make_shared<Buffer>(std::move(item.message));
    message.out_of_band = std::move(item.out_of_band);
    message.calls = std::move(item.calls);
    message.group = members;
    message.spread_ranks = spread;
    send_message(members[0], std::move(message));
  } catch (const MpiError& e) {
    for (std::size_t i : members) {
      lose_worker(i, std::string("MPI failed sending to it: ") + e.what(), 0, "");
    }
  }
  return true;
}

void PoolCore::send_message(std::size_t index, SentMessage message) {
  Worker& w = roster_[index];
  const auto count = static_cast<std::uint32_t>(message.calls.size());
  auto bytes = message.message;
  OutOfBand out_of_band = message.out_of_band;
  if (w.sent.empty()) w.front_started = clock::now();
  w.sent.push_back(std::move(message));
  try {
    links_[w.link]->transport().send(w.rank, setup_.tag, wire::Kind::kTasks, count,
                                      std::move(bytes), 0, std::move(out_of_band));
  } catch (const MpiError& e) {
    lose_worker(index, std::string("MPI failed sending to it: ") + e.what(), 0, "");
  }
}

bool PoolCore::receive() {
  bool any = false;
  for (std::size_t l = 0; l < links_.size(); ++l) {
    Transport& transport = links_[l]->transport();
    for (int i = 0; i < 64; ++i) {
      auto in = transport.try_receive(MPI_ANY_SOURCE, setup_.tag);
      if (!in) break;
      any = true;
      const std::size_t w = roster_.index_of(l, in->source);
      if (roster_[w].state == WorkerState::kLost && !is(*in, wire::Kind::kLost)) {
        // A static or communicator-mode rank given up (silent) that spoke again (continued after
        // a stop, or ended by end_static_rank while its task returned): its calls were
        // failed or sent elsewhere when it was lost, and it is not taken back.
        log().debug("ignoring a late message (kind {}) from {}, which was lost", in->header.kind,
                    roster_[w].describe());
        continue;
      }
      roster_[w].last_heard = clock::now();
      if (is(*in, wire::Kind::kResults)) {
        handle_results(w, *in, transport);
        // A waiting thread's result is in and no other results are on their way: one more look
        // would only cost that thread an MPI progress call (with MPICH ch3 a poll() of its
        // sockets, ~1 us) before it sees the result. A synchronous round trip saves it each time.
        if (awaited_ != nullptr && awaited_->ready() && nothing_in_flight()) return true;
      } else if (is(*in, wire::Kind::kBye)) {
        roster_.set_left(roster_[w]);
      } else if (is(*in, wire::Kind::kLost) && !links_[l]->watched()) {
        take_loss_report(w, *in);  // a static or communicator-mode rank's (worker_sentinel.hpp)
      } else {
        throw wire::ProtocolError("spawnpool: unexpected message kind " +
                                  std::to_string(in->header.kind) + " from " +
                                  roster_[w].describe());
      }
    }
  }
  return any;
}

bool PoolCore::static_heartbeats() const {
  return setup_.mode == Mode::static_world &&
         static_ranks_send_heartbeats(runtime_state().thread_level);
}

void PoolCore::receive_static_heartbeats() {
  if (!static_heartbeats()) return;
  for (auto& link : links_) {
    if (link->owned()) continue;
    while (auto in = link->transport().try_receive(MPI_ANY_SOURCE, wire::kControlTag)) {
      record_static_heartbeat(in->source);
    }
  }
}

bool PoolCore::receive_control() {
  bool any = false;
  for (std::size_t l = 0; l < links_.size(); ++l) {
    if (!links_[l]->watched()) continue;
    while (auto in = links_[l]->transport().try_receive(MPI_ANY_SOURCE, wire::kControlTag)) {
      const std::size_t w = roster_.index_of(l, in->source);
      roster_[w].last_heard = clock::now();
      // Heartbeats are not activity: they must not keep an idle pool from backing off.
      if (is(*in, wire::Kind::kLost)) {
        any = true;
        take_loss_report(w, *in);
      }
    }
  }
  return any;
}

void PoolCore::take_loss_report(std::size_t index, const Transport::Incoming& in) {
  try {
    const LossReport report = read_loss_report(in.bytes());
    lose_worker(index, report.describe(), report.call_id, report.timeout_predicate(), true);
  } catch (const wire::ProtocolError& e) {
    // The worker is ending either way: its process check or its silence will tell.
    log().warn("{} sent a loss report that cannot be read: {}", roster_[index].describe(), e.what());
  }
}

void PoolCore::send_heartbeats_if_due(clock::time_point now) {
  if (!health_.heartbeat_due(now)) return;
  // Spawned workers and a pool service's ranks give up a silent manager or client.
  const bool to_service = setup_.mode == Mode::service;
  std::vector<std::pair<std::size_t, std::string>> unreachable;
  for (std::size_t i = 0; i < roster_.size(); ++i) {
    const Worker& w = roster_[i];
    if (w.state != WorkerState::kReady || !(links_[w.link]->watched() || to_service)) continue;
    try {
      send_signal(links_[w.link]->transport(), w.rank, wire::kControlTag, wire::Kind::kHeartbeat);
    } catch (const MpiError& e) {
      // MPI refuses to send once the connection to the worker's process broke (MPICH: the peer's
      // socket closed): on another host this is the first sign of its death (no process check
      // can see it). On this host the process check names the cause better.
      if (!w.same_host) unreachable.emplace_back(i, one_line_reason(e));
    }
  }
  for (const auto& [index, error] : unreachable) {
    lose_worker(index, "its connection broke, its process was killed or its host failed (" +
                           std::string(error) + ")", 0, "");
  }
}

bool PoolCore::watch_workers() {
  const auto now = clock::now();
  bool any = false;
  send_heartbeats_if_due(now);
  if (!health_.check_due(now)) return false;
  // Taken in here, every kCheckInterval, not on every turn: one heartbeat a second per rank, and
  // the static round trip's hot loop keeps its probes. Not activity: they must not keep an idle
  // pool from backing off.
  receive_static_heartbeats();
  health_.end_overstaying(now);
  const bool static_watched = static_heartbeats();
  for (std::size_t i = 0; i < roster_.size(); ++i) {
    Worker& w = roster_[i];
    clock::time_point heard = w.last_heard;
    if (static_watched) {
      if (const auto beat = last_static_heartbeat(w.rank)) heard = std::max(heard, *beat);
    }
    const auto verdict = health_.examine(w, links_[w.link]->watched() || static_watched, heard,
                                         kOneSendingThread, now);
    if (verdict == WorkerHealth::Verdict::kAlive) continue;
    if (static_watched && verdict == WorkerHealth::Verdict::kSilent) {
      // Its node stopped answering: the rank is gone for every executor, later ones included, and
      // ~Runtime must neither release it nor wait for it in MPI_Finalize.
      mark_static_rank_lost(w.rank);
    }
    if (verdict == WorkerHealth::Verdict::kProcessGone) {
      // Its own report, if it sent one, is already on the way: give it a moment to arrive (a
      // static or communicator-mode rank's comes on its session's tag, with the results).
      for (int attempt = 0; attempt < 20 && w.state == WorkerState::kReady; ++attempt) {
        receive_control();
        if (!links_[w.link]->watched()) receive();
        if (w.state == WorkerState::kReady) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    if (w.state == WorkerState::kReady) {
      if (verdict == WorkerHealth::Verdict::kSilent && setup_.spawn && !w.same_host) {
        check_host_of_silent_worker(i);
      }
      lose_worker(i, health_.cause(verdict, w), 0,
                  verdict == WorkerHealth::Verdict::kOverdue ? health_.overdue_predicate(w) : "");
      // A silent static rank on this host is stopped or stuck: it would keep the job from ever
      // ending (its launcher waits for it). It is made to exit 0 (static_rank_end.hpp), so that
      // the job's status stays main's; it is lost for the job already (above).
      if (static_watched && verdict == WorkerHealth::Verdict::kSilent && w.same_host &&
          !process_gone(w.pid)) {
        log().info("{} is silent on this host: asking it to end", w.describe());
        end_static_rank(w.pid);
      }
    }
    any = true;
  }
  return any;
}

void PoolCore::handle_results(std::size_t index, const Transport::Incoming& in,
                              Transport& transport) {
  Worker& worker = roster_[index];
  if (worker.sent.empty()) {
    throw wire::ProtocolError("spawnpool: results from " + worker.describe() +
                              ", which has no task in flight");
  }
  SentMessage done = std::move(worker.sent.front());
  worker.sent.pop_front();
  worker.front_started = clock::now();  // the next message began before this, if at all
  policy_.record_busy_time(in.header.aux, in.header.count);
  const std::vector<wire::ResultView> results =
      wire::decode_results(in.header, ByteSpan{in.message->data(), in.message->size()});
  // The state each result completes, in order.
  std::vector<std::shared_ptr<TaskState>> states;
  states.reserve(results.size());
  std::size_t next = 0;
  for (const wire::ResultView& r : results) {
    while (next < done.calls.size() && done.calls[next].id != r.id) ++next;
    if (next == done.calls.size()) {
      throw wire::ProtocolError("spawnpool: " + worker.describe() + " answered call " +
                                std::to_string(r.id) + ", which it was not sent");
    }
    states.push_back(std::move(done.calls[next++].state));
  }
  done = SentMessage{};  // the arguments are not needed any more
  std::vector<DecodedResult> decoded;
  try {
    decoded = receive_decoded_results(transport, in, results, states, [this, &worker] {
      // Receiving gigabytes can take longer than a worker waits for word from its manager.
      send_heartbeats_if_due(clock::now());
      return worker.same_host && process_gone(worker.pid);
    });
  } catch (const Error& e) {  // Timeout, MpiError: the worker died while sending its results
    if (!dynamic_cast<const Timeout*>(&e) && !dynamic_cast<const MpiError*>(&e)) throw;
    const std::string cause =
        std::string("it ended while sending a result's out-of-band bytes (") + e.what() + ")";
    std::uint64_t lost = 0;
    for (const auto& state : states) lost += state->calls_held();
    roster_.count_failed(lost);
    for (const auto& state : states) {
      state->set_error(std::make_exception_ptr(WorkerLost(
          "spawnpool: " + worker.describe() + " was lost while running task \"" +
          state->task_name() + "\": " + cause)));
    }
    lose_worker(index, cause, 0, "");
    return;
  }
  // Counted before any future completes, so that whoever sees a result sees it counted. A packed
  // chunk's result counts each call it holds (packed_chunk.hpp).
  std::uint64_t answered = 0;
  std::uint64_t ok = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const bool succeeded = results[i].status == wire::ResultStatus::kOk;
    if (succeeded && states[i]->packed_calls() != 0) {
      const PackedCounts counts = packed_counts(results[i].payload);
      answered += counts.calls;
      ok += counts.calls - counts.failed;
    } else {
      answered += 1;
      ok += succeeded ? 1 : 0;
    }
  }
  roster_.count_answers(worker, answered, ok, in.header.aux);
  if (observer_) {
    std::vector<FinishedCall> calls;
    calls.reserve(results.size());
    for (std::size_t i = 0; i < results.size(); ++i) {
      const wire::ResultView& r = results[i];
      calls.push_back(FinishedCall{r.id, r.started_us, r.ended_us,
                                   r.status == wire::ResultStatus::kOk, states[i]->task_name()});
    }
    observer_->calls_finished(worker, calls);
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    const wire::ResultView& r = results[i];
    deliver_result(*states[i], r, in.message, decoded[i], worker);
    states[i].reset();
  }
}

void PoolCore::lose_worker(std::size_t index, const std::string& cause, std::uint64_t running_call,
                           const std::string& timeout_predicate, bool reported) {
  Worker& w = roster_[index];
  if (!roster_.set_lost(w)) return;
  if (links_[w.link]->watched()) links_[w.link]->transport().abandon_sends();  // its own link only
  // A shared rank (static, communicator mode) runs one message at a time for all executors: its
  // report names no call when it was running another executor's message (or none), and then
  // nothing it had from this executor ever started.
  const bool front_ran = !(reported && running_call == 0 && !links_[w.link]->owned());
  if (!w.sent.empty() && !w.sent.front().group.empty() && w.sent.front().group.front() != index) {
    // A follower of a k-rank call: the call (its leader's) fails naming it. The leader and the
    // other members end or come back by themselves (rank_group.hpp).
    lose_group_member(index, cause, timeout_predicate);
  }
  if (!w.sent.empty() && front_ran) {
    // The oldest message was being run: its calls are lost with the worker.
    for (const PendingCall& call : w.sent.front().calls) {
      if (!timeout_predicate.empty() && (call.id == running_call || running_call == 0)) {
        call.state->set_error(std::make_exception_ptr(
            Timeout("spawnpool: task \"" + call.state->task_name() + "\" " + timeout_predicate +
                    (setup_.spawn ? "; its worker was ended and replaced"
                                  : "; its rank was ended (the pool goes on without it)"))));
      } else {
        call.state->set_error(std::make_exception_ptr(
            WorkerLost("spawnpool: " + w.describe() + " was lost while running task \"" +
                       call.state->task_name() + "\": " + cause)));
      }
    }
    w.sent.pop_front();
  }
  if (!w.sent.empty()) {
    // Later messages never started: send them again, in their order, to other workers.
    for (auto it = w.sent.rbegin(); it != w.sent.rend(); ++it) {
      if (!it->message) continue;  // a follower's share of a k-rank call: nothing to send again
      WorkItem again;
      if (!it->group.empty()) {
        again.ranks = static_cast<int>(it->group.size());
        again.spread_ranks = it->spread_ranks;
      }
      again.message = Buffer(it->message->size());
      std::memcpy(again.message.data(), it->message->data(), it->message->size());
      again.out_of_band = std::move(it->out_of_band);
      again.calls = std::move(it->calls);
      again.requeued = true;
      queue_.push_front(std::move(again));
    }
    w.sent.clear();
  }
  setup_.hosts.release_processes(std::exchange(w.placed_on, {}));
  log().warn("{} was lost: {}", w.describe(), cause);
  if (observer_) observer_->worker_lost(w, cause);
  if (setup_.spawn) ++replacements_wanted_;
  // Only a rank known dead is left out from now on (one that missed the shutdown timeout while it
  // ran another executor's task is alive).
  if (setup_.mode == Mode::static_world && (reported || (w.same_host && process_gone(w.pid)))) {
    mark_static_rank_lost(w.rank);
  }
  // A lost spawned worker may be stopped or stuck (it would keep the program from ending): it is
  // made to go, at once when it said nothing, after WorkerHealth::kDyingGrace when it reported its
  // own end (it may still be flushing output or running exit handlers). Its guard then tells the
  // launcher it ended (spawn/launcher_guard.hpp). Service ranks are never signalled; a static rank
  // only when it is silent on this host (watch_workers, static_rank_end.hpp).
  const bool may_end = setup_.spawn.has_value() && w.same_host;
  if (!w.same_host && !reported) runtime_state().peer_unreachable = true;
  health_.note_dying(w, may_end);
  if (may_end && !reported) end_process(w.pid);
}

void PoolCore::lose_group_member(std::size_t index, const std::string& cause,
                                 const std::string& timeout_predicate) {
  const std::vector<std::size_t>& members = roster_[index].sent.front().group;
  const Worker& leader = roster_[members.front()];
  if (leader.sent.empty() || leader.sent.front().group != members) return;
  const auto position = std::find(members.begin(), members.end(), index) - members.begin();
  for (const PendingCall& call : leader.sent.front().calls) {
    if (!timeout_predicate.empty()) {
      call.state->set_error(std::make_exception_ptr(
          Timeout("spawnpool: task \"" + call.state->task_name() + "\" " + timeout_predicate)));
    } else {
      call.state->set_error(std::make_exception_ptr(WorkerLost(
          "spawnpool: rank " + std::to_string(position) + " of the task's " +
          std::to_string(members.size()) + " ranks, " + roster_[index].describe() +
          ", was lost while running task \"" + call.state->task_name() + "\": " + cause)));
    }
  }
}

// Advances the start of a replacement worker by one step without blocking (worker_replacement.hpp)
// once the lost worker's process is gone. True when something happened.
bool PoolCore::replace_lost_workers() {
  bool any = false;
  if (!replacement_ && replacements_wanted_ > 0 && health_.dying_processes_gone()) {
    --replacements_wanted_;
    auto placed = request_for_next_worker();
    if (!placed) {
      shrink_pool();
      return true;
    }
    placed->request.timeout = setup_.start_timeout;
    replacement_hosts_ = std::move(placed->hosts);
    try {
      replacement_ = std::make_unique<WorkerReplacement>(placed->request, greeting_,
                                                         next_spawned_id_++, setup_.start_timeout);
    } catch (const std::exception& e) {
      give_up_replacing(e.what());
    }
    any = true;
  } else if (replacement_) {
    try {
      any = replacement_->advance();
      if (replacement_->ready()) {
        const std::size_t index = add_spawned(replacement_->take_link(), replacement_->worker_id(),
                                              std::exchange(replacement_hosts_, {}));
        take_ready(roster_[index], replacement_->answer());
        log().debug("{} ready (replacement)", roster_[index].describe());
        replacement_.reset();
      }
    } catch (const std::exception& e) {
      give_up_replacing(e.what());
      any = true;
    }
  }
  if (!replacement_ && replacements_wanted_ == 0 && roster_.live() == 0 && !queue_.empty()) {
    queue_.fail_all(std::make_exception_ptr(BrokenExecutor(
        "spawnpool: every worker of the pool was lost and none could be replaced" +
        (replacement_failure_.empty() ? std::string() : ": " + replacement_failure_))));
    any = true;
  }
  return any;
}

void PoolCore::give_up_replacing(const std::string& reason) {
  log().error("could not start a replacement worker: {}", reason);
  setup_.hosts.release_processes(std::exchange(replacement_hosts_, {}));
  replacement_.reset();
  replacements_wanted_ = 0;
  replacement_failure_ = reason;
}

void PoolCore::check_host_of_silent_worker(std::size_t index) {
  const Worker& silent = roster_[index];
  const std::string host =
      silent.placed_on.empty() ? silent.host : setup_.hosts.name(silent.placed_on.front());
  // A host that went away silences all its workers at once (their last heartbeats within about
  // a second of each other); one heard from within half the timeout shows the host is up, and
  // only this worker is stuck or stopped.
  const auto now = clock::now();
  const auto recent = health_.heartbeat_timeout() / 2;
  for (const Worker& w : roster_) {
    if (&w == &silent || w.state != WorkerState::kReady) continue;
    const bool same = silent.placed_on.empty() ? w.host == silent.host
                                               : !w.placed_on.empty() &&
                                                     w.placed_on.front() == silent.placed_on.front();
    if (same && now - w.last_heard < recent) {
      log().info("{} is silent, but {} on the same host was heard from: host {} is up",
                 silent.describe(), w.describe(), host);
      return;
    }
  }
  if (!silent.placed_on.empty()) setup_.hosts.mark_lost(silent.placed_on.front());
  if (!roster_.add_lost_host(host)) return;
  if (setup_.hosts.placing()) {
    log().warn("host {} lost ({} silent for the heartbeat timeout): no worker will be started "
               "there", host, silent.describe());
  } else {
    log().warn("host {} lost ({} silent for the heartbeat timeout); the launcher chooses where a "
               "replacement goes (Options::hosts or hostfile keep it off a lost host)",
               host, silent.describe());
  }
}

void PoolCore::shrink_pool() {
  roster_.count_not_replaced();
  std::string lost;
  for (const PlacementHost& h : setup_.hosts.hosts()) {
    if (h.lost) lost += (lost.empty() ? "" : ", ") + h.name;
  }
  const auto limit = setup_.hosts.per_host_limit();
  replacement_failure_ =
      (lost.empty() ? std::string() : "host " + lost + " lost, and ") +
      "no live host has room for a replacement" +
      (limit ? " (max_workers_per_host " + std::to_string(*limit) + ")" : std::string());
  log().warn("pool shrank to {} workers: {}", roster_.live(), replacement_failure_);
}

bool PoolCore::poll_turn() {
  InProgressWork marker;
  bool active = take_queued();
  active |= dispatch();
  // Completed sends are not activity (heartbeats would count); results are.
  for (std::size_t l = 0; l < links_.size(); ++l) {
    try {
      links_[l]->transport().progress_sends();
    } catch (const MpiError& e) {
      // A send to a process that died (a spawned worker's or group's link): that link's workers
      // are lost, not the executor.
      if (!links_[l]->watched()) throw;
      links_[l]->transport().abandon_sends();
      for (std::size_t w = 0; w < roster_.size(); ++w) {
        if (roster_[w].link == l) {
          lose_worker(w, std::string("MPI failed sending to it: ") + e.what(), 0, "");
        }
      }
    }
  }
  active |= receive();
  // Control messages (heartbeats, a dying worker's report) are looked for every kControlInterval,
  // not on every turn: each look is an MPI progress call (with MPICH ch3 a poll() of the sockets),
  // and a round trip's hot loop would make two instead of one. Results are looked for every turn.
  const auto now = clock::now();
  if (now >= next_control_look_) {
    next_control_look_ = now + kControlInterval;
    active |= receive_control();
  }
  active |= watch_workers();
  return active;
}

bool PoolCore::nothing_in_flight() const {
  return std::all_of(roster_.begin(), roster_.end(), [](const Worker& w) { return w.sent.empty(); });
}

bool PoolCore::work_outstanding() const {
  return queue_.calls() > 0 || replacements_wanted_ > 0 || replacement_ || !nothing_in_flight();
}

void PoolCore::drive(const TaskState& state, clock::time_point deadline) noexcept {
  if (kOneSendingThread || t_in_progress_work) return;
  // One driver at a time; other waiters sleep until their state completes.
  if (drivers_.fetch_add(1) > 0) {
    drivers_.fetch_sub(1);
    return;
  }
  bool outstanding = false;
  try {
    auto quiet_until = clock::now() + poll_.spin;
    int engine_busy = 0;
    unsigned empty_polls = 0;
    while (!state.ready()) {
      bool active = false;
      {
        // The progress thread holds the engine for one turn (up to ~0.1 s when it checks a
        // worker process that just ended): if it stays busy, wait on the state instead, where a
        // deadline is honoured.
        std::unique_lock<std::mutex> engine(engine_, std::try_to_lock);
        if (!engine.owns_lock()) {
          if (++engine_busy > 1000) break;
          std::this_thread::yield();
          continue;
        }
        engine_busy = 0;
        if (finished_ || driver_error_) break;
        {
          auto lock = mpi_lock();
          awaited_ = &state;
          struct Forget { const TaskState*& awaited; ~Forget() { awaited = nullptr; } } forget{awaited_};
          active = poll_turn();
        }
        outstanding = work_outstanding();
        // Replacing a lost worker takes many turns: that is the progress thread's job.
        if (replacements_wanted_ > 0 || replacement_) break;
      }
      if (state.ready()) break;
      const auto now = clock::now();
      if (active) {
        quiet_until = now + poll_.spin;
      } else if (now >= quiet_until || now >= deadline) {
        break;
      } else if (++empty_polls % Backoff::kPollsPerYield == 0) {
        std::this_thread::yield();  // as Backoff does
      }
    }
  } catch (...) {
    std::lock_guard<std::mutex> engine(engine_);
    if (!driver_error_) driver_error_ = std::current_exception();
    outstanding = true;
  }
  if (outstanding) {
    // Hand over to the progress thread at once.
    std::lock_guard<std::mutex> lock(mutex_);
    handed_over_ = true;
    drivers_.fetch_sub(1);
    wake_.notify_one();
  } else {
    drivers_.fetch_sub(1);
  }
}

void PoolCore::run() {
  set_fine_timer_slack();
  Backoff backoff(poll_);
  try {
    for (;;) {
      if (drivers_.load() > 0) {
        // A waiting thread does the polling: step aside until it is done.
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait_for(lock, WorkerHealth::kCheckInterval,
                       [this] { return drivers_.load() == 0 || stop_requested_; });
        const bool step_aside = drivers_.load() > 0 && !stop_requested_;
        const bool handed_over = std::exchange(handed_over_, false);
        lock.unlock();
        if (handed_over) backoff.activity();
        if (step_aside) continue;
      }
      std::unique_lock<std::mutex> engine(engine_);
      if (driver_error_) std::rethrow_exception(driver_error_);
      bool active = false;
      bool stop = false;
      bool cancel = false;
      {
        auto lock = mpi_lock();
        active = poll_turn();
        if (replacements_wanted_ > 0) {
          std::lock_guard<std::mutex> guard(mutex_);
          if (stop_requested_) replacements_wanted_ = 0;
        }
        if (replacements_wanted_ > 0 || replacement_ || (!queue_.empty() && roster_.live() == 0)) {
          active |= replace_lost_workers();
        }
      }
      std::string broken;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stop = stop_requested_ && submitted_.empty();
        cancel = cancel_requested_;
        broken = broken_reason_;
      }
      if (!broken.empty()) queue_.fail_all(std::make_exception_ptr(BrokenExecutor(broken)));
      if (cancel) queue_.cancel_all();
      // A replacement being started is finished first, so that its process is shut down too.
      if (stop && queue_.empty() && nothing_in_flight() && !replacement_) {
        finished_ = true;  // drivers stay out from now on
        break;
      }
      // A large message on its way moves only while we call into MPI: poll, do not sleep.
      const bool sending = std::any_of(links_.begin(), links_.end(), [](const auto& link) {
        return link->transport().sends_pending();
      });
      engine.unlock();
      if (active) {
        backoff.activity();
        continue;
      }
      const auto pause = sending ? std::chrono::microseconds(0) : backoff.next_pause();
      if (pause.count() == 0) {
        if (backoff.yield_due()) std::this_thread::yield();
      } else {
        const auto sleep = std::min<std::chrono::microseconds>(pause, WorkerHealth::kCheckInterval);
        std::unique_lock<std::mutex> lock(mutex_);
        sleeping_long_ = sleep >= kLongSleep;
        wake_.wait_for(lock, sleep, [this] { return !submitted_.empty() || stop_requested_; });
        sleeping_long_ = false;
      }
    }
    say_goodbye();
  } catch (...) {
    {
      std::lock_guard<std::mutex> engine(engine_);
      finished_ = true;
    }
    fail_all(std::current_exception());
  }
  log().debug("pool shut down ({} calls submitted)", submitted_calls_.load());
}

}  // namespace spawnpool::detail
