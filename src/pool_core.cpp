// The pool engine's start and end: starting or greeting the workers, taking work from user threads,
// shutting down. The progress loop itself is in progress_loop.cpp.
#include "pool_core.hpp"

#include "control_messages.hpp"
#include "environment.hpp"
#include "log.hpp"
#include <spawnpool/detail/mpi_call.hpp>
#include "runtime_state.hpp"
#include "static_rank_end.hpp"

#include <spawnpool/detail/seconds_text.hpp>
#include <spawnpool/errors.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <numeric>

namespace spawnpool::detail {

namespace {

using clock = std::chrono::steady_clock;

/// The spawns under way in this process, all pools together, held to kSpawnsAtOnce
/// (mpi_flavor.hpp): hydra's mpiexec has been seen to die (SIGPIPE, then a write error) when a
/// process it was starting died while some 24 spawns of three pools were under way, leaving its
/// proxies behind. Thread-safe.
class SpawnSlots {
 public:
  static SpawnSlots& process_wide() {
    static SpawnSlots slots;
    return slots;
  }
  /// Takes a slot if one is free, waiting for one until `until` when `wait` is set.
  bool take(bool wait, clock::time_point until) {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto free = [this] { return in_use_ < kSpawnsAtOnce; };
    if (wait ? !freed_.wait_until(lock, until, free) : !free()) return false;
    ++in_use_;
    return true;
  }
  void give_back() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --in_use_;
    }
    freed_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable freed_;
  int in_use_ = 0;
};

Hello make_hello(const Options& options, const PollSettings& poll,
                 std::chrono::milliseconds heartbeat_timeout) {
  Hello hello;
  hello.poll_spin_us = poll.spin.count();
  hello.poll_max_sleep_us = poll.max_sleep.count();
  hello.manager_pid = getpid();
  hello.manager_host = host_name();
  hello.task_timeout_ms = options.task_timeout().count();
  hello.heartbeat_timeout_ms = heartbeat_timeout.count();
  hello.working_directory = options.working_directory();
  if (options.initializer_entry()) hello.initializer = *options.initializer_entry();
  for (const auto& [name, value] : options.env()) hello.environment.emplace_back(name, value);
  return hello;
}

std::chrono::milliseconds heartbeat_timeout(const Options& options) {
  // 25 s: a node that goes silent is noticed within 30 s of its last word, whatever the phase of
  // the 1 s heartbeat and the 0.1 s check.
  return seconds_setting(options.heartbeat_timeout(), env::kHeartbeatTimeout, 25);
}

PollSettings poll_settings(const Options& options) {
  PollSettings poll = PollSettings::from_environment();
  if (options.poll_spin()) poll.spin = *options.poll_spin();
  if (options.poll_max_sleep()) poll.max_sleep = *options.poll_max_sleep();
  return poll;
}

}  // namespace

PoolCore::PoolCore(PoolSetup setup, const Options& options)
    : setup_(std::move(setup)),
      shutdown_timeout_(options.shutdown_timeout()),
      poll_(poll_settings(options)),
      policy_(options.pipeline_depth(), static_cast<std::size_t>(std::max(1, options.max_batch()))),
      // Only spawned workers are ended by the manager (static and service ranks belong to a job
      // whose launcher ends it all when one is killed), so only they are held to the task
      // timeout from this side.
      health_(heartbeat_timeout(options),
              setup_.spawn ? options.task_timeout() : std::chrono::milliseconds(0)) {
  greeting_.tag = setup_.tag;
  greeting_.hello = make_hello(options, poll_, heartbeat_timeout(options));
  greeting_.program = setup_.worker_program;
  const std::string trace_file = options.trace_file().empty()
                                     ? env_string("SPAWNPOOL_TRACE").value_or("")
                                     : options.trace_file();
  if (!trace_file.empty()) observer_ = make_chrome_trace(trace_file, setup_.mode);
  try {
    start_workers();
  } catch (const SpawnError& e) {
    end_started_workers();
    if (setup_.ranks_per_worker < 2) throw;
    // Say which start failed: the first k-rank task of that k is what the caller did.
    std::string what = e.what();
    if (what.rfind("spawnpool: ", 0) == 0) what.erase(0, 11);
    throw SpawnError("spawnpool: cannot start the groups of " +
                     std::to_string(setup_.ranks_per_worker) +
                     " processes for k-rank tasks (TaskOptions::ranks(" +
                     std::to_string(setup_.ranks_per_worker) + ")): " + what);
  } catch (...) {
    end_started_workers();
    throw;
  }
  {
    std::lock_guard<std::mutex> lock(runtime_state().pools_mutex);
    runtime_state().pools.insert(this);
  }
  progress_ = std::thread([this] { run(); });
}

void PoolCore::end_started_workers() noexcept {
  // A static rank on this host that never answered because it is stopped (in its initializer)
  // would keep the job from ending: it is made to leave, and is lost for the job.
  if (setup_.mode == Mode::static_world) {
    for (const Worker& w : roster_) {
      if (w.state == WorkerState::kStarting && end_static_rank_if_stopped(w.rank, "in its set-up")) {
        mark_static_rank_lost(w.rank);
      }
    }
  }
  // Leave no started worker behind: tell each to leave (one not greeted yet leaves too)...
  for (const Worker& w : roster_) {
    WorkerLink& link = *links_[w.link];
    if (!link.owned()) continue;
    link.dismiss(w.rank, setup_.tag);
    if (w.same_host && w.pid > 0) kill(static_cast<pid_t>(w.pid), SIGKILL);
  }
  // ...and give them a moment to answer: the first message to a new worker waits for its
  // connection, and a goodbye cancelled with the link leaves a worker not greeted yet waiting for
  // a hello for 120 s (and MPI_Finalize waiting for that worker). A worker that answered (kBye) is
  // in MPI_Comm_disconnect, which returns only once this side disconnects too: its link is
  // disconnected; the others' are freed.
  // None is awaited from a worker known to be gone: lost, killed just now, or reported ended by
  // its start watch (-1: its link is freed).
  std::vector<int> byes_awaited(links_.size(), 0);
  for (const Worker& w : roster_) {
    WorkerLink& link = *links_[w.link];
    if (!link.owned() || byes_awaited[w.link] < 0) continue;
    const bool gone = w.state == WorkerState::kLost || (w.same_host && w.pid > 0) ||
                      link.ended_while_starting();
    byes_awaited[w.link] = gone ? -1 : byes_awaited[w.link] + 1;
  }
  const auto until = clock::now() + kStartGoodbyeLimit;
  Backoff backoff(poll_);
  for (bool waiting = true; waiting && clock::now() < until;) {
    waiting = false;
    for (std::size_t l = 0; l < links_.size(); ++l) {
      if (byes_awaited[l] <= 0) continue;
      Transport& transport = links_[l]->transport();
      try {
        transport.progress_sends();
        while (auto in = transport.try_receive(MPI_ANY_SOURCE, setup_.tag)) {
          if (is(*in, wire::Kind::kBye)) --byes_awaited[l];
        }
      } catch (const std::exception&) {  // a worker that is gone: its goodbye is moot
        transport.abandon_sends();
        byes_awaited[l] = -1;
        continue;
      }
      waiting |= byes_awaited[l] > 0;
    }
    if (waiting) backoff.pause();
  }
  for (std::size_t l = 0; l < links_.size(); ++l) {
    if (byes_awaited[l] > 0) {
      // Alive, as far as we know, but silent (stopped while it started, or stuck in its set-up):
      // MPI_Finalize would wait for its connection to close for ever.
      log().warn("a dismissed worker did not answer within {} s; this process will leave without "
                 "MPI_Finalize", kStartGoodbyeLimit.count());
      runtime_state().peer_unreachable = true;
    }
    try {
      links_[l]->close(byes_awaited[l] == 0 ? WorkerLink::Ending::kClean
                                            : WorkerLink::Ending::kAbandon);
    } catch (const std::exception& e) {
      log().debug("disconnecting a dismissed worker: {}", e.what());
    }
  }
}

PoolCore::~PoolCore() {
  shutdown(true, false);
  driver_link_->detach();
  std::lock_guard<std::mutex> lock(runtime_state().pools_mutex);
  runtime_state().pools.erase(this);
}

void PoolCore::start_workers() {
  const auto deadline = clock::now() + setup_.start_timeout;
  if (setup_.spawn) {
    spawn_all_workers(deadline);
  } else {
    links_.push_back(std::make_unique<WorkerLink>(
        setup_.shared_comm, setup_.own_shared_comm ? WorkerLink::Ownership::kOwned
                                                   : WorkerLink::Ownership::kShared));
    for (int rank : setup_.shared_ranks) {
      Worker w;
      w.id = rank;
      w.rank = rank;
      roster_.add(std::move(w));
    }
  }
  std::vector<std::size_t> all(roster_.size());
  std::iota(all.begin(), all.end(), 0);
  auto lock = mpi_lock();
  greet_workers(links_, roster_, all, greeting_, deadline, poll_,
                [this](Worker& w, const Ready& ready) {
                  take_ready(w, ready);
                  log().debug("{} ready ({} mode)", w.describe(), to_string(setup_.mode));
                },
                [this](Worker& w, const LossReport&) {
                  // A static rank that reported its end is gone for every executor, later ones
                  // included, and ~Runtime must neither release it nor wait for it.
                  if (setup_.mode == Mode::static_world) mark_static_rank_lost(w.rank);
                });
}

std::string PoolCore::start_out_of_time(int started) const {
  const SpawnRequest& request = *setup_.spawn;
  const char* what =
      setup_.ranks_per_worker > 1 ? "groups (Options::rank_groups)" : "workers";
  return "spawnpool: started only " + std::to_string(started) + " of " +
         std::to_string(setup_.workers) + " " + std::string(what) + " within the spawn timeout (" +
         seconds_text(setup_.start_timeout) + " for them all, set by " +
         request.timeout_setting + "); raise it, or ask for fewer";
}

std::optional<PoolCore::PlacedRequest> PoolCore::request_for_next_worker() {
  PlacedRequest placed{*setup_.spawn, {}};
  placed.request.count = setup_.ranks_per_worker;
  if (setup_.hosts.placing()) {
    auto hosts = setup_.hosts.place_processes();
    if (!hosts) return std::nullopt;
    placed.hosts = std::move(*hosts);
    if (setup_.hosts.spreads_groups()) {
      // A spread group: one MPI_Comm_spawn_multiple command per process, each with its host.
      for (std::size_t host : placed.hosts) placed.request.hosts.push_back(setup_.hosts.name(host));
    } else {
      placed.request.host = setup_.hosts.name(placed.hosts.front());
    }
  }
  return placed;
}

void PoolCore::spawn_all_workers(clock::time_point deadline) {
  // The spawns run side by side, up to kSpawnsAtOnce of them in the process (mpi_flavor.hpp: 1
  // under Open MPI): a worker's start is mostly its own process starting and reaching MPI_Init, so
  // N workers start in about the time of one (separate spawns, so that each worker is its own MPI
  // job: hydra ends a whole job when one of it dies).
  // They are taken in the order they were begun, and a failure begins no further spawn but lets
  // those under way end, so that every started worker is either kept or told to leave.
  struct Start {
    PendingSpawn spawn;
    std::vector<std::size_t> hosts;
  };
  std::deque<Start> under_way;
  std::optional<SpawnError> failure;
  bool out_of_time = false;
  int begun = 0, started = 0;
  const auto fail = [&failure](const SpawnError& e) {
    if (failure) {
      log().debug("another spawn of the start failed too: {}", e.what());
    } else {
      failure = e;
    }
  };
  SpawnSlots& slots = SpawnSlots::process_wide();
  while (begun < setup_.workers || !under_way.empty()) {
    while (!failure && !out_of_time && begun < setup_.workers) {
      const auto least = std::min<clock::duration>(kLeastTimeForASpawn, setup_.start_timeout / 4);
      if (begun > 0 && deadline - clock::now() < least) {
        out_of_time = true;
        break;
      }
      // With spawns of its own under way, this start takes their turn rather than wait for a slot.
      if (!slots.take(under_way.empty(), deadline - least)) {
        if (under_way.empty()) out_of_time = true;
        break;
      }
      auto placed = request_for_next_worker();
      if (!placed) {
        slots.give_back();
        // plan_placement checked the room for every worker: only lost hosts could take it away.
        fail(SpawnError("spawnpool: no host left to start a worker on"));
        break;
      }
      SpawnRequest& request = placed->request;
      request.timeout = std::max(std::chrono::milliseconds(1),
                                 std::chrono::duration_cast<std::chrono::milliseconds>(
                                     deadline - clock::now()));
      request.shared_timeout = setup_.start_timeout;  // for its message: the limit is the pool's
      try {
        under_way.push_back({start_spawn(request), std::move(placed->hosts)});
        ++begun;
      } catch (const SpawnError& e) {
        slots.give_back();
        setup_.hosts.release_processes(placed->hosts);
        fail(e);
      }
    }
    if (under_way.empty()) break;
    Start& oldest = under_way.front();
    oldest.spawn.wait();
    slots.give_back();
    try {
      auto link = std::make_unique<WorkerLink>(oldest.spawn.take(), WorkerLink::Ownership::kWatched);
      link->keep_start_watch(oldest.spawn.take_start_watch());  // until it answers: greet_workers
      add_spawned(std::move(link), next_spawned_id_++, std::move(oldest.hosts));
      ++started;
    } catch (const SpawnError& e) {
      setup_.hosts.release_processes(oldest.hosts);
      fail(e);
    }
    under_way.pop_front();
  }
  if (!failure && !out_of_time) return;
  const SpawnError why = failure ? *failure : SpawnError(start_out_of_time(started));
  if (started == 0 || started < setup_.min_workers || runtime_state().mpi_stuck) throw why;
  log().warn("started {} of {} workers (min_workers {}): {}", started, setup_.workers,
             setup_.min_workers, why.what());
}

std::size_t PoolCore::add_spawned(std::unique_ptr<WorkerLink> link, int id,
                                  std::vector<std::size_t> hosts) {
  links_.push_back(std::move(link));
  Worker w;
  w.id = id;
  w.link = links_.size() - 1;
  w.rank = 0;
  w.placed_on = std::move(hosts);
  return roster_.add(std::move(w));
}

void PoolCore::take_ready(Worker& w, const Ready& ready) {
  roster_.set_ready(w, ready, host_name());
  if (observer_) observer_->worker_ready(w);
  if (!ready.setup_error.empty()) {
    break_executor("spawnpool: the executor is broken: setting up " + w.describe() + " failed: " +
                   ready.setup_error);
  }
}

void PoolCore::break_executor(const std::string& reason) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (broken_reason_.empty()) {
    broken_reason_ = reason;
    broken_ = true;
  }
}

void PoolCore::enqueue(WorkItem item) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!broken_reason_.empty()) throw BrokenExecutor(broken_reason_);
    if (stop_requested_) {
      throw BrokenExecutor("spawnpool: cannot submit: the executor has been shut down");
    }
    submitted_calls_ += calls_held(item.calls);
    for (auto& call : item.calls) call.state->set_driver(driver_link_);
    submitted_.push_back(std::move(item));
  }
  // Send it from here when nobody else is polling: the progress thread need not wake up for it
  // (unless it sleeps long: then it would see the result late if nobody waits for it).
  if (dispatch_now()) {
    if (sleeping_long_.load()) wake_.notify_one();
    return;
  }
  wake_.notify_one();
}

void PoolCore::shutdown(bool wait, bool cancel_pending) {
  std::deque<WorkItem> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_requested_ = true;
    if (cancel_pending) {
      cancel_requested_ = true;
      dropped.swap(submitted_);
    }
  }
  // Cancelling runs completion callbacks, which may submit: never under mutex_.
  cancel_items(dropped);
  wake_.notify_one();
  if (!wait) return;
  std::lock_guard<std::mutex> lock(join_mutex_);
  if (progress_.joinable() && progress_.get_id() != std::this_thread::get_id()) progress_.join();
}

void PoolCore::say_goodbye() {
  auto lock = mpi_lock();
  for (const Worker& w : roster_) {
    if (w.state != WorkerState::kReady) continue;
    try {
      send_signal(links_[w.link]->transport(), w.rank, setup_.tag, wire::Kind::kShutdown);
    } catch (const MpiError& e) {
      // Its process is gone and MPI knows it (a group whose reaper was killed): the loop below
      // finds it lost, as it would have without the goodbye.
      log().debug("{} cannot be told to leave: {}", w.describe(), e.what());
    }
  }
  const auto deadline = clock::now() + shutdown_timeout_;
  Backoff backoff(poll_);
  auto someone_still_here = [this] {
    return std::any_of(roster_.begin(), roster_.end(),
                       [](const Worker& w) { return w.state == WorkerState::kReady; });
  };
  while (someone_still_here() && clock::now() < deadline) {
    bool active = false;
    for (auto& link : links_) {
      try {
        active |= link->transport().progress_sends();
      } catch (const MpiError& e) {  // a goodbye to a process that is gone, as above
        log().debug("a goodbye did not leave: {}", e.what());
        link->transport().abandon_sends();
      }
    }
    active |= receive();
    active |= receive_control();
    active |= watch_workers();
    if (active) backoff.activity(); else backoff.pause();
  }
  for (std::size_t i = 0; i < roster_.size(); ++i) {
    if (roster_[i].state == WorkerState::kReady) {
      lose_worker(i, "it did not finish within the shutdown timeout", 0, "");
    }
  }
  for (std::size_t l = 0; l < links_.size(); ++l) {
    const bool left_cleanly = std::all_of(roster_.begin(), roster_.end(), [&](const Worker& w) {
      return w.link != l || w.state == WorkerState::kLeft;
    });
    links_[l]->close(left_cleanly ? WorkerLink::Ending::kClean : WorkerLink::Ending::kAbandon);
  }
}

void PoolCore::fail_all(const std::exception_ptr& error) {
  std::string reason;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    // Quoted after our own prefix: an MpiError's "spawnpool: MPI_Isend failed: ..." once.
    std::string what = e.what();
    if (what.rfind("spawnpool: ", 0) == 0) what.erase(0, 11);
    reason = "spawnpool: the executor broke: " + what;
  } catch (...) {
    reason = "spawnpool: the executor broke";
  }
  log().error("{}", reason);
  std::deque<WorkItem> submitted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    broken_reason_ = reason;
    broken_ = true;
    submitted.swap(submitted_);
  }
  const auto broken = std::make_exception_ptr(BrokenExecutor(reason));
  queue_.fail_all(broken);
  fail_items(submitted, broken);
  for (Worker& w : roster_) {
    for (auto& message : w.sent) {
      for (auto& call : message.calls) call.state->set_error(broken);
    }
    w.sent.clear();
  }
}

}  // namespace spawnpool::detail
