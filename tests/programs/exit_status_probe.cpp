// A manager whose exit status and process handling test_exit_status checks. Started alone (with
// MPICH it relaunches itself under mpiexec). Acts on its arguments in order:
//   workers-die:N  a pool of N workers, each of which dies in a task (abort): N WorkerLost (else
//                  exits 40); the WorkerLost messages go to stderr
//   workers-exit:N the same, each task calling exit(3)
//   workers-killed:N  the same, each task SIGKILLing its worker
//   worker-mpi-finalize  a pool of 1 whose task calls MPI_Finalize (prints lost 1)
//   one-dies-of:N  a pool of N serves, then one worker dies in a task; the others serve on
//   burst:R        R rounds of 4 quick deaths in a pool of 2; after each round the pool must be
//                  back to 2 workers and serve (else exits 41)
//   child-survives a task starts `sleep 300` (holding the worker's stdout); another worker dies;
//                  the child must still run once the replacement is up (else 42), and be ended
//                  with its worker at the pool's end (else 43)
//   fork-copy      a task forks without exec and the copy returns from the task; the pool must
//                  get the parent's result and go on (else 44)
//   stopped:MS     a task stops its worker (SIGSTOP) under a task timeout of MS ms: Timeout, the
//                  worker is replaced (else 45)
//   silent:MS      the same without a task timeout, heartbeat timeout MS ms: WorkerLost (else 46)
//   mpi-abort      a task calls MPI_Abort(MPI_COMM_WORLD, 5): WorkerLost naming it, the pool
//                  goes on (else 47)
//   mpi-finalize   a task calls MPI_Finalize: WorkerLost naming it, the pool goes on (else 48)
//   kill-proxy     a worker's launcher process (hydra_pmi_proxy) is SIGKILLed
//   manager-abort:N  the manager calls MPI_Abort(MPI_COMM_WORLD, N)
//   return:N       return N from main        exit:N   std::exit(N)
//   raise:S        raise signal S            throw    throw out of main
//   kill           SIGKILL itself
//   unfinished:MS  writes "[mpiexec@vm] Press on" (the start of one of hydra's lines, which the
//                  relaunching parent filters) without a newline, waits MS ms, ends the line
// Exits with 0 when the arguments run out.
#include <spawnpool/spawnpool.hpp>

#include <mpi.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

int die() {
  std::abort();
}
SPAWNPOOL_TASK(die);

int exit_three() {
  std::exit(3);
}
SPAWNPOOL_TASK(exit_three);

int kill_self() {
  kill(getpid(), SIGKILL);
  pause();
  return 0;
}
SPAWNPOOL_TASK(kill_self);

int square(int x) { return x * x; }
SPAWNPOOL_TASK(square);

/// Starts `sleep 300` (inheriting the worker's stdout and stderr); returns {worker pid, its pid}.
/// Takes half a second, so that two of these run on two workers.
std::vector<long> start_child() {
  const char* argv[] = {"sleep", "300", nullptr};
  pid_t pid = 0;
  if (posix_spawnp(&pid, "sleep", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) {
    throw std::runtime_error("posix_spawnp sleep failed");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  return {static_cast<long>(getpid()), static_cast<long>(pid)};
}
SPAWNPOOL_TASK(start_child);

/// The forked copy returns 1 from the task; the worker waits for it and returns 2.
int fork_copy() {
  const pid_t child = fork();
  if (child == 0) return 1;
  int status = 0;
  waitpid(child, &status, 0);
  return 2;
}
SPAWNPOOL_TASK(fork_copy);

int call_mpi_abort() {
  MPI_Abort(MPI_COMM_WORLD, 5);
  return 0;
}
SPAWNPOOL_TASK(call_mpi_abort);

int call_mpi_finalize() {
  MPI_Finalize();
  return 0;
}
SPAWNPOOL_TASK(call_mpi_finalize);

/// The worker's launcher process: its parent, or under MPICH's start watch (spawn/start_watch.hpp)
/// its watcher's parent.
long launcher_pid() {
  long pid = static_cast<long>(getppid());
  std::string name;
  std::getline(std::ifstream("/proc/" + std::to_string(pid) + "/comm"), name);
  if (name == "spawnpool-watch") {
    std::string stat;
    std::getline(std::ifstream("/proc/" + std::to_string(pid) + "/stat"), stat);
    const auto close = stat.rfind(')');
    char state = 0;
    std::sscanf(stat.c_str() + close + 1, " %c %ld", &state, &pid);
  }
  return pid;
}
SPAWNPOOL_TASK(launcher_pid);

int stop_self() {
  raise(SIGSTOP);
  return 0;
}
SPAWNPOOL_TASK(stop_self);

bool running(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

/// Waits (up to 60 s) until `pool` has `workers` workers.
bool back_to(spawnpool::Executor& pool, int workers) {
  for (int i = 0; i < 600 && pool.num_workers() != workers; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pool.num_workers() == workers;
}

bool serves(spawnpool::Executor& pool) {
  for (int x = 0; x < 20; ++x) {
    if (pool.submit(square, x).get() != x * x) return false;
  }
  return true;
}

int call_mpi_finalize();

int lose_workers(spawnpool::Executor& pool, int deaths, int (*how)() = die) {
  std::vector<spawnpool::Future<int>> futures;
  for (int w = 0; w < deaths; ++w) futures.push_back(pool.submit(how));
  int lost = 0;
  for (auto& f : futures) {
    try {
      f.get();
    } catch (const spawnpool::WorkerLost& e) {
      std::fprintf(stderr, "exit_status_probe: WorkerLost: %s\n", e.what());
      ++lost;
    }
  }
  return lost;
}

int fail(int code, const std::string& why) {
  std::fprintf(stderr, "exit_status_probe: %s\n", why.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto colon = arg.find(':');
    const std::string verb = arg.substr(0, colon);
    const int number = colon == std::string::npos ? 0 : std::atoi(arg.c_str() + colon + 1);
    if (verb == "workers-die" || verb == "workers-exit" || verb == "workers-killed" ||
        verb == "worker-mpi-finalize") {
      const bool finalize = verb == "worker-mpi-finalize";
      spawnpool::Executor pool(spawnpool::Options{}.max_workers(finalize ? 1 : number));
      int (*how)() = verb == "workers-exit"     ? exit_three
                     : verb == "workers-killed" ? kill_self
                     : finalize                 ? call_mpi_finalize
                                                : die;
      const int expected = finalize ? 1 : number;
      const int lost = lose_workers(pool, expected, how);
      if (lost != expected) return fail(40, std::to_string(lost) + " WorkerLost, not " + std::to_string(expected));
      std::printf("lost %d\n", lost);
      std::fflush(stdout);
    } else if (verb == "one-dies-of") {
      // A pool of N that all served a task; then one dies: the others must end well (exit 0).
      spawnpool::Executor pool(spawnpool::Options{}.max_workers(number));
      if (!serves(pool)) return fail(40, "wrong results");
      if (lose_workers(pool, 1) != 1) return fail(40, "no WorkerLost");
      if (!serves(pool)) return fail(40, "wrong results after a loss");
    } else if (verb == "burst") {
      spawnpool::Executor pool(spawnpool::Options{}.max_workers(2));
      for (int round = 0; round < number; ++round) {
        const int lost = lose_workers(pool, 4);
        if (lost != 4) return fail(41, "round " + std::to_string(round) + ": " + std::to_string(lost) + " of 4 lost");
        if (!back_to(pool, 2)) return fail(41, "round " + std::to_string(round) + ": the pool did not regain 2 workers");
        if (!serves(pool)) return fail(41, "wrong results");
      }
    } else if (verb == "child-survives") {
      std::vector<std::vector<long>> started;  // {worker pid, child pid}, one per worker
      {
        spawnpool::Executor pool(spawnpool::Options{}.max_workers(2));
        auto first = pool.submit(start_child);
        auto second = pool.submit(start_child);
        started = {first.get(), second.get()};
        if (started[0][0] == started[1][0]) return fail(42, "both children on one worker");
        if (lose_workers(pool, 1) != 1) return fail(42, "no WorkerLost");
        if (!back_to(pool, 2)) return fail(42, "the pool did not regain 2 workers");
        if (!serves(pool)) return fail(42, "wrong results");
        int survivors = 0;
        for (const auto& info : pool.workers()) {
          for (const auto& s : started) {
            if (s[0] != info.pid) continue;
            ++survivors;
            if (!running(s[1])) return fail(42, "the task's child died when another worker died");
          }
        }
        if (survivors != 1) return fail(42, std::to_string(survivors) + " workers survived");
      }
      for (const auto& s : started) {
        for (int i = 0; i < 100 && running(s[1]); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
      for (const auto& s : started) {
        if (running(s[1])) {
          kill(static_cast<pid_t>(s[1]), SIGKILL);
          return fail(43, "the task's child outlived its worker");
        }
      }
    } else if (verb == "fork-copy") {
      spawnpool::Executor pool(spawnpool::Options{}.max_workers(1));
      for (int round = 0; round < 3; ++round) {
        const int got = pool.submit(fork_copy).get();
        if (got != 2) return fail(44, "fork_copy gave " + std::to_string(got));
        if (!serves(pool)) return fail(44, "wrong results after a fork");
      }
    } else if (verb == "stopped" || verb == "silent") {
      spawnpool::Options options = spawnpool::Options{}.max_workers(1);
      if (verb == "stopped") options.task_timeout(std::chrono::milliseconds(number));
      else options.heartbeat_timeout(std::chrono::milliseconds(number));
      spawnpool::Executor pool(options);
      const int code = verb == "stopped" ? 45 : 46;
      try {
        pool.submit(stop_self).get();
        return fail(code, "stop_self returned");
      } catch (const spawnpool::Timeout& e) {
        if (verb != "stopped") return fail(code, std::string("Timeout: ") + e.what());
        std::printf("%s\n", e.what());
      } catch (const spawnpool::WorkerLost& e) {
        if (verb != "silent") return fail(code, std::string("WorkerLost: ") + e.what());
        std::printf("%s\n", e.what());
      }
      if (!back_to(pool, 1) || !serves(pool)) return fail(code, "not replaced");
    } else if (verb == "mpi-abort" || verb == "mpi-finalize") {
      spawnpool::Executor pool(spawnpool::Options{}.max_workers(1));
      const bool abort = verb == "mpi-abort";
      const int code = abort ? 47 : 48;
      try {
        pool.submit(abort ? call_mpi_abort : call_mpi_finalize).get();
        return fail(code, "the task returned");
      } catch (const spawnpool::WorkerLost& e) {
        const std::string expected = abort ? "MPI_Abort (error code 5)" : "MPI_Finalize";
        if (std::string(e.what()).find(expected) == std::string::npos) return fail(code, e.what());
        std::printf("%s\n", e.what());
      }
      if (!back_to(pool, 1) || !serves(pool)) return fail(code, "not replaced");
    } else if (verb == "kill-proxy") {
      spawnpool::Executor pool(spawnpool::Options{}.max_workers(1));
      const long proxy = pool.submit(launcher_pid).get();
      kill(static_cast<pid_t>(proxy), SIGKILL);
      std::this_thread::sleep_for(std::chrono::seconds(2));
      if (!serves(pool)) return fail(49, "the pool does not serve after a proxy was killed");
    } else if (verb == "manager-abort") {
      MPI_Abort(MPI_COMM_WORLD, number);
    } else if (verb == "return") {
      return number;
    } else if (verb == "exit") {
      std::exit(number);
    } else if (verb == "raise") {
      raise(number);
    } else if (verb == "throw") {
      throw std::runtime_error("thrown out of main");
    } else if (verb == "kill") {
      kill(getpid(), SIGKILL);
    } else if (verb == "unfinished") {
      std::printf("[mpiexec@vm] Press on");
      std::fflush(stdout);
      std::this_thread::sleep_for(std::chrono::milliseconds(number));
      std::printf("\n");
    }
  }
  return 0;
}
