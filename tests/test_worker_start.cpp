// A worker program that ends before MPI_Init (issue 14, item 4): `/bin/true`, `/bin/false`, a
// program that crashes at start-up or calls exit(3) before MPI_Init. The Executor constructor
// throws SpawnError within seconds, naming the program and how it ended, instead of waiting for
// the spawn timeout (60 s) because MPI_Comm_spawn never returns. Also: the timeout message names
// no Slurm outside Slurm, and the real workers run under a watcher that ends with them. A pool's
// workers are started side by side, and one that cannot start ends the others.
// Started by ctest without mpiexec (the Runtime relaunches it), one test per process (a spawn that
// cannot complete leaves a thread inside MPI_Comm_spawn).
#include "process_checks.hpp"
#include "scoped_env.hpp"

#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef EARLY_END_PATH
#error "EARLY_END_PATH must name the early_end program (tests/CMakeLists.txt)"
#endif
#ifndef START_IN_STEP_PATH
#error "START_IN_STEP_PATH must name programs/start_in_step.sh (tests/CMakeLists.txt)"
#endif

namespace {

int twice(int x) { return 2 * x; }
SPAWNPOOL_TASK(twice);
int nap(int seconds) {
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  return seconds;
}
SPAWNPOOL_TASK(nap);

/// An initializer: the worker kills itself (no handler can report a SIGKILL) when `marker` is ""
/// or names a file that exists.
void killed_in_set_up(const std::string& marker) {
  if (marker.empty() || std::filesystem::exists(marker)) raise(SIGKILL);
}
SPAWNPOOL_TASK(killed_in_set_up);
/// An initializer: the worker stops itself (SIGSTOP) and never answers.
void stopped_in_set_up() { raise(SIGSTOP); }
SPAWNPOOL_TASK(stopped_in_set_up);
int killed_in_task() {
  raise(SIGKILL);
  return 0;
}
SPAWNPOOL_TASK(killed_in_task);

using clock_type = std::chrono::steady_clock;

/// Starts a 1-worker executor of `program args` with a 60 s spawn timeout, expects SpawnError,
/// and returns its message and how long the constructor took.
std::pair<std::string, clock_type::duration> spawn_error_of(const std::string& program,
                                                            const std::vector<std::string>& args,
                                                            std::chrono::seconds timeout =
                                                                std::chrono::seconds(60)) {
  const auto started = clock_type::now();
  try {
    spawnpool::Executor pool(spawnpool::Options{}
                                 .max_workers(1)
                                 .worker_program(program)
                                 .worker_args(args)
                                 .spawn_timeout(timeout));
    ADD_FAILURE() << "expected SpawnError: '" << program << "' started as a worker";
  } catch (const spawnpool::SpawnError& e) {
    return {e.what(), clock_type::now() - started};
  }
  return {"", clock_type::now() - started};
}

void expect_early_end_reported(const std::string& program, const std::vector<std::string>& args,
                               const std::string& how_it_ended) {
  const ScopedEnv outside_slurm("SLURM_JOB_ID", nullptr);
  const auto [what, took] = spawn_error_of(program, args);
  const double seconds = std::chrono::duration<double>(took).count();
  std::printf("SpawnError after %.2f s: %s\n", seconds, what.c_str());
  EXPECT_NE(what.find("'" + program + "'"), std::string::npos) << what;
  EXPECT_NE(what.find(how_it_ended), std::string::npos) << what;
  EXPECT_EQ(what.find("Slurm"), std::string::npos) << what;
  EXPECT_LT(seconds, 10.0) << "the manager waited for the spawn timeout: " << what;
}

std::string canonical(const std::string& path) { return std::filesystem::canonical(path).string(); }

/// Field `index` (1-based, as in proc(5)) of /proc/PID/stat after the name; "" when gone.
std::string stat_field(long pid, int index) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= index && rest >> field; ++i) {
  }
  return field;
}

std::string command_name(long pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

/// A new empty directory for start_in_step.sh's pid files.
std::string fresh_directory(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("spawnpool-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

/// The pids start_in_step.sh left in `dir`: the workers' (exec keeps the pid).
std::vector<long> pids_left_in(const std::string& dir) {
  std::vector<long> pids;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".pid") pids.push_back(std::stol(entry.path().stem().string()));
  }
  return pids;
}

}  // namespace

// A pool's workers are started side by side (N of them in about the time of one), not one after
// the other: each of the 3 workers' launchers waits until all 3 have been started.
TEST(WorkerStart, AllWorkersAreStartedSideBySide) {
  const std::string dir = fresh_directory("together");
  {
    spawnpool::Executor pool(spawnpool::Options{}
                                 .max_workers(3)
                                 .spawn_timeout(std::chrono::seconds(60))
                                 .worker_program(START_IN_STEP_PATH)
                                 .worker_args({dir, "together", "3", canonical("/proc/self/exe")}));
    EXPECT_EQ(pool.num_workers(), 3);
    std::vector<spawnpool::Future<int>> doubled;
    for (int i = 0; i < 30; ++i) doubled.push_back(pool.submit(twice, i));
    for (int i = 0; i < 30; ++i) EXPECT_EQ(doubled[static_cast<std::size_t>(i)].get(), 2 * i);
  }
  std::filesystem::remove_all(dir);
}

// One of 3 workers cannot start (its launcher exits with status 7 before MPI_Init) while the
// others are being started beside it: the SpawnError says how it ended, and the 2 workers that
// did start are told to leave and end.
TEST(WorkerStart, AWorkerThatCannotStartFailsThePoolAndTheOthersEnd) {
  const ScopedEnv outside_slurm("SLURM_JOB_ID", nullptr);
  const std::string dir = fresh_directory("one-fails");
  try {
    spawnpool::Executor pool(spawnpool::Options{}
                                 .max_workers(3)
                                 .spawn_timeout(std::chrono::seconds(60))
                                 .worker_program(START_IN_STEP_PATH)
                                 .worker_args({dir, "one-fails", canonical("/proc/self/exe")}));
    ADD_FAILURE() << "expected SpawnError: all 3 workers started";
  } catch (const spawnpool::SpawnError& e) {
    EXPECT_NE(std::string(e.what()).find("exited with status 7"), std::string::npos) << e.what();
  }
  const std::vector<long> started = pids_left_in(dir);
  EXPECT_EQ(started.size(), 2u) << "the other workers were not started beside the failed one";
  for (long pid : started) {
    EXPECT_TRUE(test_processes::ends_within(pid, std::chrono::seconds(10)))
        << "worker " << pid << " was left running";
  }
  std::filesystem::remove_all(dir);
}

// A worker that ends after MPI_Init, before it answers, without a report of its own (SIGKILL in
// its set-up): its start watch tells, and the start fails at once naming how it ended. It used to
// be noticed only at the spawn timeout ("did not answer within the spawn timeout").
TEST(WorkerStart, AWorkerKilledAfterMpiInitFailsTheStartAtOnce) {
  try {
    spawnpool::Executor pool(spawnpool::Options{}
                                 .max_workers(2)
                                 .spawn_timeout(std::chrono::seconds(30))
                                 .initializer(killed_in_set_up, std::string()));
    ADD_FAILURE() << "expected SpawnError: the workers answered";
  } catch (const spawnpool::SpawnError& e) {
    const std::string what = e.what();
    std::printf("SpawnError: %s\n", what.c_str());
    EXPECT_NE(what.find("ended after MPI_Init, before it answered"), std::string::npos) << what;
    EXPECT_NE(what.find("was killed by signal 9 (SIGKILL)"), std::string::npos) << what;
  }
}

// A worker stopped in its set-up never answers: the start fails at the spawn timeout, and the
// program still ends (this test's process: ctest's timeout would catch it). It used to wait in
// MPI_Finalize for the stopped worker's connection for ever; now the manager leaves without it,
// and the relaunching parent ends the stopped worker and its proxy once mpiexec has ended.
TEST(WorkerStart, AWorkerStoppedInItsSetUpDoesNotKeepTheProgramFromEnding) {
  try {
    spawnpool::Executor pool(spawnpool::Options{}
                                 .max_workers(1)
                                 .spawn_timeout(std::chrono::seconds(3))
                                 .initializer(stopped_in_set_up));
    ADD_FAILURE() << "expected SpawnError: the stopped worker answered";
  } catch (const spawnpool::SpawnError& e) {
    EXPECT_NE(std::string(e.what()).find("did not answer within the spawn timeout"),
              std::string::npos)
        << e.what();
  }
}

// The same for a replacement worker: the pool (of 1) gives up replacing at once, and the task
// waiting for a worker fails with BrokenExecutor naming how the replacement ended.
TEST(WorkerStart, AReplacementKilledAfterMpiInitFailsAtOnce) {
  const std::string marker = fresh_directory("replacement-killed") + "/kill";
  spawnpool::Executor pool(spawnpool::Options{}
                               .max_workers(1)
                               .spawn_timeout(std::chrono::seconds(30))
                               .initializer(killed_in_set_up, marker));
  EXPECT_EQ(pool.submit(twice, 4).get(), 8);
  std::ofstream(marker).put('\n');  // from now on a worker's set-up kills it
  EXPECT_THROW(pool.submit(killed_in_task).get(), spawnpool::WorkerLost);
  try {
    (void)pool.submit(twice, 5).get();
    ADD_FAILURE() << "expected BrokenExecutor: a replacement worker answered";
  } catch (const spawnpool::BrokenExecutor& e) {
    const std::string what = e.what();
    std::printf("BrokenExecutor: %s\n", what.c_str());
    EXPECT_NE(what.find("was killed by signal 9 (SIGKILL)"), std::string::npos) << what;
  }
  std::filesystem::remove_all(std::filesystem::path(marker).parent_path());
}

TEST(WorkerStart, TrueIsReportedWithItsStatus) {
  expect_early_end_reported("/bin/true", {}, "exited with status 0");
}

TEST(WorkerStart, FalseIsReportedWithItsStatus) {
  expect_early_end_reported("/bin/false", {}, "exited with status 1");
}

TEST(WorkerStart, CrashBeforeMpiInitIsReportedWithItsSignal) {
  expect_early_end_reported(EARLY_END_PATH, {"crash"}, "killed by signal 11 (SIGSEGV)");
}

TEST(WorkerStart, ExitBeforeMpiInitIsReportedWithItsStatus) {
  expect_early_end_reported(EARLY_END_PATH, {"exit3"}, "exited with status 3");
}

// A program that neither ends nor reaches MPI_Init: the spawn timeout, whose message blames no
// Slurm outside Slurm.
TEST(WorkerStart, TimeoutOutsideSlurmDoesNotMentionSlurm) {
  const ScopedEnv outside_slurm("SLURM_JOB_ID", nullptr);
  const auto [what, took] = spawn_error_of("/bin/sleep", {"4"}, std::chrono::seconds(2));
  std::printf("SpawnError after %.2f s: %s\n", std::chrono::duration<double>(took).count(),
              what.c_str());
  EXPECT_NE(what.find("did not return within 2 s"), std::string::npos) << what;
  EXPECT_EQ(what.find("Slurm"), std::string::npos) << what;
  EXPECT_EQ(what.find("srun"), std::string::npos) << what;
  EXPECT_LT(took, std::chrono::seconds(10));
}

// The pool's worker pids are the worker programs themselves (each the child of its watcher), and
// a watcher ends with its worker: a killed worker leaves nothing behind.
TEST(WorkerStart, WorkersAreTheProgramsAndTheirWatchersEndWithThem) {
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(2));
  ASSERT_EQ(pool.submit(twice, 21).get(), 42);
  const std::vector<spawnpool::WorkerInfo> workers = pool.workers();
  ASSERT_EQ(workers.size(), 2u);
  std::vector<long> watchers;
  for (const spawnpool::WorkerInfo& w : workers) {
    EXPECT_EQ(canonical("/proc/" + std::to_string(w.pid) + "/exe"), canonical("/proc/self/exe"));
    const long parent = std::stol(stat_field(w.pid, 4));
    EXPECT_EQ(command_name(parent), "spawnpool-watch") << "worker " << w.pid;
    watchers.push_back(parent);
  }
  ASSERT_EQ(kill(static_cast<pid_t>(workers[0].pid), SIGKILL), 0);
  EXPECT_TRUE(test_processes::ends_within(watchers[0], std::chrono::seconds(5)))
      << "the watcher " << watchers[0] << " outlived its worker";
  EXPECT_FALSE(test_processes::ends_within(watchers[1], std::chrono::seconds(0)));
}

// hydra signals a worker's process group, which under the watch is the watcher's: the watcher
// passes SIGTERM on (the worker dies of SIGTERM, and says so; had the watcher died of it instead,
// the worker would be SIGKILLed without a report), then ends too; the pool goes on.
TEST(WorkerStart, SigtermToAWatcherReachesItsWorker) {
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(1));
  ASSERT_EQ(pool.submit(twice, 1).get(), 2);
  const long worker = pool.workers().at(0).pid;
  const long watcher = std::stol(stat_field(worker, 4));
  ASSERT_EQ(command_name(watcher), "spawnpool-watch");
  auto napping = pool.submit(nap, 20);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the task has started
  ASSERT_EQ(kill(static_cast<pid_t>(watcher), SIGTERM), 0);
  try {
    napping.get();
    ADD_FAILURE() << "the worker did not end";
  } catch (const spawnpool::WorkerLost& e) {
    EXPECT_NE(std::string(e.what()).find("signal 15"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(test_processes::ends_within(worker, std::chrono::seconds(5)));
  EXPECT_TRUE(test_processes::ends_within(watcher, std::chrono::seconds(5)));
  EXPECT_EQ(pool.submit(twice, 21).get(), 42);  // on a replacement
}

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);  // workers of the default program serve here
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
