// raw_mpi: the raw-MPI limit for every spawnpool benchmark — a plain hand-written master/worker loop
// with blocking MPI_Send / MPI_Recv, no spawnpool at all. It measures the same things as the
// spawnpool benchmarks over the same kind of communicator:
//   spawn  mode: the master (started as `mpiexec -n 1 raw_mpi ...`) spawns its workers with
//                MPI_Comm_spawn from MPI_COMM_SELF and talks over the intercommunicator;
//   static mode: `mpiexec -n <workers+1> raw_mpi ...`, rank 0 is the master, MPI_COMM_WORLD.
//
//   raw_mpi <kind> <spawn|static> <workers> <size> [extra]
//     latency  size = round trips            one int there and back: median_us, p99_us
//     submit   size = tasks                  one int per message, one message in flight per worker
//     map      size = tasks, extra = chunk   `chunk` ints per message (default 1024)
//     echo     size = MiB, extra = reps      a vector<double> there and back: GiB/s (2*size/time)
//              (a 6th argument `fresh`: every receive goes into a newly allocated vector, as a loop
//              that returns a new std::vector per message would; printed as impl=raw_mpi_fresh)
//     startup  size ignored                  MPI_Comm_spawn of the workers + first round trip
//     idle     size = seconds                CPU of the idle master + workers (blocked in MPI_Recv)
//     primes   size = N, extra = pieces      seed 001's primes below N, ranges handed out one by one
//     ranked   size = round trips            spawn mode only, <workers> = k: ONE MPI_Comm_spawn of
//              a group of k (maxprocs = k); its rank 0 gets an int, MPI_Bcast inside the group,
//              MPI_Reduce of rank + 1 to rank 0, which answers: group_start_ms (spawn + first
//              round trip), median_us, p99_us (spawnpool's counterpart: bench/ranked_latency)
// Each run prints one `row name=<kind> impl=raw_mpi ...` line (see bench_util.hpp).
//
// Buffers are allocated once and reused (except in `echo ... fresh`): this is the best case a
// careful hand-written loop gets.
#include "bench_util.hpp"

#include <mpi.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kTaskTag = 1;
constexpr int kStopTag = 2;

struct Link {
  MPI_Comm comm = MPI_COMM_NULL;
  std::vector<int> workers;  // worker ranks in `comm`
  bool spawned = false;
};

// ---- worker side --------------------------------------------------------------------------------

/// Trivial tasks: receive up to `capacity` ints, "run" the identity on each, send them back.
void serve_ints(MPI_Comm comm, int manager, int capacity) {
  std::vector<int> buffer(static_cast<std::size_t>(capacity));
  for (;;) {
    MPI_Status status;
    MPI_Recv(buffer.data(), capacity, MPI_INT, manager, MPI_ANY_TAG, comm, &status);
    if (status.MPI_TAG == kStopTag) return;
    int count = 0;
    MPI_Get_count(&status, MPI_INT, &count);
    MPI_Send(buffer.data(), count, MPI_INT, manager, kTaskTag, comm);
  }
}

/// Echo: probe for the size, receive into a reused vector<double> (a new one each time if
/// `fresh`), send it back.
void serve_echo(MPI_Comm comm, int manager, bool fresh) {
  std::vector<double> buffer;
  for (;;) {
    MPI_Status status;
    MPI_Probe(manager, MPI_ANY_TAG, comm, &status);
    int count = 0;
    MPI_Get_count(&status, MPI_DOUBLE, &count);
    if (fresh) buffer = std::vector<double>();
    if (buffer.size() < static_cast<std::size_t>(count)) buffer.resize(static_cast<std::size_t>(count));
    MPI_Recv(buffer.data(), count, MPI_DOUBLE, manager, status.MPI_TAG, comm, MPI_STATUS_IGNORE);
    if (status.MPI_TAG == kStopTag) return;
    MPI_Send(buffer.data(), count, MPI_DOUBLE, manager, kTaskTag, comm);
  }
}

/// Same trial division as examples/primes.cpp.
std::vector<long> calc_primes(long low, long high) {
  std::vector<long> primes;
  if (low <= 2 && 2 < high) primes.push_back(2);
  long start = std::max(3L, low);
  if (start % 2 == 0) ++start;
  for (long n = start; n < high; n += 2) {
    bool prime = true;
    for (long d = 3; d * d <= n; d += 2) {
      if (n % d == 0) {
        prime = false;
        break;
      }
    }
    if (prime) primes.push_back(n);
  }
  return primes;
}

void serve_primes(MPI_Comm comm, int manager) {
  for (;;) {
    long range[2];
    MPI_Status status;
    MPI_Recv(range, 2, MPI_LONG, manager, MPI_ANY_TAG, comm, &status);
    if (status.MPI_TAG == kStopTag) return;
    const std::vector<long> primes = calc_primes(range[0], range[1]);
    MPI_Send(primes.data(), static_cast<int>(primes.size()), MPI_LONG, manager, kTaskTag, comm);
  }
}

/// A group of k spawned together (their MPI_COMM_WORLD): rank 0 takes each int from the master and
/// broadcasts it, every rank reduces rank + 1 to rank 0, which answers sum + int.
void serve_ranked(MPI_Comm parent, int manager) {
  int group_rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &group_rank);
  for (;;) {
    int call[2] = {0, 0};  // {argument, stop}
    if (group_rank == 0) {
      MPI_Status status;
      MPI_Recv(&call[0], 1, MPI_INT, manager, MPI_ANY_TAG, parent, &status);
      call[1] = status.MPI_TAG == kStopTag;
    }
    MPI_Bcast(call, 2, MPI_INT, 0, MPI_COMM_WORLD);
    if (call[1]) return;
    const int mine = group_rank + 1;
    int sum = 0;
    MPI_Reduce(&mine, &sum, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    if (group_rank == 0) {
      sum += call[0];
      MPI_Send(&sum, 1, MPI_INT, manager, kTaskTag, parent);
    }
  }
}

void serve(const std::string& kind, MPI_Comm comm, int manager, int map_chunk, bool fresh) {
  if (kind == "ranked") {
    serve_ranked(comm, manager);
  } else if (kind == "idle") {
    const long pid = getpid();
    MPI_Send(&pid, 1, MPI_LONG, manager, kTaskTag, comm);
    serve_ints(comm, manager, 1);
  } else if (kind == "echo") {
    serve_echo(comm, manager, fresh);
  } else if (kind == "primes") {
    serve_primes(comm, manager);
  } else {
    serve_ints(comm, manager, std::max(1, map_chunk));
  }
}

// ---- master side --------------------------------------------------------------------------------

Link spawn_workers(int count, const std::vector<std::string>& args) {
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  Link link;
  link.spawned = true;
  MPI_Comm_spawn(exe, argv.data(), count, MPI_INFO_NULL, 0, MPI_COMM_SELF, &link.comm,
                 MPI_ERRCODES_IGNORE);
  for (int r = 0; r < count; ++r) link.workers.push_back(r);
  return link;
}

void stop_workers(Link& link) {
  for (int w : link.workers) MPI_Send(nullptr, 0, MPI_INT, w, kStopTag, link.comm);
  if (link.spawned) MPI_Comm_disconnect(&link.comm);
}

void latency(Link& link, long iterations) {
  const int w = link.workers.front();
  int x = 0, y = 0;
  for (int i = 0; i < 200; ++i) {  // warm-up
    MPI_Send(&x, 1, MPI_INT, w, kTaskTag, link.comm);
    MPI_Recv(&y, 1, MPI_INT, w, kTaskTag, link.comm, MPI_STATUS_IGNORE);
  }
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(iterations));
  for (long i = 0; i < iterations; ++i) {
    x = static_cast<int>(i);
    const auto t0 = bench::Clock::now();
    MPI_Send(&x, 1, MPI_INT, w, kTaskTag, link.comm);
    MPI_Recv(&y, 1, MPI_INT, w, kTaskTag, link.comm, MPI_STATUS_IGNORE);
    samples.push_back(bench::micros_between(t0, bench::Clock::now()));
    if (y != x) std::abort();
  }
  bench::Row(link.spawned ? "latency_spawn" : "latency_static", "raw_mpi")
      .add("workers", 1)
      .add("median_us", bench::quantile(samples, 0.5))
      .add("p99_us", bench::quantile(samples, 0.99))
      .add("iterations", iterations)
      .print();
}

/// Hands out `tasks` ints in messages of `chunk`, one message in flight per worker, to whichever
/// worker answers first. Returns the elapsed seconds.
double farm(Link& link, long tasks, int chunk) {
  std::vector<int> out(static_cast<std::size_t>(chunk)), in(static_cast<std::size_t>(chunk));
  long next = 0, done = 0, checksum = 0;
  auto send_next = [&](int w) {
    const int count = static_cast<int>(std::min<long>(chunk, tasks - next));
    for (int i = 0; i < count; ++i) out[static_cast<std::size_t>(i)] = static_cast<int>(next + i);
    MPI_Send(out.data(), count, MPI_INT, w, kTaskTag, link.comm);
    next += count;
  };
  const auto t0 = bench::Clock::now();
  for (int w : link.workers) {
    if (next < tasks) send_next(w);
  }
  while (done < tasks) {
    MPI_Status status;
    MPI_Recv(in.data(), chunk, MPI_INT, MPI_ANY_SOURCE, kTaskTag, link.comm, &status);
    int count = 0;
    MPI_Get_count(&status, MPI_INT, &count);
    for (int i = 0; i < count; ++i) checksum += in[static_cast<std::size_t>(i)];
    done += count;
    if (next < tasks) send_next(status.MPI_SOURCE);
  }
  const double elapsed = bench::seconds_since(t0);
  if (checksum != tasks * (tasks - 1) / 2) std::abort();
  return elapsed;
}

void echo(Link& link, long mib, long reps, bool fresh) {
  const std::size_t n = static_cast<std::size_t>(mib) * (1 << 20) / sizeof(double);
  std::vector<double> out(n, 1.5), in(n);
  const int w = link.workers.front();
  std::vector<double> seconds;
  for (long r = 0; r < reps + 1; ++r) {  // the first is a warm-up
    const auto t0 = bench::Clock::now();
    if (fresh) in = std::vector<double>(n);
    MPI_Send(out.data(), static_cast<int>(n), MPI_DOUBLE, w, kTaskTag, link.comm);
    MPI_Recv(in.data(), static_cast<int>(n), MPI_DOUBLE, w, kTaskTag, link.comm, MPI_STATUS_IGNORE);
    if (r > 0) seconds.push_back(bench::seconds_since(t0));
  }
  if (in[n / 2] != 1.5) std::abort();
  const double median = bench::quantile(seconds, 0.5);
  bench::Row("echo", fresh ? "raw_mpi_fresh" : "raw_mpi")
      .add("workers", 1)
      .add("size_mib", mib)
      .add("gib_per_s", 2.0 * static_cast<double>(mib) / 1024.0 / median)
      .add("median_ms", median * 1e3)
      .add("reps", reps)
      .print();
}

void idle(Link& link, double seconds) {
  std::vector<long> pids;
  for (int w : link.workers) {
    long pid = 0;
    MPI_Recv(&pid, 1, MPI_LONG, w, kTaskTag, link.comm, MPI_STATUS_IGNORE);
    pids.push_back(pid);
  }
  // The workers sit in a blocking MPI_Recv. The master sleeps (a real master blocked in MPI_Recv
  // would burn a core too, so this is the raw loop's best case).
  const long self = getpid();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::vector<double> start;
  for (long pid : pids) start.push_back(bench::cpu_seconds(pid));
  const double m0 = bench::cpu_seconds(self);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const double m = (bench::cpu_seconds(self) - m0) / seconds * 100;
  double w = 0, busiest = m;
  for (std::size_t i = 0; i < pids.size(); ++i) {
    const double p = (bench::cpu_seconds(pids[i]) - start[i]) / seconds * 100;
    w += p;
    busiest = std::max(busiest, p);
  }
  bench::Row("idle_cpu", "raw_mpi")
      .add("workers", static_cast<int>(pids.size()))
      .add("seconds", seconds, 1)
      .add("total_pct", m + w, 2)
      .add("manager_pct", m, 2)
      .add("per_worker_pct", w / static_cast<double>(pids.size()), 2)
      .add("max_process_pct", busiest, 2)
      .print();
}

/// Seed 001's primes: ranges handed out one at a time; returns the number of primes.
std::size_t primes(Link& link, long high, long pieces) {
  std::vector<std::pair<long, long>> ranges;
  const long step = std::max(1L, high / pieces);
  for (long i = 0; i < high; i += step) ranges.emplace_back(i, std::min(i + step, high));
  std::size_t next = 0, done = 0, count = 0;
  auto send_next = [&](int w) {
    long range[2] = {ranges[next].first, ranges[next].second};
    MPI_Send(range, 2, MPI_LONG, w, kTaskTag, link.comm);
    ++next;
  };
  for (int w : link.workers) {
    if (next < ranges.size()) send_next(w);
  }
  std::vector<long> in;
  while (done < ranges.size()) {
    MPI_Status status;
    MPI_Probe(MPI_ANY_SOURCE, kTaskTag, link.comm, &status);
    int n = 0;
    MPI_Get_count(&status, MPI_LONG, &n);
    in.resize(static_cast<std::size_t>(n));
    MPI_Recv(in.data(), n, MPI_LONG, status.MPI_SOURCE, kTaskTag, link.comm, MPI_STATUS_IGNORE);
    count += static_cast<std::size_t>(n);
    ++done;
    if (next < ranges.size()) send_next(status.MPI_SOURCE);
  }
  return count;
}

/// Round trips to a spawned group of `ranks` (see serve_ranked); the first one, right after the
/// spawn, is the group's start-up.
void ranked(Link& link, int ranks, long iterations, bench::Clock::time_point started) {
  const int expected = ranks * (ranks + 1) / 2;
  auto round_trip = [&](int x) {
    int y = 0;
    MPI_Send(&x, 1, MPI_INT, 0, kTaskTag, link.comm);
    MPI_Recv(&y, 1, MPI_INT, 0, kTaskTag, link.comm, MPI_STATUS_IGNORE);
    if (y != expected + x) std::abort();
  };
  round_trip(0);
  const double group_start_ms = bench::seconds_since(started) * 1e3;
  for (int i = 0; i < 200; ++i) round_trip(i);  // warm-up
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(iterations));
  for (long i = 0; i < iterations; ++i) {
    const auto t0 = bench::Clock::now();
    round_trip(static_cast<int>(i));
    samples.push_back(bench::micros_between(t0, bench::Clock::now()));
  }
  bench::Row("ranked_latency", "raw_mpi")
      .add("ranks", ranks)
      .add("group_start_ms", group_start_ms, 1)
      .add("median_us", bench::quantile(samples, 0.5))
      .add("p99_us", bench::quantile(samples, 0.99))
      .add("iterations", iterations)
      .print();
}

int usage() {
  std::fprintf(stderr,
               "usage: raw_mpi <latency|submit|map|echo|startup|idle|primes|ranked> <spawn|static> "
               "<workers> <size> [extra]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  if (argc < 5) {
    MPI_Finalize();
    return usage();
  }
  const std::string kind = argv[1], mode = argv[2];
  int workers = std::atoi(argv[3]);
  const double size = std::atof(argv[4]);
  const long extra = argc > 5 ? std::atol(argv[5]) : 0;
  const int map_chunk = kind == "map" ? static_cast<int>(extra > 0 ? extra : 1024) : 1;
  const bool fresh = argc > 6 && std::string(argv[6]) == "fresh";

  MPI_Comm parent = MPI_COMM_NULL;
  MPI_Comm_get_parent(&parent);
  if (parent != MPI_COMM_NULL) {  // a spawned worker
    serve(kind, parent, 0, map_chunk, fresh);
    MPI_Comm_disconnect(&parent);
    MPI_Finalize();
    return 0;
  }
  int rank = 0, world = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  if (mode == "static") {
    if (world < 2) {
      std::fprintf(stderr, "raw_mpi: static mode needs mpiexec -n <workers+1>\n");
      MPI_Finalize();
      return 2;
    }
    if (rank != 0) {
      serve(kind, MPI_COMM_WORLD, 0, map_chunk, fresh);
      MPI_Finalize();
      return 0;
    }
    workers = world - 1;
  } else if (mode != "spawn" || world != 1) {
    std::fprintf(stderr, "raw_mpi: spawn mode runs as `mpiexec -n 1 raw_mpi ...`\n");
    MPI_Finalize();
    return usage();
  }
  if (kind == "ranked" && mode != "spawn") {
    std::fprintf(stderr, "raw_mpi: ranked runs in spawn mode only\n");
    MPI_Finalize();
    return usage();
  }

  const auto started = bench::Clock::now();
  Link link;
  if (mode == "static") {
    link.comm = MPI_COMM_WORLD;
    for (int r = 1; r < world; ++r) link.workers.push_back(r);
  } else {
    link = spawn_workers(workers, std::vector<std::string>(argv + 1, argv + argc));
  }
  const std::string impl = "raw_mpi";
  const long tasks = static_cast<long>(size);
  if (kind == "latency") {
    latency(link, tasks);
  } else if (kind == "submit" || kind == "map") {
    farm(link, std::min<long>(tasks, 1000), map_chunk);  // warm-up
    const double elapsed = farm(link, tasks, map_chunk);
    bench::Row(kind == "submit" ? "submit_throughput" : "map_throughput", impl)
        .add("workers", workers)
        .add("tasks", tasks)
        .add("chunk", map_chunk)
        .add("tasks_per_s", static_cast<double>(tasks) / elapsed, 0)
        .print();
  } else if (kind == "echo") {
    echo(link, static_cast<long>(size), std::max(1L, extra), fresh);
  } else if (kind == "startup") {
    int x = 7, y = 0;
    MPI_Send(&x, 1, MPI_INT, link.workers.front(), kTaskTag, link.comm);
    MPI_Recv(&y, 1, MPI_INT, link.workers.front(), kTaskTag, link.comm, MPI_STATUS_IGNORE);
    bench::Row("startup", impl)
        .add("workers", workers)
        .add("first_result_ms", bench::seconds_since(started) * 1e3, 1)
        .print();
  } else if (kind == "idle") {
    idle(link, size);
  } else if (kind == "ranked") {
    ranked(link, workers, tasks, started);
    link.workers = {0};  // only the group's rank 0 listens to the master
  } else if (kind == "primes") {
    const std::size_t count = primes(link, static_cast<long>(size), std::max(1L, extra));
    bench::Row("primes", impl)
        .add("workers", workers)
        .add("n", static_cast<long>(size))
        .add("pieces", std::max(1L, extra))
        .add("primes", static_cast<long>(count))
        .add("seconds", bench::seconds_since(started))
        .print();
  } else {
    stop_workers(link);
    MPI_Finalize();
    return usage();
  }
  stop_workers(link);
  MPI_Finalize();
  return 0;
}
