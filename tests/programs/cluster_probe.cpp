// A manager for the multi-node cluster tests (tests/cluster/cluster_case.sh). Started alone (spawn
// mode: it relaunches itself under mpiexec) or as every rank of `srun -N 3` (static mode). Prints
// what the test script checks, one fact per line; times are wall-clock epoch milliseconds, so the
// script can compare them with what it did (the nodes share this machine's clock).
//   cluster_probe hosts RESULT         a pool of the default size (SPAWNPOOL_MAX_WORKERS to set it):
//                                      "manager HOST", "worker ID host H pid P" per worker, "task
//                                      host H" for where each of 4 tasks per worker ran, "sum ok"
//   cluster_probe kill-remote RESULT   one 8 s task per worker; the manager SIGKILLs a worker on
//                                      another host (PIDs are shared by the namespace nodes, as an
//                                      `ssh node kill -9` would do) and prints "killed ID host H at
//                                      MS" and "lost ID after MS ms"; then "served 20"
//   cluster_probe cut-node RESULT      one task per worker holding until RELEASE_FILE exists;
//                                      prints "cut NODE" (a node with workers, not the manager's)
//                                      and waits for the test script to cut that node off; prints
//                                      "lost N at MS" once every worker there is lost, releases
//                                      the others, prints "served 100"
//                                      then, once the pool has replaced what it could (bounded):
//                                      "settled workers N", "now worker ID host H pid P" per
//                                      worker, "lost_hosts H...", "not_replaced N"
//   cluster_probe manager-loss RESULT  one task per worker holding for 120 s; prints "manager HOST
//                                      pid P" and "holding" once every worker runs its task, then
//                                      waits (at most 120 s) for the test script to kill this
//                                      process or cut its node off: the workers must end by
//                                      themselves
//   cluster_probe ranks RESULT         k-rank tasks (k = PROBE_RANKS, default 2): 6 tasks side by
//                                      side, each returning every rank's host (submit_all_ranks)
//                                      after an MPI_Allreduce over the task's ranks; prints
//                                      "ranked task I rank R host H" per rank, "allreduce ok",
//                                      then the ordinary tasks' "served 100"
//   cluster_probe ranks-packed-error RESULT  static mode, one worker rank per node: a packed
//                                      2-rank task fails at submit ("packed error: WHAT"), a
//                                      spread one runs ("spread hosts H,H")
//   cluster_probe ranks-kill RESULT    one group of 2 ranks (Options::rank_groups(1)), rank 1 on
//                                      another node than the manager's: prints "group rank R host H pid P";
//                                      runs a 2-rank task holding 20 s, SIGKILLs rank 1 (PIDs are
//                                      shared by the namespace nodes) and prints "killed rank 1
//                                      at MS", then "lost after MS ms: WHAT" once the task fails
//                                      with WorkerLost; then a new group serves: "regrouped on
//                                      H,H" and "served 100"
// k-rank verbs: PROBE_SPREAD=1 spreads each task's ranks over the nodes (TaskOptions::spread);
// ranks-kill then wants its two ranks on two nodes, and kills rank 1, on another node than rank 0.
// PROBE_KILL_IN_COLLECTIVE=1: ranks-kill kills rank 1 while rank 0 waits for it in MPI_Barrier.
// Placement, for every verb (else the defaults): PROBE_HOSTS=h1+h2+... (Options::hosts; not
// commas, which sbatch --export splits on),
// PROBE_PLACEMENT=spread|pack, PROBE_MAX_PER_HOST=n (Options::max_workers_per_host).
// Every verb ends with "main returns RESULT" and returns RESULT: the program's own exit code.
// Exit codes of its own: 60 a check failed (the line before says which), 61 timed out waiting.
#include <spawnpool/spawnpool.hpp>

#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

std::string this_host() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

long long epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string host_of_task(int) { return this_host(); }
SPAWNPOOL_TASK(host_of_task);

// Sleeps `ms` milliseconds (or until `release_file` exists, when given), then says where it ran.
std::string hold(int ms, std::string release_file) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (!release_file.empty() && access(release_file.c_str(), F_OK) == 0) break;
    std::this_thread::sleep_for(50ms);
  }
  return this_host();
}
SPAWNPOOL_TASK(hold);

long square(long x) { return x * x; }
SPAWNPOOL_TASK(square);

/// A k-rank task: this rank's host, or "allreduce-wrong" when the ranks' sum of rank + 1 is not
/// k(k+1)/2 (every rank of the task takes part).
std::string host_of_rank(spawnpool::TaskComm comm, int) {
  int mine = comm.rank() + 1, sum = 0;
  MPI_Allreduce(&mine, &sum, 1, MPI_INT, MPI_SUM, comm.mpi());
  return sum == comm.size() * (comm.size() + 1) / 2 ? this_host() : "allreduce-wrong";
}
SPAWNPOOL_TASK(host_of_rank);

[[noreturn]] void fail(const std::string& why, int code = 60) {
  std::printf("FAIL: %s\n", why.c_str());
  std::fflush(stdout);
  std::exit(code);
}

void print_workers(spawnpool::Executor& pool) {
  std::printf("manager %s\nworkers %d\n", this_host().c_str(), pool.num_workers());
  for (const auto& w : pool.workers()) {
    std::printf("worker %d host %s pid %ld\n", w.id, w.host.c_str(), w.pid);
  }
  std::fflush(stdout);
}

/// A map of `n` squares must come back right: the pool still serves.
void serve_squares(spawnpool::Executor& pool, long n) {
  std::vector<long> xs;
  for (long i = 0; i < n; ++i) xs.push_back(i);
  const std::vector<long> got = pool.map(square, xs).get();
  for (long i = 0; i < n; ++i) {
    if (got[static_cast<std::size_t>(i)] != i * i) fail("square(" + std::to_string(i) + ") wrong");
  }
  std::printf("served %ld\n", n);
}

void hosts_verb(spawnpool::Executor& pool) {
  print_workers(pool);
  std::vector<int> inputs(static_cast<std::size_t>(4 * pool.num_workers()));
  for (const std::string& host : pool.map(host_of_task, inputs).get()) {
    std::printf("task host %s\n", host.c_str());
  }
  serve_squares(pool, 1000);
  std::printf("sum ok\n");
}

void kill_remote_verb(spawnpool::Executor& pool) {
  print_workers(pool);
  const std::string here = this_host();
  spawnpool::WorkerInfo victim;
  for (const auto& w : pool.workers()) {
    if (w.host != here) victim = w;
  }
  if (victim.id < 0) fail("no worker on another host than " + here);
  std::vector<spawnpool::Future<std::string>> held;
  for (int i = 0; i < pool.num_workers(); ++i) held.push_back(pool.submit(hold, 8000, std::string()));
  std::this_thread::sleep_for(1s);  // every worker is in its task (pipeline depth 1)
  const auto killed_at = std::chrono::steady_clock::now();
  if (kill(static_cast<pid_t>(victim.pid), SIGKILL) != 0) fail("kill failed");
  std::printf("killed %d host %s at %lld\n", victim.id, victim.host.c_str(), epoch_ms());
  std::fflush(stdout);
  int lost = 0;
  std::set<std::size_t> done;
  while (done.size() < held.size()) {
    for (std::size_t i = 0; i < held.size(); ++i) {
      if (done.count(i) || held[i].wait_for(10ms) != spawnpool::FutureStatus::ready) continue;
      done.insert(i);
      try {
        held[i].get();
      } catch (const spawnpool::WorkerLost& e) {
        ++lost;
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - killed_at)
                            .count();
        std::printf("lost %d after %lld ms: %s\n", victim.id, static_cast<long long>(ms), e.what());
        std::fflush(stdout);
      }
    }
  }
  if (lost != 1) fail("expected 1 WorkerLost, got " + std::to_string(lost));
  serve_squares(pool, 20);
}

void cut_node_verb(spawnpool::Executor& pool) {
  print_workers(pool);
  const char* release = std::getenv("RELEASE_FILE");
  if (release == nullptr || *release == '\0') fail("RELEASE_FILE not set");
  const std::string here = this_host();
  std::map<std::string, int> per_host;
  for (const auto& w : pool.workers()) per_host[w.host] += 1;
  std::string cut;
  for (const auto& [host, n] : per_host) {
    if (host != here && (cut.empty() || n > per_host[cut])) cut = host;
  }
  if (cut.empty()) fail("no worker on another host than " + here);
  std::vector<spawnpool::Future<std::string>> held;
  for (int i = 0; i < pool.num_workers(); ++i) held.push_back(pool.submit(hold, 120000, std::string(release)));
  std::this_thread::sleep_for(1s);
  std::printf("cut %s with %d workers\n", cut.c_str(), per_host[cut]);
  std::fflush(stdout);
  // Wait (bounded) until every worker of that node is lost.
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  while (pool.stats().workers_lost < static_cast<std::uint64_t>(per_host[cut])) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::printf("workers lost after 90 s: %llu\n",
                  static_cast<unsigned long long>(pool.stats().workers_lost));
      fail("timed out waiting for the cut node's workers to be lost", 61);
    }
    std::this_thread::sleep_for(20ms);
  }
  std::printf("lost %d at %lld\n", per_host[cut], epoch_ms());
  std::fflush(stdout);
  std::ofstream(release).put('\n');
  int lost = 0;
  for (auto& f : held) {
    try {
      const std::string host = f.get();
      if (host == cut) fail("a task on the cut node " + cut + " returned");
    } catch (const spawnpool::WorkerLost& e) {
      ++lost;
      std::printf("WorkerLost: %s\n", e.what());
    }
  }
  if (lost != per_host[cut]) {
    fail(std::to_string(lost) + " tasks ended in WorkerLost, not " + std::to_string(per_host[cut]));
  }
  serve_squares(pool, 100);
  if (pool.mode() != spawnpool::Mode::spawn) return;  // a static rank is never replaced
  // The replacements are started in the background: wait (bounded) until each lost worker is
  // replaced or counted as not replaced.
  const int initial = [&] {
    int n = 0;
    for (const auto& [host, count] : per_host) n += count;
    return n;
  }();
  const auto settle_deadline = std::chrono::steady_clock::now() + 40s;
  for (;;) {
    const spawnpool::Stats stats = pool.stats();
    if (pool.num_workers() + static_cast<int>(stats.workers_not_replaced) >= initial) break;
    if (std::chrono::steady_clock::now() > settle_deadline) {
      std::printf("workers %d, not replaced %llu after 40 s\n", pool.num_workers(),
                  static_cast<unsigned long long>(stats.workers_not_replaced));
      fail("timed out waiting for the replacements", 61);
    }
    std::this_thread::sleep_for(50ms);
  }
  const spawnpool::Stats stats = pool.stats();
  std::printf("settled workers %d\n", pool.num_workers());
  for (const auto& w : pool.workers()) {
    std::printf("now worker %d host %s pid %ld\n", w.id, w.host.c_str(), w.pid);
  }
  std::printf("lost_hosts");
  for (const std::string& host : stats.lost_hosts) std::printf(" %s", host.c_str());
  std::printf("\nnot_replaced %llu\n", static_cast<unsigned long long>(stats.workers_not_replaced));
  std::fflush(stdout);
}

/// Options::hosts, placement and max_workers_per_host from PROBE_HOSTS, PROBE_PLACEMENT and
/// PROBE_MAX_PER_HOST, when set.
void placement_from_environment(spawnpool::Options& options) {
  if (const char* hosts = std::getenv("PROBE_HOSTS"); hosts != nullptr && *hosts != '\0') {
    std::vector<std::string> names;
    std::string list = hosts;
    for (std::size_t pos = 0; pos <= list.size();) {
      std::size_t end = list.find('+', pos);
      if (end == std::string::npos) end = list.size();
      names.push_back(list.substr(pos, end - pos));
      pos = end + 1;
    }
    options.hosts(names);
  }
  if (const char* policy = std::getenv("PROBE_PLACEMENT"); policy != nullptr) {
    options.placement(std::string(policy) == "pack" ? spawnpool::Placement::pack
                                                    : spawnpool::Placement::spread);
  }
  if (const char* limit = std::getenv("PROBE_MAX_PER_HOST"); limit != nullptr) {
    options.max_workers_per_host(std::atoi(limit));
  }
}

/// TaskOptions::spread from PROBE_SPREAD=1.
bool spread_ranks() {
  const char* spread = std::getenv("PROBE_SPREAD");
  return spread != nullptr && std::string(spread) == "1";
}

void ranks_verb(spawnpool::Executor& pool) {
  print_workers(pool);
  const char* k_text = std::getenv("PROBE_RANKS");
  const int k = k_text != nullptr ? std::atoi(k_text) : 2;
  std::vector<spawnpool::Future<std::vector<std::string>>> tasks;
  const auto options = spawnpool::TaskOptions{}.ranks(k).spread(spread_ranks());
  for (int i = 0; i < 6; ++i) tasks.push_back(pool.submit_all_ranks(options, host_of_rank, i));
  serve_squares(pool, 100);  // ordinary tasks beside them
  bool allreduce_ok = true;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const std::vector<std::string> hosts = tasks[i].get();
    if (hosts.size() != static_cast<std::size_t>(k)) fail("a task returned the wrong rank count");
    for (std::size_t r = 0; r < hosts.size(); ++r) {
      if (hosts[r] == "allreduce-wrong") allreduce_ok = false;
      std::printf("ranked task %zu rank %zu host %s\n", i, r, hosts[r].c_str());
    }
  }
  if (!allreduce_ok) fail("an MPI_Allreduce over a task's ranks gave the wrong sum");
  std::printf("allreduce ok\n");
}

/// Static mode with one worker rank per node: a packed 2-rank task is an Error at submit that
/// names TaskOptions::spread ("packed error: WHAT"); spread, it runs ("spread hosts H,H").
void ranks_packed_error_verb(spawnpool::Executor& pool) {
  print_workers(pool);
  try {
    (void)pool.submit_all_ranks(spawnpool::TaskOptions{}.ranks(2), host_of_rank, 0);
    fail("a packed 2-rank task was accepted on a pool with one worker rank per node");
  } catch (const spawnpool::Error& e) {
    std::printf("packed error: %s\n", e.what());
  }
  const std::vector<std::string> hosts =
      pool.submit_all_ranks(spawnpool::TaskOptions{}.ranks(2).spread(), host_of_rank, 0).get();
  std::printf("spread hosts %s,%s\n", hosts[0].c_str(), hosts[1].c_str());
}

/// "host pid" of this rank.
std::string where_is_rank(spawnpool::TaskComm, int) {
  return this_host() + " " + std::to_string(static_cast<long>(getpid()));
}
SPAWNPOOL_TASK(where_is_rank);

/// Holds every rank of the task for `ms` milliseconds between two barriers.
int hold_ranks(spawnpool::TaskComm comm, int ms) {
  MPI_Barrier(comm.mpi());
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  MPI_Barrier(comm.mpi());
  return comm.rank();
}
SPAWNPOOL_TASK(hold_ranks);

/// Rank 0 waits in MPI_Barrier at once, the others hold `ms` milliseconds first: a rank killed
/// meanwhile leaves rank 0 in a collective with it.
int barrier_after_others_hold(spawnpool::TaskComm comm, int ms) {
  if (comm.rank() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  MPI_Barrier(comm.mpi());
  return comm.rank();
}
SPAWNPOOL_TASK(barrier_after_others_hold);

void ranks_kill_verb(spawnpool::Executor& pool) {
  print_workers(pool);
  const auto two = spawnpool::TaskOptions{}.ranks(2).spread(spread_ranks());
  const std::vector<std::string> where = pool.submit_all_ranks(two, where_is_rank, 0).get();
  for (std::size_t r = 0; r < where.size(); ++r) {
    std::printf("group rank %zu host %s\n", r, where[r].c_str());
  }
  const std::string leader_host = where[0].substr(0, where[0].find(' '));
  const std::string follower_host = where[1].substr(0, where[1].find(' '));
  const long follower_pid = std::atol(where[1].substr(where[1].find(' ') + 1).c_str());
  if (follower_host == this_host()) fail("the group is on the manager's host " + this_host());
  if (spread_ranks() && follower_host == leader_host) {
    fail("a spread group's two ranks share host " + leader_host);
  }
  const char* in_collective = std::getenv("PROBE_KILL_IN_COLLECTIVE");
  auto held = in_collective != nullptr && std::string(in_collective) == "1"
                  ? pool.submit(two, barrier_after_others_hold, 20000)
                  : pool.submit(two, hold_ranks, 20000);
  std::this_thread::sleep_for(1s);  // both ranks are in the task
  const auto killed_at = std::chrono::steady_clock::now();
  if (kill(static_cast<pid_t>(follower_pid), SIGKILL) != 0) fail("kill failed");
  std::printf("killed rank 1 at %lld\n", epoch_ms());
  std::fflush(stdout);
  try {
    (void)held.get();
    fail("the task whose rank 1 was killed returned");
  } catch (const spawnpool::WorkerLost& e) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - killed_at)
                        .count();
    std::printf("lost after %lld ms: %s\n", static_cast<long long>(ms), e.what());
  }
  const std::vector<std::string> again = pool.submit_all_ranks(two, where_is_rank, 0).get();
  std::printf("regrouped on %s,%s\n", again[0].substr(0, again[0].find(' ')).c_str(),
              again[1].substr(0, again[1].find(' ')).c_str());
  serve_squares(pool, 100);
}

void manager_loss_verb(spawnpool::Executor& pool) {
  print_workers(pool);
  std::printf("manager %s pid %ld\n", this_host().c_str(), static_cast<long>(getpid()));
  std::vector<spawnpool::Future<std::string>> held;
  for (int i = 0; i < pool.num_workers(); ++i) held.push_back(pool.submit(hold, 120000, std::string()));
  std::this_thread::sleep_for(1s);  // every worker is in its task (pipeline depth 1)
  std::printf("holding\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(120s);
  fail("still running 120 s later: the test script did not kill this manager", 61);
}

}  // namespace

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  if (argc < 3) fail("usage: cluster_probe hosts|kill-remote|cut-node|manager-loss|ranks|ranks-kill RESULT", 2);
  const std::string verb = argv[1];
  const int result = std::atoi(argv[2]);
  {
    spawnpool::Options options;
    options.pipeline_depth(1);  // one task per worker at a time: each hold lands on its own worker
    placement_from_environment(options);
    if (verb == "ranks-kill") options.rank_groups(1);
    spawnpool::Executor pool(options);
    std::printf("mode %s\n", spawnpool::to_string(pool.mode()));
    if (verb == "hosts") {
      hosts_verb(pool);
    } else if (verb == "kill-remote") {
      kill_remote_verb(pool);
    } else if (verb == "cut-node") {
      cut_node_verb(pool);
    } else if (verb == "manager-loss") {
      manager_loss_verb(pool);
    } else if (verb == "ranks") {
      ranks_verb(pool);
    } else if (verb == "ranks-kill") {
      ranks_kill_verb(pool);
    } else if (verb == "ranks-packed-error") {
      ranks_packed_error_verb(pool);
    } else {
      fail("unknown verb " + verb, 2);
    }
  }
  std::printf("main returns %d at %lld\n", result, epoch_ms());
  std::fflush(stdout);
  return result;
}
