#include "worker_loop.hpp"

#include "backoff.hpp"
#include "control_messages.hpp"
#include "environment.hpp"
#include "exception_type.hpp"
#include "forked_copy.hpp"
#include "group_heartbeat.hpp"
#include "log.hpp"
#include "one_line_reason.hpp"
#include "process_check.hpp"
#include "rank_group.hpp"
#include "out_of_band_receive.hpp"
#include "runtime_state.hpp"
#include "task_mpi_finalize.hpp"
#include "transport.hpp"
#include "wire.hpp"
#include "worker_sentinel.hpp"

#include <spawnpool/detail/mpi_call.hpp>
#include <spawnpool/detail/registry.hpp>
#include <spawnpool/detail/serialize.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <exception>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>

namespace spawnpool::detail {

namespace {

using wire::ResultStatus;

/// Whether built-in tasks may run (set_builtin_tasks_allowed).
std::atomic<bool> g_builtin_tasks_allowed{true};
std::chrono::milliseconds g_client_silence_limit{10000};  // set_client_silence_limit
std::function<bool()> g_client_dropped_elsewhere;          // set_client_dropped_elsewhere
std::uint64_t g_client_message_limit = 0;                   // set_client_message_limit

/// The task this thread runs now (running_task()): a view into its call message, valid while the
/// call runs. Per thread and without a lock or a copy: it is set for every call.
thread_local std::string_view t_running_task;

/// Ends a forked copy of the worker that came back from a task (fork() without exec or _exit in
/// the task): it shares the worker's MPI connection, and a result from it would corrupt the
/// pool. Status 0, as a fork's child returning normally would have; says so on stderr.
void leave_if_forked_copy(std::string_view task_name) {
  if (!is_forked_copy_of_worker()) return;
  const std::string message =
      "spawnpool: a forked copy (pid " + std::to_string(getpid()) + ") of worker pid " +
      std::to_string(serving_worker_pid()) + " came back from task \"" + std::string(task_name) +
      "\"; it exits here without talking to the pool (end a forked child with _exit() or exec)\n";
  (void)!write(STDERR_FILENO, message.data(), message.size());
  _exit(0);
}

/// One call's outcome: the invoker's buffer (payload after `offset`, large blocks out of band) or
/// an error payload.
struct Outcome {
  std::uint64_t id = 0;
  ResultStatus status = ResultStatus::kOk;
  std::uint64_t started_us = 0, ended_us = 0;
  Buffer buffer;
  std::size_t offset = 0;
  OutOfBand out_of_band;
  wire::ErrorPayload error;

  std::size_t payload_size() const {
    return status == ResultStatus::kOk ? buffer.size() - offset : wire::error_payload_size(error);
  }
};

std::uint64_t wall_clock_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

/// Sets the usual thread-count variables (OpenMP, BLAS libraries) for one task and restores them
/// afterwards.
class ThreadCountEnvironment {
 public:
  explicit ThreadCountEnvironment(std::uint32_t threads) {
    if (threads == 0) return;
    const std::string value = std::to_string(threads);
    for (const char* name : kNames) {
      const char* old = std::getenv(name);
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      setenv(name, value.c_str(), 1);
    }
  }
  ~ThreadCountEnvironment() {
    for (const auto& [name, old] : saved_) {
      if (old) setenv(name, old->c_str(), 1); else unsetenv(name);
    }
  }

 private:
  static constexpr const char* kNames[] = {"OMP_NUM_THREADS",      "OPENBLAS_NUM_THREADS",
                                           "MKL_NUM_THREADS",      "BLIS_NUM_THREADS",
                                           "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"};
  std::vector<std::pair<const char*, std::optional<std::string>>> saved_;
};

/// The task of a call entry, or (in `refused`) why it cannot run here.
const TaskEntry* find_call_task(const wire::CallView& call, Outcome& refused) {
  refused.id = call.id;
  const TaskEntry* task = find_task(call.name);
  if (task == nullptr) {
    refused.status = ResultStatus::kUnknownTask;
    refused.error = {"spawnpool::UnregisteredTask",
                     "the worker program " + runtime_state().program + " has no task named \"" +
                         std::string(call.name) + "\"; register it with SPAWNPOOL_TASK(" +
                         std::string(call.name) + ") in a source file linked into the worker program"};
    return nullptr;
  }
  if (task->builtin && !g_builtin_tasks_allowed.load()) {
    refused.status = ResultStatus::kUnknownTask;
    refused.error = {"spawnpool::UnregisteredTask",
                     "the pool service " + runtime_state().program +
                         " does not offer the built-in task \"" + task->name +
                         "\": a service runs only the tasks its own program registered (start it "
                         "with --allow-builtin-tasks, ServiceOptions::allow_builtin_tasks, to offer "
                         "the library's built-in tasks)"};
    return nullptr;
  }
  if (task->signature != call.signature) {
    refused.status = ResultStatus::kSignatureMismatch;
    refused.error = {"spawnpool::Error", "task \"" + task->name + "\" has the type " +
                                             task->signature_text + " in the worker program " +
                                             runtime_state().program +
                                             ", which differs from the manager's (in a type's name, or "
                                             "in the size, alignment or cereal class version of a "
                                             "type of the same name); rebuild both from the same "
                                             "sources"};
    return nullptr;
  }
  return task;
}

Outcome bad_arguments(std::uint64_t id, const TaskEntry& task, const std::string& what) {
  Outcome out;
  out.id = id;
  out.status = ResultStatus::kBadArguments;
  out.error = {"spawnpool::Error",
               "the arguments of task \"" + task.name + "\" could not be decoded: " + what};
  return out;
}

/// Runs one call: decodes its arguments and runs it, or runs `prepared` (decoded before, with its
/// out-of-band arguments received).
Outcome run_call(const wire::CallView& call, std::size_t reserve_front, WorkerSentinel* sentinel,
                 PreparedCall* prepared = nullptr) {
  Outcome out;
  const TaskEntry* task = find_call_task(call, out);
  if (task == nullptr) return out;
  struct Bracket {
    WorkerSentinel* sentinel;
    ~Bracket() {
      if (sentinel) sentinel->call_finished();
    }
  } bracket{sentinel};
  if (sentinel) sentinel->call_started(call.id, call.name);
  t_running_task = call.name.empty() ? std::string_view("(unnamed)") : call.name;
  struct TaskMark {
    ~TaskMark() { t_running_task = {}; }
  } task_mark;
  ThreadCountEnvironment threads(call.threads);
  out.started_us = wall_clock_us();
  struct Stamp {
    Outcome& out;
    ~Stamp() { out.ended_us = wall_clock_us(); }
  } stamp{out};
  try {
    EncodedResult result = prepared ? prepared->run(reserve_front, true)
                                    : task->invoke(call.args, nullptr, reserve_front, true);
    out.buffer = std::move(result.buffer);
    out.out_of_band = std::move(result.out_of_band);
    out.offset = reserve_front;
  } catch (const BadArguments& bad) {
    out = bad_arguments(call.id, *task, bad.what);
  } catch (const std::exception& e) {
    out.status = ResultStatus::kException;
    out.error = {current_exception_type(), e.what()};
  } catch (...) {
    out.status = ResultStatus::kException;
    out.error = {current_exception_type(), "(not a std::exception)"};
  }
  leave_if_forked_copy(call.name);
  return out;
}

char* put_outcome(char* out, const Outcome& o) {
  out = wire::put_result_prefix(out, o.id, o.status, o.payload_size(), o.out_of_band.bytes(),
                                o.started_us, o.ended_us);
  if (o.status == ResultStatus::kOk) {
    return wire::put_bytes(out, o.buffer.data() + o.offset, o.payload_size());
  }
  return wire::put_error_payload(out, o.error);
}

/// For a kTasks message with out-of-band arguments: decodes every call's arguments, then receives
/// the out-of-band bytes straight into them. A call that cannot be decoded gets its outcome in
/// `refused`.
std::vector<std::unique_ptr<PreparedCall>> prepare_calls(Transport& transport,
                                                         const Transport::Incoming& in,
                                                         const std::vector<wire::CallView>& calls,
                                                         std::vector<Outcome>& refused) {
  std::vector<std::unique_ptr<PreparedCall>> prepared(calls.size());
  refused.resize(calls.size());
  auto decode = [&](std::size_t i, OutOfBandTargets& out_of_band) {
    const TaskEntry* task = find_call_task(calls[i], refused[i]);
    if (task == nullptr) return false;
    try {
      prepared[i] = task->prepare(calls[i].args, &out_of_band);
      if (out_of_band.remaining() != 0) {
        throw BadArguments{std::to_string(out_of_band.remaining()) +
                           " out-of-band bytes left over after the last argument"};
      }
      return true;
    } catch (const BadArguments& bad) {
      prepared[i].reset();
      refused[i] = bad_arguments(calls[i].id, *task, bad.what);
      return false;
    }
  };
  receive_into_decoded(
      transport, in, calls.size(), [&](std::size_t i) { return calls[i].args_oob; }, decode);
  return prepared;
}

/// Runs every call of a kTasks message; returns the kResults message (header space unwritten) and
/// the results' out-of-band blocks in `out_of_band`.
std::shared_ptr<Buffer> run_message(Transport& transport, const Transport::Incoming& in,
                                    WorkerSentinel* sentinel, OutOfBand& out_of_band) {
  const auto calls =
      wire::decode_calls(in.header, ByteSpan{in.message->data(), in.message->size()});
  std::vector<std::unique_ptr<PreparedCall>> prepared;
  std::vector<Outcome> refused;
  if (in.header.oob_size > 0) prepared = prepare_calls(transport, in, calls, refused);
  auto run = [&](std::size_t i, std::size_t reserve_front) {
    if (prepared.empty()) return run_call(calls[i], reserve_front, sentinel);
    if (!prepared[i]) return std::move(refused[i]);
    Outcome o = run_call(calls[i], reserve_front, sentinel, prepared[i].get());
    prepared[i].reset();  // the arguments are not needed any more
    return o;
  };
  constexpr std::size_t kFront = wire::kHeaderSize + wire::kResultEntryOverhead;
  if (calls.size() == 1) {
    // The common case sends the task's own result buffer: the result is not copied again.
    Outcome o = run(0, kFront);
    out_of_band = std::move(o.out_of_band);
    if (o.status == ResultStatus::kOk) {
      wire::put_result_prefix(o.buffer.data() + wire::kHeaderSize, o.id, o.status,
                              o.payload_size(), out_of_band.bytes(), o.started_us, o.ended_us);
      return std::make_shared<Buffer>(std::move(o.buffer));
    }
    auto message = std::make_shared<Buffer>(kFront + o.payload_size());
    put_outcome(message->data() + wire::kHeaderSize, o);
    return message;
  }
  std::vector<Outcome> outcomes;
  outcomes.reserve(calls.size());
  std::size_t total = wire::kHeaderSize;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    outcomes.push_back(run(i, 0));
    total += wire::kResultEntryOverhead + outcomes.back().payload_size();
    // The previous message's results, when larger than MPI's eager size (MPICH ch3 over TCP:
    // 128 KiB) or sent out of band, move only while this process calls into MPI, and the manager,
    // once it has begun to receive them, waits until they have: keep them moving between calls
    // instead of only after the whole message (a chunk of a map may run for seconds).
    transport.progress_sends();
  }
  auto message = std::make_shared<Buffer>(total);
  char* out = message->data() + wire::kHeaderSize;
  for (auto& o : outcomes) {
    out = put_outcome(out, o);
    out_of_band.append(std::move(o.out_of_band));
  }
  return message;
}

/// Applies a hello's worker set-up: environment, working directory, initializer. Returns "" or
/// what went wrong, for the manager.
std::string apply_hello(const Hello& hello, WorkerSentinel* sentinel) {
  // A group's rank 0 has this long, with its own set-up, to set up the other ranks.
  const auto setup_deadline =
      hello.setup_limit_ms > 0
          ? std::chrono::steady_clock::now() + std::chrono::milliseconds(hello.setup_limit_ms)
          : std::chrono::steady_clock::time_point::max();
  for (const auto& [name, value] : hello.environment) {
    if (setenv(name.c_str(), value.c_str(), 1) != 0) {
      return "cannot set the environment variable '" + name + "': " + std::strerror(errno);
    }
  }
  if (!hello.working_directory.empty() && chdir(hello.working_directory.c_str()) != 0) {
    return "cannot change to the working directory '" + hello.working_directory +
           "': " + std::strerror(errno);
  }
  if (!hello.initializer.empty()) {
    wire::Reader reader(ByteSpan{hello.initializer.data(), hello.initializer.size()});
    const wire::CallView call = wire::read_call(reader);  // encoded without out-of-band blocks
    const Outcome o = run_call(call, 0, sentinel);
    if (o.status != ResultStatus::kOk) {
      return "the initializer \"" + std::string(call.name) + "\" failed: " + o.error.type_name +
             ": " + o.error.message;
    }
  }
  // Rank 0 of a group for k-rank tasks: the other ranks get the same set-up.
  return set_up_followers(hello.environment, hello.working_directory, hello.initializer,
                          setup_deadline);
}

/// A kGroup message (static and communicator mode, `tag` its session's): joins the group of a
/// k-rank call (collective over its ranks only). A follower serves its share of the call, leaves
/// the group and answers the manager with an empty kResults; returns false. The leader returns
/// true: the call follows on `tag` (kTasks), and the group is left after it. A follower's share
/// is held to `task_timeout` (its session's; the leader's call is, as any call).
bool join_group_of_call(MPI_Comm comm, Transport& transport, int manager_rank, int tag,
                        const StaticGroup& formed, WorkerSentinel* sentinel,
                        std::chrono::milliseconds task_timeout) {
  const std::string here = host_name();
  std::vector<int> pids(formed.ranks.size(), 0);  // checked on this host only
  for (std::size_t r = 0; r < pids.size(); ++r) {
    if (formed.hosts[r] == here) pids[r] = static_cast<int>(formed.pids[r]);
  }
  const int rank_in_group = join_static_group(
      comm, std::vector<int>(formed.ranks.begin(), formed.ranks.end()), pids, formed.tag);
  if (rank_in_group != 0) {
    if (sentinel) {
      sentinel->set_running_session(tag);
      sentinel->set_task_timeout(task_timeout);
    }
    const int status = serve_as_follower();
    leave_static_group();
    if (status != 0) log().warn("a k-rank call's group ended with status {}", status);
    transport.send(manager_rank, tag, wire::Kind::kResults, 0,
                   std::make_shared<Buffer>(wire::kHeaderSize));
    return false;
  }
  return true;
}

}  // namespace

void set_builtin_tasks_allowed(bool allowed) { g_builtin_tasks_allowed = allowed; }

void set_client_silence_limit(std::chrono::milliseconds limit) { g_client_silence_limit = limit; }

void set_client_message_limit(std::uint64_t bytes) { g_client_message_limit = bytes; }

void set_client_dropped_elsewhere(std::function<bool()> check) {
  g_client_dropped_elsewhere = std::move(check);
}

bool running_task(std::string* task_name) {
  if (t_running_task.empty()) return false;
  if (task_name) task_name->assign(t_running_task);
  return true;
}

int serve_as_worker(MPI_Comm comm, int manager_rank, ServeUntil until) {
  remember_serving_worker();
  // This process's log lines name it while it serves: by its pid, and by its id in the pool once a
  // Hello has given it.
  const std::string pid_text = "(pid " + std::to_string(serving_worker_pid()) + ")";
  set_log_source("worker " + pid_text);
  struct PlainLogLines {
    ~PlainLogLines() { set_log_source(""); }
  } plain_log_lines_after;
  end_worker_when_a_task_finalizes_mpi();
  set_fine_timer_slack();
  PollSettings poll = PollSettings::from_environment();
  try {
    Transport transport(comm);
    // A spawned worker serves one session (tag 0); its sentinel thread uses the control tag on the
    // same communicator for heartbeats and loss reports.
    std::unique_ptr<WorkerSentinel> sentinel;
    const bool spawned = until == ServeUntil::kSessionEnds;
    const bool one_session = spawned || until == ServeUntil::kClientLeaves;
    const int listen_tag = one_session ? wire::session_tag(0) : MPI_ANY_TAG;
    std::set<int> sessions;  // tags of the executors currently served
    // A shared rank: each executor's task timeout (Options::task_timeout), by session tag.
    std::map<int, std::chrono::milliseconds> task_timeouts;
    bool greeted = false;
    // A spawned worker that never hears from its manager must not wait forever.
    const auto hello_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    Backoff backoff(poll);
    bool leaving = false;
    // A static group's leader (kGroup): the session whose call it waits for, else -1.
    int group_session = -1;
    auto next_heartbeat = std::chrono::steady_clock::now();
    // A pool service's rank watches its client: it must hear from it (heartbeats every second),
    // and a client on this host must still exist. Otherwise the client is dropped.
    const bool watch_client = until == ServeUntil::kClientLeaves;
    auto last_from_client = std::chrono::steady_clock::now();
    auto next_client_check = last_from_client;
    long client_pid = 0;
    bool client_here = false;
    // Why the client must be dropped, or "": silent for longer than the limit (its heartbeats, or
    // the parts of a large message it sends, are word from it), gone, or dropped by another rank.
    bool checking_client = false;  // the check reads heartbeats: never from within itself
    auto why_drop_client = [&](std::chrono::steady_clock::time_point last_part) -> std::string {
      if (checking_client) return "";
      checking_client = true;
      struct Done { bool& flag; ~Done() { flag = false; } } done{checking_client};
      const auto now = std::chrono::steady_clock::now();
      while (transport.try_receive(manager_rank, wire::kControlTag)) last_from_client = now;
      if (now - std::max(last_from_client, last_part) > g_client_silence_limit) {
        return "no word from the client for " + std::to_string(g_client_silence_limit.count()) + " ms";
      }
      if (client_here && process_gone(client_pid)) {
        return "the client (pid " + std::to_string(client_pid) + ") is gone";
      }
      if (g_client_dropped_elsewhere && g_client_dropped_elsewhere()) {
        return "another rank dropped the client";
      }
      return "";
    };
    if (watch_client) {
      // Also while a large message's parts are awaited (a client that announced one and went
      // silent held the rank for the part stall limit, 120 s) and no message may announce more
      // than the service allows.
      transport.watch_peer_while_waiting(why_drop_client);
      transport.limit_incoming(g_client_message_limit);
    }
    while (!leaving) {
      if (watch_client) {
        const auto now = std::chrono::steady_clock::now();
        while (transport.try_receive(manager_rank, wire::kControlTag)) last_from_client = now;
        if (now >= next_client_check) {
          next_client_check = now + std::chrono::milliseconds(100);
          if (const std::string why = why_drop_client(last_from_client); !why.empty()) {
            log().warn("service: {}: dropping it", why);
            return kClientDropped;
          }
        }
      }
      if (kOneSendingThread && spawned && greeted && std::chrono::steady_clock::now() >= next_heartbeat) {
        // See kOneSendingThread: the serve loop sends the heartbeats, between tasks.
        next_heartbeat = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        send_signal(transport, manager_rank, wire::kControlTag, wire::Kind::kHeartbeat);
      }
      bool active = transport.progress_sends();
      if (auto in = transport.try_receive(manager_rank,
                                          group_session >= 0 ? group_session : listen_tag)) {
        active = true;
        last_from_client = std::chrono::steady_clock::now();
        switch (static_cast<wire::Kind>(in->header.kind)) {
          case wire::Kind::kHello: {
            const Hello hello = read_hello(in->bytes());
            if (hello.worker_id >= 0) {
              set_log_source("worker " + std::to_string(hello.worker_id) + " " + pid_text);
            }
            log().debug("greeted by the manager (pid {}, host {})", hello.manager_pid,
                        hello.manager_host);
            // Within the bounds of SPAWNPOOL_POLL_*: the values come from the peer (a max_sleep
            // under the backoff's 10 us floor made its clamp undefined). A pool service's client
            // may not make the service's ranks spin for long either.
            const std::int64_t longest = watch_client ? 10000 : INT32_MAX;
            poll.spin = std::chrono::microseconds(std::clamp<std::int64_t>(hello.poll_spin_us, 0, longest));
            poll.max_sleep = std::chrono::microseconds(
                std::clamp<std::int64_t>(hello.poll_max_sleep_us, 10, INT32_MAX));
            backoff = Backoff(poll);
            // A service rank gets none: a client must not decide how the service's ranks end.
            if (until != ServeUntil::kClientLeaves && !sentinel &&
                runtime_state().thread_level >= MPI_THREAD_MULTIPLE) {
              WorkerSentinel::Settings watch;
              watch.control = comm;
              watch.manager_pid = static_cast<long>(hello.manager_pid);
              watch.manager_host = hello.manager_host;
              watch.shared_rank = !spawned;
              watch.static_rank = !spawned && comm == runtime_state().static_comm;
              if (spawned) watch.task_timeout = std::chrono::milliseconds(hello.task_timeout_ms);
              watch.manager_silence_limit = std::chrono::milliseconds(hello.heartbeat_timeout_ms);
              sentinel = std::make_unique<WorkerSentinel>(watch);
            }
            sessions.insert(in->tag);
            task_timeouts[in->tag] =
                std::chrono::milliseconds(std::max<std::int64_t>(hello.task_timeout_ms, 0));
            if (sentinel) sentinel->set_sessions({sessions.begin(), sessions.end()});
            if (watch_client) {
              // A client that gives another pid only gets itself dropped.
              client_pid = static_cast<long>(hello.manager_pid);
              client_here = client_pid > 0 && hello.manager_host == host_name();
            }
            greeted = true;
            // A group's members on other hosts are given up after the same silence.
            set_group_heartbeat_timeout(std::chrono::milliseconds(hello.heartbeat_timeout_ms));
            Ready ready;
            ready.pid = getpid();
            ready.host = host_name();
            ready.program = runtime_state().program;
            // A static rank's set-up is held to its share of the spawn timeout (setup_limit_ms): a
            // set-up still running then is reported as a timeout (the manager's SpawnError names
            // the rank and the initializer) and the rank ends, lost for the job, like a task past
            // its timeout; without that, the rank stayed in its initializer and the job never
            // ended. A communicator-mode rank (the application's own) is not ended: the manager's
            // spawn timeout bounds its greeting. Another executor's task timeout may still be set
            // from its last call.
            if (sentinel && !spawned) {
              const bool static_rank = comm == runtime_state().static_comm;
              sentinel->set_running_session(in->tag);
              sentinel->set_task_timeout(std::chrono::milliseconds(
                  static_rank ? std::max<std::int64_t>(hello.setup_limit_ms, 0) : 0));
            }
            ready.setup_error = apply_hello(hello, sentinel.get());
            if (sentinel && !spawned) sentinel->set_task_timeout(std::chrono::milliseconds(0));
            send_ready(transport, manager_rank, in->tag, ready);
            break;
          }
          case wire::Kind::kTasks: {
            const auto started = std::chrono::steady_clock::now();
            OutOfBand out_of_band;
            if (sentinel) {
              sentinel->set_running_session(in->tag);
              if (!spawned) sentinel->set_task_timeout(task_timeouts[in->tag]);
            }
            auto results = run_message(transport, *in, sentinel.get(), out_of_band);
            if (group_session == in->tag) {  // the group's call is over: the followers come back
              dismiss_followers(0);
              leave_static_group();
              group_session = -1;
            }
            const auto busy = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::steady_clock::now() - started);
            transport.send(manager_rank, in->tag, wire::Kind::kResults, in->header.count,
                           std::move(results), static_cast<std::uint64_t>(busy.count()),
                           std::move(out_of_band));
            // Time spent in tasks is not the client's silence: what it sent meanwhile (its
            // heartbeats) may not have been taken in by MPI yet, which happens while we poll.
            last_from_client = std::chrono::steady_clock::now();
            break;
          }
          case wire::Kind::kGroup:
            if (join_group_of_call(comm, transport, manager_rank, in->tag,
                                   read_static_group(in->bytes()), sentinel.get(),
                                   task_timeouts[in->tag])) {
              group_session = in->tag;
            }
            break;
          case wire::Kind::kShutdown:
            sessions.erase(in->tag);
            task_timeouts.erase(in->tag);
            if (sentinel) sentinel->set_sessions({sessions.begin(), sessions.end()});
            send_signal(transport, manager_rank, in->tag, wire::Kind::kBye);
            if (one_session) leaving = true;
            break;
          case wire::Kind::kExit:
            leaving = true;
            if (in->header.count != 0) runtime_state().job_lost_a_rank = true;  // release_workers
            if (sentinel) sentinel->stop_watching();
            send_signal(transport, manager_rank, in->tag, wire::Kind::kBye);  // release_workers waits
            break;
          default:
            log().warn("ignoring unexpected message kind {}", in->header.kind);
        }
      }
      if (!greeted && until == ServeUntil::kSessionEnds &&
          std::chrono::steady_clock::now() > hello_deadline) {
        log().error("no hello from the manager in 120 s; exiting");
        return 1;
      }
      if (active) {
        backoff.activity();
      } else if (transport.sends_pending()) {
        // A large result is on its way: MPI moves it only while we call into MPI, so keep
        // polling instead of sleeping.
        std::this_thread::yield();
      } else {
        backoff.pause();
      }
    }
    if (!transport.flush_sends(std::chrono::seconds(30))) {
      log().warn("the manager did not take the last messages");
      return 1;
    }
    sentinel.reset();
    return 0;
  } catch (const wire::ProtocolError& e) {
    // Most likely a manager from another spawnpool build. Answer with a bare header in this
    // build's version, so that the manager can report the mismatch instead of a silent timeout.
    log().error("{}", e.what());
    try {
      Transport transport(comm);
      send_signal(transport, manager_rank, wire::session_tag(0), wire::Kind::kReady);
      transport.flush_sends(std::chrono::seconds(2));
    } catch (const std::exception&) {
    }
    return 1;
  } catch (const std::exception& e) {
    log().debug("{}", e.what());
    log().error("{}", one_line_reason(e));
    return 1;
  }
}

void release_workers(MPI_Comm comm, int manager_rank, const std::set<int>& lost) {
  int size = 0;
  MPI_Comm_size(comm, &size);
  Transport transport(comm);
  // The header's count says whether a rank was lost (the worker then leaves without MPI_Finalize).
  const std::uint32_t rank_lost = lost.empty() ? 0 : 1;
  for (int rank = 0; rank < size; ++rank) {
    if (rank != manager_rank && lost.count(rank) == 0) {
      transport.send(rank, wire::session_tag(0), wire::Kind::kExit, rank_lost,
                     std::make_shared<Buffer>(wire::kHeaderSize));
    }
  }
  if (!transport.flush_sends(std::chrono::seconds(30))) {
    log().warn("some workers did not take the exit message");
    return;
  }
  // Each answers kBye on its way out: only then may the manager end (a static worker that saw the
  // manager gone before it read kExit would exit 1, into the job's status).
  int byes = 0;
  const int expected = size - 1 - static_cast<int>(lost.size());
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (byes < expected && std::chrono::steady_clock::now() < give_up) {
    if (transport.try_receive(MPI_ANY_SOURCE, wire::session_tag(0))) {
      ++byes;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

}  // namespace spawnpool::detail
