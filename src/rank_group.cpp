#include "rank_group.hpp"

#include "backoff.hpp"
#include "control_messages.hpp"
#include "environment.hpp"
#include "group_heartbeat.hpp"
#include "log.hpp"
#include "process_check.hpp"
#include "task_mpi_finalize.hpp"
#include "wire.hpp"
#include "worker_sentinel.hpp"

#include "spawn/group_reaper.hpp"

#include <spawnpool/detail/mpi_call.hpp>
#include <spawnpool/detail/ranked_task.hpp>
#include <spawnpool/detail/serialize.hpp>

#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace spawnpool::detail {

namespace {

using clock = std::chrono::steady_clock;

// Tags on the group's own communicator.
constexpr int kCallTag = 1;     // leader -> follower: u32 name length, name, inline arguments
constexpr int kOutcomeTag = 2;  // follower -> leader: u8 ok, then result bytes or what failed
constexpr int kEndTag = 3;      // leader -> follower: int exit status
constexpr int kSetupTag = 4;    // leader -> follower: the worker set-up (WorkerSetup, cereal)

/// Environment, working directory, initializer (an encoded call entry, or empty).
using WorkerSetup =
    std::tuple<std::vector<std::pair<std::string, std::string>>, std::string, std::string>;

/// Applies the set-up on a follower as apply_hello does on a worker: "" or what failed.
std::string apply_setup(const std::vector<char>& bytes) {
  WorkerSetup setup;
  try {
    deserialize_from(ByteSpan{bytes.data(), bytes.size()}, setup);
  } catch (const std::exception& e) {
    return std::string("the set-up did not decode: ") + e.what();
  }
  const auto& [environment, working_directory, initializer] = setup;
  for (const auto& [name, value] : environment) {
    if (setenv(name.c_str(), value.c_str(), 1) != 0) {
      return "cannot set the environment variable '" + name + "': " + std::strerror(errno);
    }
  }
  if (!working_directory.empty() && chdir(working_directory.c_str()) != 0) {
    return "cannot change to the working directory '" + working_directory +
           "': " + std::strerror(errno);
  }
  if (!initializer.empty()) {
    try {
      wire::Reader reader(ByteSpan{initializer.data(), initializer.size()});
      const wire::CallView call = wire::read_call(reader);
      const TaskEntry* entry = find_task(call.name);
      if (entry == nullptr) {
        return "the initializer \"" + std::string(call.name) + "\" is not registered here";
      }
      entry->invoke(call.args, nullptr, 0, false);
    } catch (const BadArguments& bad) {
      return "the initializer's arguments did not decode: " + bad.what;
    } catch (...) {
      return "the initializer failed: " + describe_rank_failure(std::current_exception());
    }
  }
  return "";
}

/// How often a waiting member looks whether the processes it waits for still exist.
constexpr std::chrono::milliseconds kLivenessInterval{100};
/// How often the watch thread looks (also for a crash a follower relayed).
constexpr std::chrono::milliseconds kWatchInterval{20};

struct Group {
  bool joined = false;
  bool for_one_call = false;  // a static group (join_static_group): its comms are freed after it
  MPI_Comm task_comm = MPI_COMM_NULL;  // handed to the tasks (TaskComm::mpi)
  MPI_Comm own_comm = MPI_COMM_NULL;   // spawnpool's messages between the members
  MPI_Comm beat_comm = MPI_COMM_NULL;  // a spawned group's heartbeats across hosts
  int rank = 0;
  int size = 1;
  std::vector<int> pids;  // by rank; 0 for a member on another host (not checked by pid)
};

Group& group() {
  static Group g;
  return g;
}

PollSettings quiet_polling() {
  PollSettings settings = PollSettings::from_environment();
  settings.max_sleep = std::max(settings.max_sleep, std::chrono::microseconds(20000));
  return settings;
}

/// A zombie counts as gone: a member whose reaper (or other parent) is stopped stays one.
bool process_exists(int pid) { return pid > 0 && !process_gone(pid); }

/// Whether group member `rank` is known to be gone: its pid is checked when it shares this host
/// (a static group's member on another host has pid 0: not checked).
bool member_gone(const std::vector<int>& pids, int rank) {
  const int pid = pids[static_cast<std::size_t>(rank)];
  return pid != 0 && !process_exists(pid);
}

/// How long a static group's member that saw another one gone waits before its own report.
constexpr std::chrono::milliseconds kEchoReportDelay{300};

/// Set once the group ends in order (the leader dismisses it): members leaving are expected then.
std::atomic<bool> g_ending{false};

/// A member of the group is gone: the group cannot run another task. On the leader, the manager
/// is told (WorkerLost naming the rank, for the call running) and the leader ends; the followers
/// then see it gone and end too. On a follower (the leader is gone): it ends. A static group's
/// member may be stuck in a collective with the one that is gone: every member reports its end
/// (a static rank that reported exits 0: the job goes on without it).
[[noreturn]] void end_group_without(int lost_rank) {
  const Group& g = group();
  if (g.for_one_call) {
    // A static member that is gone reported its own end before it exited (its cause: a crash, its
    // task timeout, the stuck clock); reports from different ranks reach the manager in no set
    // order, so give that one a head start: the future then names what happened, not this echo.
    std::this_thread::sleep_for(kEchoReportDelay);
  }
  if (g.rank == 0 || g.for_one_call) {
    // Report first, write after: hydra's proxy SIGKILLs every process of a spawned group as soon
    // as it wakes up (any output of the group is an event for it) and finds one of them killed by
    // a signal, and then the report would never leave.
    const bool reported = report_worker_end(LossReport::Cause::kRankLost, lost_rank);
    log().warn("group rank {}: rank {} of the group is gone; ended the group", g.rank, lost_rank);
    std::fflush(nullptr);
    _exit(reported ? status_after_report(1) : 1);
  }
  std::fflush(nullptr);
  _exit(1);
}

/// Leader: the rank a follower's crash handler named (SIGUSR2 with the rank), or -1.
std::atomic<int> g_crashed_rank{-1};
/// Follower: its rank and the leader's pid, for the crash handler.
int g_own_rank = 0;
pid_t g_leader_pid = 0;

/// The signals a follower's task may die of that the leader hears about before the follower ends.
constexpr int kCrashSignals[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL};

/// Follower, on a crash signal: tells the leader (SIGUSR2 carrying this rank) and waits, at most
/// 3 s, until the leader has reported the group lost and ended, then dies of the signal. Without
/// it the launcher ends the whole group when the follower dies, before the leader can say which
/// rank it was. Async-signal-safe.
void tell_leader_and_wait() {
  if (g_leader_pid <= 0) return;  // no relay (a static group: its leader has no handler)
  union sigval value;
  value.sival_int = g_own_rank;
  if (sigqueue(g_leader_pid, SIGUSR2, value) == 0) {
    for (int i = 0; i < 300 && ::kill(g_leader_pid, 0) == 0; ++i) {
      timespec pause{0, 10'000'000};
      nanosleep(&pause, nullptr);
    }
  }
}

void on_follower_crash(int signal_number) {
  tell_leader_and_wait();
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

/// Leader: the rank whose part of the running call failed first (-1: none), and when (steady
/// clock, ns), and whether a call is running (forwarded, its outcomes not all gathered).
std::atomic<int> g_failed_rank{-1};
std::atomic<std::int64_t> g_failed_at_ns{0};
std::atomic<bool> g_call_running{false};

std::int64_t steady_now_ns() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);  // async-signal-safe
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

void note_failed_rank(int rank) {
  int none = -1;
  if (g_failed_rank.compare_exchange_strong(none, rank)) g_failed_at_ns.store(steady_now_ns());
}

/// Leader, on SIGUSR2 from a follower: a positive value is a crashed rank, a negative one a rank
/// whose part of the call failed (it sent its outcome and the leader may be stuck without it).
void on_crash_notice(int, siginfo_t* info, void*) {
  const int value = info->si_value.sival_int;
  if (value > 0) {
    g_crashed_rank.store(value);
  } else if (value < 0) {
    note_failed_rank(-value);
  }
}

/// SIGUSR1: hydra's proxy sends it to the other processes of a spawn (this group) when one of them
/// ends abnormally (a follower killed with SIGKILL, which no handler can relay); by default it
/// would end them at once, before rank 0's watch can say which rank ended. The watch threads see
/// the member gone by its pid and end the group themselves. A handler, not SIG_IGN, so that
/// programs a task starts get the default back at exec.
void on_launcher_notice(int) {}

void install_crash_relay(const Group& g) {
  struct sigaction notice {};
  sigemptyset(&notice.sa_mask);
  notice.sa_handler = on_launcher_notice;
  notice.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &notice, nullptr);
  struct sigaction action {};
  sigemptyset(&action.sa_mask);
  if (g.rank == 0) {
    action.sa_sigaction = on_crash_notice;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGUSR2, &action, nullptr);
    return;
  }
  g_own_rank = g.rank;
  g_leader_pid = static_cast<pid_t>(g.pids[0]);
  action.sa_handler = on_follower_crash;
  action.sa_flags = SA_RESETHAND;
  for (int signal_number : kCrashSignals) sigaction(signal_number, &action, nullptr);
}

/// The members this one exchanges heartbeats with (group_heartbeat.hpp): the leader every
/// follower on another host, a follower the leader when it is on another host.
std::vector<int> members_on_other_hosts(const Group& g) {
  std::vector<int> watched;
  for (int r = g.rank == 0 ? 1 : 0; r < (g.rank == 0 ? g.size : 1); ++r) {
    if (g.pids[static_cast<std::size_t>(r)] == 0) watched.push_back(r);
  }
  return watched;
}

/// Checks every kWatchInterval, whatever the member's main thread does (a task may be stuck in
/// a collective waiting for the one that is gone): the leader watches every follower, a follower
/// the leader; by pid on this host, by heartbeats across hosts (group_heartbeat.hpp).
void start_watch() {
  std::thread([] {
    const Group& g = group();
    GroupHeartbeat heartbeat(GroupHeartbeat::Route{g.beat_comm, 1, {}}, g.rank,
                             members_on_other_hosts(g));
    for (;;) {
      std::this_thread::sleep_for(kWatchInterval);
      if (g_ending.load()) return;
      if (const int crashed = g_crashed_rank.load(); crashed > 0) end_group_without(crashed);
      if (g.rank == 0 && g_call_running.load()) {
        const int failed = g_failed_rank.load();
        const auto limit_ns = std::chrono::nanoseconds(kRankStuckLimit).count();
        if (failed >= 0 && steady_now_ns() - g_failed_at_ns.load() > limit_ns) {
          log().warn("group rank 0: rank {}'s part of the call failed and the others did not "
                     "finish within {} s; ending the group", failed, kRankStuckLimit.count());
          const bool reported = report_worker_end(LossReport::Cause::kRankStuck, failed);
          std::fflush(nullptr);
          _exit(reported ? status_after_report(1) : 1);
        }
      }
      for (int r = g.rank == 0 ? 1 : 0; r < (g.rank == 0 ? g.size : 1); ++r) {
        if (member_gone(g.pids, r) && !g_ending.load()) end_group_without(r);
      }
      if (const int lost = heartbeat.check(); lost >= 0 && !g_ending.load()) {
        end_group_without(lost);
      }
    }
  }).detach();
}

/// Waits quietly for `request` to group member `peer`; if `peer` is gone, the group ends, or,
/// when the group ends already (g_ending), the wait is given up with an Error.
void wait_quietly(MPI_Request& request, int peer) {
  Backoff backoff(quiet_polling());
  auto next_look = clock::now() + kLivenessInterval;
  for (;;) {
    int done = 0;
    {
      auto lock = mpi_lock();
      SPAWNPOOL_MPI(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    }
    if (done) return;
    if (clock::now() >= next_look) {
      if (member_gone(group().pids, peer)) {
        if (!g_ending.load()) end_group_without(peer);
        throw Error("its process is gone");
      }
      next_look = clock::now() + kLivenessInterval;
    }
    backoff.pause();
  }
}

void send_bytes(const std::vector<char>& bytes, int to, int tag) {
  const Group& g = group();
  MPI_Request request = MPI_REQUEST_NULL;
  {
    auto lock = mpi_lock();
    SPAWNPOOL_MPI(MPI_Isend(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, to, tag,
                            g.own_comm, &request));
  }
  wait_quietly(request, to);
}

}  // namespace

RankGroupView rank_group_view() noexcept {
  const Group& g = group();
  if (g.joined) return RankGroupView{g.task_comm, g.rank, g.size};
  int initialized = 0;
  int finalized = 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Finalized(&finalized);
  return RankGroupView{initialized && !finalized ? MPI_COMM_SELF : MPI_COMM_NULL, 0, 1};
}

bool is_rank_group_comm(MPI_Comm comm) noexcept {
  const Group& g = group();
  if (!g.joined || comm == MPI_COMM_NULL) return false;
  if (comm == MPI_COMM_SELF || comm == g.task_comm) return true;
  if (g.for_one_call) return false;  // a static group's world holds the manager and other ranks
  if (comm == MPI_COMM_WORLD) return true;
  int result = MPI_UNEQUAL;
  return PMPI_Comm_compare(comm, MPI_COMM_WORLD, &result) == MPI_SUCCESS &&
         (result == MPI_IDENT || result == MPI_CONGRUENT);
}

bool is_rank_group_follower() noexcept {
  // A static group's follower ends like any static rank: its leader has no crash relay.
  return group().joined && !group().for_one_call && group().rank > 0;
}

/// Set while a follower's main thread runs its share of a call.
thread_local bool t_follower_in_task = false;

bool is_follower_running_task() noexcept { return t_follower_in_task; }

void follower_task_ends_group(const char* what, int status) noexcept {
  std::fprintf(stderr, "spawnpool: rank %d of a group: its task %s; the group ends\n",
               group().rank, what);
  std::fflush(nullptr);
  tell_leader_and_wait();
  _exit(status);
}

int join_rank_group() {
  Group& g = group();
  auto lock = mpi_lock();
  SPAWNPOOL_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &g.task_comm));
  SPAWNPOOL_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &g.own_comm));
  MPI_Comm_set_errhandler(g.own_comm, MPI_ERRORS_RETURN);
  SPAWNPOOL_MPI(MPI_Comm_rank(g.own_comm, &g.rank));
  SPAWNPOOL_MPI(MPI_Comm_size(g.own_comm, &g.size));
  g.pids.assign(static_cast<std::size_t>(g.size), 0);
  const int mine = static_cast<int>(::getpid());
  SPAWNPOOL_MPI(MPI_Allgather(&mine, 1, MPI_INT, g.pids.data(), 1, MPI_INT, g.own_comm));
  // A group spread over hosts (TaskOptions::spread): a pid names a process on its own host only.
  constexpr int kHostLength = 256;
  std::vector<char> hosts(static_cast<std::size_t>(g.size) * kHostLength, '\0');
  std::vector<char> own_host(kHostLength, '\0');
  host_name().copy(own_host.data(), kHostLength - 1);
  SPAWNPOOL_MPI(MPI_Allgather(own_host.data(), kHostLength, MPI_CHAR, hosts.data(), kHostLength,
                              MPI_CHAR, g.own_comm));
  for (int r = 0; r < g.size; ++r) {
    if (std::string(hosts.data() + static_cast<std::size_t>(r) * kHostLength) !=
        std::string(own_host.data())) {
      g.pids[static_cast<std::size_t>(r)] = 0;
    }
  }
  SPAWNPOOL_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &g.beat_comm));
  MPI_Comm_set_errhandler(g.beat_comm, MPI_ERRORS_RETURN);
  g.joined = true;
  if (g.rank > 0) tell_group_reaper(g.rank, g.pids[0]);  // spawn/group_reaper.hpp
  install_crash_relay(g);
  start_watch();
  return g.rank;
}

/// A static group's member whose own part of the call failed: true when the others have not
/// finished within kRankStuckLimit since (they wait for it in a collective it never reaches).
/// The leader knows the call is over when it has every outcome, a follower when it is dismissed.
/// Each member keeps only its own failure: a static group has no crash relay between members
/// (they may be on different hosts), so the member that failed is the one that sees it stuck.
bool own_failure_stuck(int own_rank) {
  const bool running = own_rank == 0 ? g_call_running.load() : !g_ending.load();
  const auto limit_ns = std::chrono::nanoseconds(kRankStuckLimit).count();
  return running && g_failed_rank.load() == own_rank &&
         steady_now_ns() - g_failed_at_ns.load() > limit_ns;
}

/// A static group's watch (join_static_group to leave_static_group): every kLivenessInterval,
/// whatever the main thread does (a task stuck in a collective with a member that is gone), looks
/// whether the other members' processes still exist; one that is gone ends this member. The
/// member whose part failed runs the stuck clock: when the others are not done within
/// kRankStuckLimit, it reports the group stuck (WorkerLost, as a spawned group's leader does) and
/// ends; the others then see it gone (or run into their task timeout).
class StaticGroupWatch {
 public:
  void start(std::vector<int> pids, int own_rank) {
    stop_ = false;
    thread_ = std::thread([this, pids = std::move(pids), own_rank] {
      std::unique_lock<std::mutex> lock(mutex_);
      while (!wake_.wait_for(lock, kLivenessInterval, [this] { return stop_; })) {
        if (own_failure_stuck(own_rank)) {
          log().warn("group rank {}: its part of the call failed and the others did not finish "
                     "within {} s; ending the group", own_rank, kRankStuckLimit.count());
          const bool reported = report_worker_end(LossReport::Cause::kRankStuck, own_rank);
          std::fflush(nullptr);
          _exit(reported ? status_after_report(1) : 1);
        }
        for (int r = 0; r < static_cast<int>(pids.size()); ++r) {
          if (r != own_rank && member_gone(pids, r)) end_group_without(r);
        }
        if (heartbeat_) {
          if (const int lost = heartbeat_->check(); lost >= 0) end_group_without(lost);
        }
      }
    });
  }
  /// Heartbeats with the members on other hosts too, once the group is formed.
  void watch_other_hosts(GroupHeartbeat::Route route, int own_rank,
                         const std::vector<int>& watched) {
    std::lock_guard<std::mutex> lock(mutex_);
    heartbeat_ = std::make_unique<GroupHeartbeat>(std::move(route), own_rank, watched);
  }
  void stop() noexcept {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
    heartbeat_.reset();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
  std::unique_ptr<GroupHeartbeat> heartbeat_;
};

StaticGroupWatch& static_group_watch() {
  static StaticGroupWatch watch;
  return watch;
}

int join_static_group(MPI_Comm parent, const std::vector<int>& ranks,
                      const std::vector<int>& pids, int tag) {
  Group& g = group();
  if (g.joined) throw Error("spawnpool: this rank is already in a group of a k-rank task");
  int me = -1;
  {
    auto lock = mpi_lock();
    SPAWNPOOL_MPI(MPI_Comm_rank(parent, &me));
  }
  const auto mine = std::find(ranks.begin(), ranks.end(), me);
  if (mine == ranks.end() || pids.size() != ranks.size()) {
    throw Error("spawnpool: a group message for rank " + std::to_string(me) +
                " that does not name it, or names fewer pids than ranks");
  }
  g.rank = static_cast<int>(mine - ranks.begin());
  g.size = static_cast<int>(ranks.size());
  g.pids = pids;
  g_ending = false;
  g_failed_rank = -1;
  g_call_running = false;
  g.for_one_call = true;
  // From here on a member that is gone ends this one, also while it waits for the others below.
  static_group_watch().start(g.pids, g.rank);

  // Wait quietly until every member has arrived (one may still run another executor's task):
  // MPICH's MPI_Comm_create_group would wait at full speed.
  {
    const int token = me;
    std::vector<int> arrived(ranks.size(), -1);
    std::vector<MPI_Request> requests;
    {
      auto lock = mpi_lock();
      for (std::size_t r = 0; r < ranks.size(); ++r) {
        if (ranks[r] == me) continue;
        requests.emplace_back();
        SPAWNPOOL_MPI(MPI_Irecv(&arrived[r], 1, MPI_INT, ranks[r], tag, parent, &requests.back()));
        requests.emplace_back();
        SPAWNPOOL_MPI(MPI_Isend(&token, 1, MPI_INT, ranks[r], tag, parent, &requests.back()));
      }
    }
    Backoff backoff(quiet_polling());
    for (;;) {
      int done = 0;
      {
        auto lock = mpi_lock();
        SPAWNPOOL_MPI(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done,
                                  MPI_STATUSES_IGNORE));
      }
      if (done) break;
      backoff.pause();
    }
  }

  auto lock = mpi_lock();
  MPI_Group parent_group = MPI_GROUP_NULL;
  MPI_Group members = MPI_GROUP_NULL;
  MPI_Comm created = MPI_COMM_NULL;
  SPAWNPOOL_MPI(MPI_Comm_group(parent, &parent_group));
  const int made = MPI_Group_incl(parent_group, static_cast<int>(ranks.size()), ranks.data(), &members);
  MPI_Group_free(&parent_group);
  check_mpi(made, "MPI_Group_incl");
  // Collective over the k members only (all of them have arrived: it returns at once).
  const int created_status = MPI_Comm_create_group(parent, members, tag, &created);
  MPI_Group_free(&members);
  check_mpi(created_status, "MPI_Comm_create_group");
  SPAWNPOOL_MPI(MPI_Comm_dup(created, &g.task_comm));
  SPAWNPOOL_MPI(MPI_Comm_dup(created, &g.own_comm));
  MPI_Comm_free(&created);
  MPI_Comm_set_errhandler(g.own_comm, MPI_ERRORS_RETURN);
  g.joined = true;
  if (lock.owns_lock()) lock.unlock();
  // Across hosts: heartbeats on `parent` (group_heartbeat.hpp says why not on a group's own).
  static_group_watch().watch_other_hosts(
      GroupHeartbeat::Route{parent, kStaticGroupBeatTag, ranks}, g.rank, members_on_other_hosts(g));
  return g.rank;
}

void leave_static_group() noexcept {
  Group& g = group();
  if (!g.joined || !g.for_one_call) return;
  static_group_watch().stop();
  auto lock = mpi_lock();
  MPI_Comm_free(&g.task_comm);
  MPI_Comm_free(&g.own_comm);
  g = Group{};
}

void send_call_to_followers(std::string_view entry_name, ByteSpan args) {
  const Group& g = group();
  std::vector<char> message(4 + entry_name.size() + args.size);
  const auto length = static_cast<std::uint32_t>(entry_name.size());
  std::memcpy(message.data(), &length, 4);
  std::memcpy(message.data() + 4, entry_name.data(), entry_name.size());
  if (args.size > 0) std::memcpy(message.data() + 4 + entry_name.size(), args.data, args.size);
  g_failed_rank.store(-1);
  g_call_running.store(true);
  for (int rank = 1; rank < g.size; ++rank) send_bytes(message, rank, kCallTag);
}

void note_leader_part_failed() noexcept {
  if (group().joined && group().rank == 0) note_failed_rank(0);
}

void send_outcome_to_leader(bool ok, ByteSpan bytes) {
  std::vector<char> message(1 + bytes.size);
  message[0] = ok ? 1 : 0;
  if (bytes.size > 0) std::memcpy(message.data() + 1, bytes.data, bytes.size);
  if (!ok && group().for_one_call) {
    note_failed_rank(group().rank);  // this member runs the stuck clock (StaticGroupWatch)
  } else if (!ok) {  // the leader may wait in the task for this rank: it starts the stuck clock
                     // (before the outcome, so that the notice never reaches the leader's next call)
    union sigval value;
    value.sival_int = -group().rank;
    // (a leader on another host has pid 0 here: no notice, its stuck clock starts with the outcome)
    if (group().pids[0] > 0) sigqueue(static_cast<pid_t>(group().pids[0]), SIGUSR2, value);
  }
  send_bytes(message, 0, kOutcomeTag);
}

namespace {

/// The leader: follower `rank` did not apply the worker set-up before the limit (stopped, or its
/// initializer hangs). Tells the manager (its start fails naming the rank), ends the followers
/// that have not answered (a stopped one would otherwise stay behind, and with it the group's MPI
/// job), and ends; the followers that answered see it gone and end.
[[noreturn]] void end_group_after_slow_set_up(int rank) {
  const Group& g = group();
  g_ending = true;  // the followers ended below are no news for the watch
  const long pid = g.pids[static_cast<std::size_t>(rank)];
  const bool stopped = process_stopped(pid);
  const bool reported = report_worker_end(LossReport::Cause::kRankSetUpStuck, rank);
  for (int r = rank; r < g.size; ++r) end_process(g.pids[static_cast<std::size_t>(r)]);
  log().warn("group rank 0: rank {} (pid {}) did not finish the worker set-up in time{}; ended "
             "the group", rank, pid, stopped ? " (its process is stopped)" : "");
  std::fflush(nullptr);
  _exit(reported ? status_after_report(1) : 1);
}

/// Gathers each follower's outcome of the call (or set-up) sent to them, in rank order. A follower
/// whose process is gone ends the group (end_group_without); one that has not answered by `until`
/// too (end_group_after_slow_set_up: only the set-up has a limit here, a call has the task
/// timeout).
std::vector<RankOutcome> gather_follower_outcomes(clock::time_point until) {
  const Group& g = group();
  std::vector<RankOutcome> outcomes(static_cast<std::size_t>(g.size - 1));
  Backoff backoff(quiet_polling());
  auto next_look = clock::now() + kLivenessInterval;
  for (int rank = 1; rank < g.size;) {
    int found = 0;
    MPI_Message message;
    MPI_Status status;
    {
      auto lock = mpi_lock();
      SPAWNPOOL_MPI(MPI_Improbe(rank, kOutcomeTag, g.own_comm, &found, &message, &status));
      if (found) {
        int count = 0;
        MPI_Get_count(&status, MPI_BYTE, &count);
        std::vector<char> bytes(static_cast<std::size_t>(count));
        SPAWNPOOL_MPI(MPI_Mrecv(bytes.data(), count, MPI_BYTE, &message, MPI_STATUS_IGNORE));
        RankOutcome& o = outcomes[static_cast<std::size_t>(rank - 1)];
        o.ok = count > 0 && bytes[0] == 1;
        o.bytes.assign(bytes.begin() + (count > 0 ? 1 : 0), bytes.end());
      }
    }
    if (found) {
      ++rank;
      backoff.activity();
      continue;
    }
    if (clock::now() >= next_look) {
      for (int r = rank; r < g.size; ++r) {
        if (member_gone(g.pids, r)) end_group_without(r);
      }
      next_look = clock::now() + kLivenessInterval;
    }
    if (clock::now() >= until) end_group_after_slow_set_up(rank);
    backoff.pause();
  }
  g_call_running.store(false);
  return outcomes;
}

}  // namespace

std::vector<RankOutcome> gather_follower_outcomes() {
  return gather_follower_outcomes(clock::time_point::max());
}

int serve_as_follower() noexcept {
  Group& g = group();
  end_worker_when_a_task_finalizes_mpi();  // a task's MPI_Finalize would wait for ever
  Backoff backoff(quiet_polling());
  auto next_look = clock::now() + kLivenessInterval;
  try {
    for (;;) {
      int found = 0;
      MPI_Message message;
      MPI_Status status;
      std::vector<char> bytes;
      {
        auto lock = mpi_lock();
        SPAWNPOOL_MPI(MPI_Improbe(0, MPI_ANY_TAG, g.own_comm, &found, &message, &status));
        if (found) {
          int count = 0;
          MPI_Get_count(&status, MPI_BYTE, &count);
          bytes.resize(static_cast<std::size_t>(count));
          SPAWNPOOL_MPI(MPI_Mrecv(bytes.data(), count, MPI_BYTE, &message, MPI_STATUS_IGNORE));
        }
      }
      if (!found) {
        if (clock::now() >= next_look) {
          if (member_gone(g.pids, 0)) end_group_without(0);
          next_look = clock::now() + kLivenessInterval;
        }
        backoff.pause();
        continue;
      }
      backoff.activity();
      if (status.MPI_TAG == kSetupTag) {
        const std::string failure = apply_setup(bytes);
        send_outcome_to_leader(failure.empty(), ByteSpan{failure.data(), failure.size()});
        continue;
      }
      if (status.MPI_TAG == kEndTag) {
        g_ending = true;
        if (g.for_one_call) group_share_finished();
        int exit_status = 1;
        if (bytes.size() >= sizeof(int)) std::memcpy(&exit_status, bytes.data(), sizeof(int));
        return exit_status;
      }
      if (g.for_one_call) group_share_started();  // the task timeout runs until the dismissal
      std::uint32_t length = 0;
      if (bytes.size() >= 4) std::memcpy(&length, bytes.data(), 4);
      const std::string name(bytes.data() + 4, std::min<std::size_t>(length, bytes.size() - 4));
      const TaskEntry* entry = find_task(name);
      std::string failure;
      if (entry == nullptr) {
        failure = "the task '" + name + "' is not registered in this process";
      } else {
        try {
          const std::size_t offset = 4 + name.size();
          struct TaskMark {
            TaskMark() { t_follower_in_task = true; }
            ~TaskMark() { t_follower_in_task = false; }
          } task_mark;
          entry->invoke(ByteSpan{bytes.data() + offset, bytes.size() - offset}, nullptr, 0, false);
        } catch (const BadArguments& bad) {
          failure = "the arguments did not decode: " + bad.what;
        }
      }
      if (!failure.empty()) send_outcome_to_leader(false, ByteSpan{failure.data(), failure.size()});
    }
  } catch (const std::exception& e) {
    log().error("group rank {}: {}", g.rank, e.what());
    return 1;
  }
}

std::string set_up_followers(const std::vector<std::pair<std::string, std::string>>& environment,
                             const std::string& working_directory,
                             const std::string& initializer,
                             std::chrono::steady_clock::time_point deadline) noexcept {
  const Group& g = group();
  if (!g.joined || g.rank != 0 || g.size < 2) return "";
  try {
    const Buffer bytes =
        serialize_owned(WorkerSetup{environment, working_directory, initializer}, 0, nullptr);
    const std::vector<char> message(bytes.data(), bytes.data() + bytes.size());
    for (int rank = 1; rank < g.size; ++rank) send_bytes(message, rank, kSetupTag);
    const std::vector<RankOutcome> outcomes = gather_follower_outcomes(deadline);
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      if (!outcomes[i].ok) {
        return "rank " + std::to_string(i + 1) + " of the group: " +
               std::string(outcomes[i].bytes.begin(), outcomes[i].bytes.end());
      }
    }
    return "";
  } catch (const std::exception& e) {
    return std::string("setting up the group's other ranks failed: ") + e.what();
  }
}

void dismiss_followers(int status) noexcept {
  const Group& g = group();
  if (!g.joined || g.rank != 0) return;
  g_ending = true;
  std::vector<char> message(sizeof(int));
  std::memcpy(message.data(), &status, sizeof(int));
  for (int rank = 1; rank < g.size; ++rank) {
    try {
      send_bytes(message, rank, kEndTag);
    } catch (const std::exception& e) {
      log().warn("group rank 0: could not dismiss rank {}: {}", rank, e.what());
    }
  }
}

bool follower_gone() noexcept {
  const Group& g = group();
  if (!g.joined || g.rank != 0) return false;
  for (int rank = 1; rank < g.size; ++rank) {
    if (member_gone(g.pids, rank)) return true;
  }
  return false;
}

void end_remaining_followers() noexcept {
  const Group& g = group();
  if (!g.joined || g.rank != 0) return;
  for (int rank = 1; rank < g.size; ++rank) end_process(g.pids[static_cast<std::size_t>(rank)]);
}

}  // namespace spawnpool::detail
