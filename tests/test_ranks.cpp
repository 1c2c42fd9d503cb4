// k-rank tasks (task_comm.hpp) on an Executor in spawn mode: k = 1, 2, 3 each rank contributing,
// every rank's result in rank order, mixed with ordinary tasks in one pool, two k-rank tasks side
// by side, a rank that throws, and the groups' processes ending with the pool. Started without
// mpiexec (it relaunches itself), like the executor suite.
#include "process_checks.hpp"

#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>
#include <fcntl.h>
#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

/// Every rank contributes rank + 1: the sum over k ranks is k(k+1)/2, times `scale`.
long sum_of_ranks(spawnpool::TaskComm comm, long scale) {
  long mine = (comm.rank() + 1) * scale;
  long total = 0;
  MPI_Allreduce(&mine, &total, 1, MPI_LONG, MPI_SUM, comm.mpi());
  return total;
}
SPAWNPOOL_TASK(sum_of_ranks);

/// rank * 10 + size, after a barrier over the task's ranks.
int rank_and_size(spawnpool::TaskComm comm) {
  MPI_Barrier(comm.mpi());
  return comm.rank() * 10 + comm.size();
}
SPAWNPOOL_TASK(rank_and_size);

long pid_of_rank(spawnpool::TaskComm comm) {
  MPI_Barrier(comm.mpi());
  return static_cast<long>(::getpid());
}
SPAWNPOOL_TASK(pid_of_rank);

/// This rank's parent: its spawnpool-reaper under hydra (spawn/group_reaper.hpp).
long parent_of_rank(spawnpool::TaskComm comm) {
  MPI_Barrier(comm.mpi());
  return static_cast<long>(::getppid());
}
SPAWNPOOL_TASK(parent_of_rank);

/// Rank 0 leaves a mark `dir/me` and waits (at most 60 s) for the mark of `other`: true only when
/// both tasks ran at the same time. The other ranks wait for rank 0 at the barrier.
bool meet(spawnpool::TaskComm comm, std::string dir, int me, int other) {
  bool met = false;
  if (comm.rank() == 0) {
    std::ofstream(dir + "/" + std::to_string(me)) << "here";
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!met && std::chrono::steady_clock::now() < give_up) {
      met = std::filesystem::exists(dir + "/" + std::to_string(other));
      if (!met) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  MPI_Barrier(comm.mpi());
  return met;
}
SPAWNPOOL_TASK(meet);

/// Throws on `failing_rank` (after a barrier, so every rank is in the task).
int fail_on_rank(spawnpool::TaskComm comm, int failing_rank) {
  MPI_Barrier(comm.mpi());
  if (comm.rank() == failing_rank) {
    throw std::invalid_argument("rank " + std::to_string(comm.rank()) + " refuses");
  }
  return comm.rank();
}
SPAWNPOOL_TASK(fail_on_rank);

void sum_into_file(spawnpool::TaskComm comm, std::string path) {
  long mine = comm.rank() + 1;
  long total = 0;
  MPI_Reduce(&mine, &total, 1, MPI_LONG, MPI_SUM, 0, comm.mpi());
  if (comm.rank() == 0) std::ofstream(path) << total;
}
SPAWNPOOL_TASK(sum_into_file);

/// Rank `dying_rank` aborts once every rank is in the task; the others then wait for it in a
/// barrier that never completes.
int die_on_rank(spawnpool::TaskComm comm, int dying_rank) {
  MPI_Barrier(comm.mpi());
  if (comm.rank() == dying_rank) std::abort();
  MPI_Barrier(comm.mpi());
  return comm.rank();
}
SPAWNPOOL_TASK(die_on_rank);

/// Rank 0 ends its process with _exit(0) once every rank is in the task (no exit handler runs).
int quick_end_on_rank_0(spawnpool::TaskComm comm) {
  MPI_Barrier(comm.mpi());
  if (comm.rank() == 0) _exit(0);
  MPI_Barrier(comm.mpi());
  return comm.rank();
}
SPAWNPOOL_TASK(quick_end_on_rank_0);

/// Rank `aborting_rank` calls MPI_Abort on the task's communicator (error code 5).
int abort_on_rank(spawnpool::TaskComm comm, int aborting_rank) {
  MPI_Barrier(comm.mpi());
  if (comm.rank() == aborting_rank) MPI_Abort(comm.mpi(), 5);
  MPI_Barrier(comm.mpi());
  return comm.rank();
}
SPAWNPOOL_TASK(abort_on_rank);

/// Rank 1 calls MPI_Finalize in the middle of the task.
int finalize_on_rank_1(spawnpool::TaskComm comm) {
  MPI_Barrier(comm.mpi());
  if (comm.rank() == 1) MPI_Finalize();
  MPI_Barrier(comm.mpi());
  return comm.rank();
}
SPAWNPOOL_TASK(finalize_on_rank_1);

/// Rank `failing_rank` throws before the collective the others wait in.
long throw_before_collective(spawnpool::TaskComm comm, int failing_rank) {
  if (comm.rank() == failing_rank) throw std::runtime_error("boom");
  long one = 1;
  long sum = 0;
  MPI_Allreduce(&one, &sum, 1, MPI_LONG, MPI_SUM, comm.mpi());
  return sum;
}
SPAWNPOOL_TASK(throw_before_collective);

/// Every rank waits in a barrier, sleeps `ms`, and meets the others in a second barrier.
int hold_between_barriers(spawnpool::TaskComm comm, int ms) {
  MPI_Barrier(comm.mpi());
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  MPI_Barrier(comm.mpi());
  return comm.rank();
}
SPAWNPOOL_TASK(hold_between_barriers);

/// The length of a large argument, after a pause.
std::size_t length_of(spawnpool::TaskComm, const std::vector<double>& values) {
  std::this_thread::sleep_for(std::chrono::seconds(2));
  return values.size();
}
SPAWNPOOL_TASK(length_of);

/// Ranks 0 and 1 each wait for a message from the other first: a deadlock.
int deadlock(spawnpool::TaskComm comm) {
  int value = 0;
  MPI_Recv(&value, 1, MPI_INT, 1 - comm.rank(), 7, comm.mpi(), MPI_STATUS_IGNORE);
  MPI_Send(&value, 1, MPI_INT, 1 - comm.rank(), 7, comm.mpi());
  return value;
}
SPAWNPOOL_TASK(deadlock);

int g_initialized = 0;
void initialize(int value) { g_initialized = value; }
SPAWNPOOL_TASK(initialize);

/// The worker set-up as this rank sees it: the initializer's value, a variable, the directory.
std::string set_up_here(spawnpool::TaskComm comm, std::string variable) {
  (void)comm;
  const char* value = std::getenv(variable.c_str());
  return std::to_string(g_initialized) + "|" + (value ? value : "(unset)") + "|" +
         std::filesystem::current_path().string();
}
SPAWNPOOL_TASK(set_up_here);

int plain_square(int x) { return x * x; }
SPAWNPOOL_TASK(plain_square);

namespace {

spawnpool::Executor& pool() {
  static spawnpool::Executor executor(spawnpool::Options{}.max_workers(2).rank_groups(2));
  return executor;
}

spawnpool::TaskOptions ranks(int k) { return spawnpool::TaskOptions{}.ranks(k); }

std::string fresh_directory(const std::string& name) {
  const std::string dir = std::filesystem::temp_directory_path().string() + "/spawnpool_ranks_" +
                          name + "_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

TEST(Ranks, EveryRankContributesForOneTwoAndThreeRanks) {
  for (int k : {1, 2, 3}) {
    EXPECT_EQ(pool().submit(ranks(k), sum_of_ranks, 1L).get(), k * (k + 1) / 2) << "k = " << k;
    EXPECT_EQ(pool().submit(ranks(k), sum_of_ranks, 100L).get(), 100L * k * (k + 1) / 2);
  }
}

TEST(Ranks, WithoutOptionsATaskRunsOnOneRank) {
  EXPECT_EQ(pool().submit(sum_of_ranks, 7L).get(), 7);
  EXPECT_EQ(pool().submit(rank_and_size).get(), 1);
}

TEST(Ranks, AllRanksGivesEveryRanksResultInRankOrder) {
  EXPECT_EQ(pool().submit_all_ranks(ranks(3), rank_and_size).get(), (std::vector<int>{3, 13, 23}));
  EXPECT_EQ(pool().submit_all_ranks(ranks(2), rank_and_size).get(), (std::vector<int>{2, 12}));
  EXPECT_EQ(pool().submit_all_ranks(ranks(1), rank_and_size).get(), (std::vector<int>{1}));
}

TEST(Ranks, MixedWithOrdinaryTasksInOnePool) {
  const int workers = pool().num_workers();
  std::vector<spawnpool::Future<int>> squares;
  std::vector<spawnpool::Future<long>> sums;
  for (int i = 0; i < 20; ++i) {
    squares.push_back(pool().submit(plain_square, i));
    sums.push_back(pool().submit(ranks(1 + i % 3), sum_of_ranks, static_cast<long>(i)));
  }
  for (int i = 0; i < 20; ++i) {
    const int k = 1 + i % 3;
    EXPECT_EQ(squares[static_cast<std::size_t>(i)].get(), i * i);
    EXPECT_EQ(sums[static_cast<std::size_t>(i)].get(), static_cast<long>(i) * k * (k + 1) / 2);
  }
  EXPECT_EQ(pool().map(plain_square, std::vector<int>{1, 2, 3}).get(), (std::vector<int>{1, 4, 9}));
  EXPECT_EQ(pool().num_workers(), workers) << "groups are not counted as workers";
}

TEST(Ranks, TwoTasksOfTwoRanksRunSideBySide) {
  const std::string dir = fresh_directory("meet");
  auto a = pool().submit(ranks(2), meet, dir, 0, 1);
  auto b = pool().submit(ranks(2), meet, dir, 1, 0);
  EXPECT_TRUE(a.get()) << "task 0 never saw task 1 running";
  EXPECT_TRUE(b.get()) << "task 1 never saw task 0 running";
  std::filesystem::remove_all(dir);
}

TEST(Ranks, VoidTaskRuns) {
  const std::string dir = fresh_directory("void");
  pool().submit(ranks(3), sum_into_file, dir + "/sum").get();
  long sum = 0;
  std::ifstream(dir + "/sum") >> sum;
  EXPECT_EQ(sum, 6);
  std::filesystem::remove_all(dir);
}

TEST(Ranks, AFollowerThatThrowsFailsTheFutureNamingItsRank) {
  try {
    (void)pool().submit(ranks(3), fail_on_rank, 2).get();
    FAIL() << "expected an error";
  } catch (const spawnpool::RemoteError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 2 of the task's 3 ranks failed"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("rank 2 refuses"), std::string::npos) << e.what();
  }
  // Rank 0 throwing: its own exception.
  try {
    (void)pool().submit(ranks(2), fail_on_rank, 0).get();
    FAIL() << "expected an error";
  } catch (const spawnpool::RemoteError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0 refuses"), std::string::npos) << e.what();
  }
  // The group goes on.
  EXPECT_EQ(pool().submit(ranks(3), sum_of_ranks, 1L).get(), 6);
}

TEST(Ranks, InvalidRanksAreAnErrorAtSubmit) {
  EXPECT_THROW((void)pool().submit(ranks(0), sum_of_ranks, 1L), spawnpool::Error);
  spawnpool::ThreadExecutor threads(spawnpool::Options{}.max_workers(2));
  EXPECT_THROW((void)threads.submit(ranks(2), sum_of_ranks, 1L), spawnpool::Error);
  EXPECT_EQ(threads.submit(ranks(1), sum_of_ranks, 5L).get(), 5) << "MPI_COMM_SELF in this process";
}

TEST(Ranks, RankGroupsBelowOneIsRefusedWhenThePoolIsMade) {
  // Before: accepted, and refused only at the first k-rank submit, long after the options.
  EXPECT_THROW(spawnpool::Executor(spawnpool::Options{}.max_workers(1).rank_groups(0)),
               spawnpool::Error);
}

TEST(RankSetUp, EveryRankOfAGroupGetsTheWorkerSetUp) {
  const std::string dir = fresh_directory("setup");
  spawnpool::Executor executor(spawnpool::Options{}
                                   .max_workers(1)
                                   .rank_groups(1)
                                   .initializer(initialize, 42)
                                   .env("SPAWNPOOL_RANKS_TEST", "set")
                                   .working_directory(dir));
  const std::string expected =
      "42|set|" + std::filesystem::canonical(dir).string();
  EXPECT_EQ(executor.submit_all_ranks(ranks(3), set_up_here, std::string("SPAWNPOOL_RANKS_TEST")).get(),
            std::vector<std::string>(3, expected));
  executor.shutdown();
  std::filesystem::remove_all(dir);
}

namespace {

bool all_end(const std::vector<long>& pids) {
  bool ended = true;
  for (long pid : pids) {
    const bool gone = test_processes::ends_within(pid, std::chrono::seconds(20));
    EXPECT_TRUE(gone) << "pid " << pid << " outlived its group";
    ended = ended && gone;
  }
  return ended;
}

bool disjoint(const std::vector<long>& a, const std::vector<long>& b) {
  for (long pid : a) {
    if (std::find(b.begin(), b.end(), pid) != b.end()) return false;
  }
  return true;
}

}  // namespace

TEST(RankFailures, ARankThatDiesFailsTheTaskWithWorkerLostAndTheGroupIsReplaced) {
  spawnpool::Executor executor(spawnpool::Options{}.max_workers(1).rank_groups(1));
  const std::vector<long> before = executor.submit_all_ranks(ranks(3), pid_of_rank).get();
  try {
    (void)executor.submit(ranks(3), die_on_rank, 1).get();
    FAIL() << "expected WorkerLost";
  } catch (const spawnpool::WorkerLost& e) {
    EXPECT_NE(std::string(e.what()).find("rank 1 of its group"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(all_end(before));
  // The pool goes on, with a new group.
  EXPECT_EQ(executor.submit(ranks(3), sum_of_ranks, 1L).get(), 6);
  const std::vector<long> after = executor.submit_all_ranks(ranks(3), pid_of_rank).get();
  EXPECT_TRUE(disjoint(before, after));
  EXPECT_EQ(executor.submit(plain_square, 4).get(), 16);
  executor.shutdown();
  EXPECT_TRUE(all_end(after));
}

// SIGKILL leaves a follower no handler to tell rank 0 with: the loss was reported as rank 0's own
// ("worker N ... was lost"), without the rank that died.
TEST(RankFailures, AFollowerKilledWithSigkillIsNamedInWorkerLost) {
  spawnpool::Executor executor(spawnpool::Options{}.max_workers(1).rank_groups(1));
  for (int follower = 1; follower <= 2; ++follower) {
    const std::vector<long> pids = executor.submit_all_ranks(ranks(3), pid_of_rank).get();
    auto held = executor.submit(ranks(3), hold_between_barriers, 3000);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::kill(static_cast<pid_t>(pids[static_cast<std::size_t>(follower)]), SIGKILL);
    try {
      (void)held.get();
      FAIL() << "expected WorkerLost";
    } catch (const spawnpool::WorkerLost& e) {
      const std::string expected = "rank " + std::to_string(follower) + " of its group";
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
    EXPECT_TRUE(all_end(pids));
    EXPECT_EQ(executor.submit(ranks(3), sum_of_ranks, 1L).get(), 6);
  }
}

TEST(RankFailures, RankZeroThatDiesTakesItsGroupWithIt) {
  spawnpool::Executor executor(spawnpool::Options{}.max_workers(1).rank_groups(1));
  const std::vector<long> before = executor.submit_all_ranks(ranks(2), pid_of_rank).get();
  EXPECT_THROW((void)executor.submit(ranks(2), die_on_rank, 0).get(), spawnpool::WorkerLost);
  EXPECT_TRUE(all_end(before));
  EXPECT_EQ(executor.submit(ranks(2), sum_of_ranks, 1L).get(), 3);
}

// _exit(0) leaves no report and no status the manager can read (it is not the process's parent):
// the message claimed the process was killed by a signal.
TEST(RankFailures, RankZeroThatCallsUnderscoreExitIsNotSaidToBeKilled) {
  spawnpool::Executor executor(spawnpool::Options{}.max_workers(1).rank_groups(1));
  const std::vector<long> before = executor.submit_all_ranks(ranks(2), pid_of_rank).get();
  try {
    (void)executor.submit(ranks(2), quick_end_on_rank_0).get();
    FAIL() << "expected WorkerLost";
  } catch (const spawnpool::WorkerLost& e) {
    EXPECT_NE(std::string(e.what()).find("a task called _exit"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(all_end(before));
  EXPECT_EQ(executor.submit(ranks(2), sum_of_ranks, 1L).get(), 3);
}

// MPI_Abort on the group's communicator ends the group, not the MPI job with the manager in it
// (which ended this test program with status 137).
TEST(RankFailures, MpiAbortOnAnyRankEndsOnlyItsGroup) {
  spawnpool::Executor executor(spawnpool::Options{}.max_workers(1).rank_groups(1));
  for (int rank : {1, 0}) {
    const std::vector<long> before = executor.submit_all_ranks(ranks(2), pid_of_rank).get();
    try {
      (void)executor.submit(ranks(2), abort_on_rank, rank).get();
      FAIL() << "expected WorkerLost";
    } catch (const spawnpool::WorkerLost& e) {
      const std::string what = e.what();
      EXPECT_TRUE(what.find(rank == 0 ? "MPI_Abort" : "rank 1 of its group") != std::string::npos)
          << what;
    }
    EXPECT_TRUE(all_end(before));
    EXPECT_EQ(executor.submit(ranks(2), sum_of_ranks, 1L).get(), 3);
  }
}

// A follower's MPI_Finalize waited for ever at 100 % CPU (no task_timeout: the future never
// completed).
TEST(RankFailures, MpiFinalizeOnAFollowerEndsItsGroup) {
  spawnpool::Executor executor(spawnpool::Options{}.max_workers(1).rank_groups(1));
  const std::vector<long> before = executor.submit_all_ranks(ranks(2), pid_of_rank).get();
  auto future = executor.submit(ranks(2), finalize_on_rank_1);
  ASSERT_EQ(future.wait_for(std::chrono::seconds(60)), spawnpool::FutureStatus::ready);
  EXPECT_THROW((void)future.get(), spawnpool::WorkerLost);
  EXPECT_TRUE(all_end(before));
  EXPECT_EQ(executor.submit(ranks(2), sum_of_ranks, 1L).get(), 3);
}

// A rank that throws before a collective left the others waiting in it, and the future never
// completed (without task_timeout): now the group is ended kRankStuckLimit (5 s) after the failure.
TEST(RankFailures, ARankThatThrowsBeforeACollectiveEndsTheStuckGroup) {
  spawnpool::Executor executor(spawnpool::Options{}.max_workers(1).rank_groups(1));
  for (int rank : {0, 1}) {
    const std::vector<long> before = executor.submit_all_ranks(ranks(2), pid_of_rank).get();
    auto future = executor.submit(ranks(2), throw_before_collective, rank);
    ASSERT_EQ(future.wait_for(std::chrono::seconds(60)), spawnpool::FutureStatus::ready);
    try {
      (void)future.get();
      FAIL() << "expected WorkerLost";
    } catch (const spawnpool::WorkerLost& e) {
      EXPECT_NE(std::string(e.what()).find("rank " + std::to_string(rank) + " of its group's task failed"),
                std::string::npos) << e.what();
    }
    EXPECT_TRUE(all_end(before));
    EXPECT_EQ(executor.submit(ranks(2), throw_before_collective, -1).get(), 2);
  }
}

// Rank 0 killed while the manager still sends it a large argument: the send failed in the
// progress loop, which broke the whole executor (BrokenExecutor for every later task).
TEST(RankFailures, ALeaderKilledWhileItsArgumentIsSentIsALostWorker) {
  spawnpool::Executor executor(spawnpool::Options{}.max_workers(1).rank_groups(1));
  const std::vector<double> large(25'000'000, 1.0);  // 200 MB
  for (int attempt = 0; attempt < 2; ++attempt) {
    const std::vector<long> pids = executor.submit_all_ranks(ranks(2), pid_of_rank).get();
    auto future = executor.submit(ranks(2), length_of, large);
    std::this_thread::sleep_for(std::chrono::milliseconds(attempt == 0 ? 300 : 600));
    ::kill(static_cast<pid_t>(pids[0]), SIGKILL);
    EXPECT_THROW((void)future.get(), spawnpool::WorkerLost);
    EXPECT_TRUE(all_end(pids));
    EXPECT_EQ(executor.submit(ranks(2), sum_of_ranks, 1L).get(), 3);
    EXPECT_EQ(executor.submit(plain_square, 3).get(), 9);
  }
}

TEST(RankFailures, ADeadlockedTaskTimesOutAndEveryRankEnds) {
  spawnpool::Executor executor(spawnpool::Options{}.max_workers(1).rank_groups(1).task_timeout(
      std::chrono::milliseconds(1500)));
  const std::vector<long> before = executor.submit_all_ranks(ranks(2), pid_of_rank).get();
  EXPECT_THROW((void)executor.submit(ranks(2), deadlock).get(), spawnpool::Timeout);
  EXPECT_TRUE(all_end(before));
  EXPECT_EQ(executor.submit(ranks(2), sum_of_ranks, 2L).get(), 6);
}

// A group gone just before shutdown (a reaper killed: hydra then ends the whole group): the
// goodbye to it failed and the executor logged "the executor broke: ... MPI_Isend failed" (in
// about one of three tries here, depending on whether MPI saw the group's connection close first:
// hence several tries, with several pauses).
TEST(RankFailures, ShutdownRightAfterAGroupIsGoneSaysNothingBroke) {
  for (int pause_ms : {0, 15, 30, 60}) {
    spawnpool::Executor executor(spawnpool::Options{}.max_workers(1).rank_groups(1));
    const std::vector<long> pids = executor.submit_all_ranks(ranks(2), pid_of_rank).get();
    const std::vector<long> parents = executor.submit_all_ranks(ranks(2), parent_of_rank).get();
    if (parents[1] == parents[0]) GTEST_SKIP() << "no reaper: both ranks are children of hydra";
    ::kill(static_cast<pid_t>(parents[1]), SIGKILL);  // rank 1's reaper
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    const std::string log_file = fresh_directory("goodbye") + "/stderr";
    std::fflush(stderr);
    const int saved = ::dup(2);
    const int file = ::open(log_file.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    ::dup2(file, 2);
    executor.shutdown();
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(file);
    ::close(saved);
    std::ifstream in(log_file);
    const std::string logged((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(logged.find("broke"), std::string::npos) << "pause " << pause_ms << " ms: " << logged;
    EXPECT_TRUE(all_end(pids));
  }
}

// A follower stopped when the pool shuts down: MPI_Finalize on the leader waited for its side of
// the close handshake for ever (MPICH ch3 spins in MPIDI_CH3U_VC_WaitForClose), and the group, its
// job and the program's mpiexec stayed. Killed followers did the same when the leader had not seen
// them gone before the goodbye (ShutdownRightAfterAGroupIsGoneSaysNothingBroke, now and then).
// The leader's MPI_Finalize is bounded (5 s): it then ends the followers left on its host.
TEST(RankFailures, AFollowerStoppedAtShutdownEndsWithItsGroup) {
  spawnpool::Executor executor(spawnpool::Options{}.max_workers(1).rank_groups(1));
  const std::vector<long> pids = executor.submit_all_ranks(ranks(3), pid_of_rank).get();
  ASSERT_EQ(::kill(static_cast<pid_t>(pids[2]), SIGSTOP), 0);
  executor.shutdown();
  const bool ended = all_end(pids);
  if (!ended) {
    for (long pid : pids) ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
}

// Last: shuts the pool down.
TEST(Ranks, ZGroupProcessesAreDistinctAndEndWithThePool) {
  std::set<long> pids;
  for (int k : {2, 3}) {
    for (int round = 0; round < 2; ++round) {
      const std::vector<long> group = pool().submit_all_ranks(ranks(k), pid_of_rank).get();
      ASSERT_EQ(group.size(), static_cast<std::size_t>(k));
      EXPECT_EQ(std::set<long>(group.begin(), group.end()).size(), group.size());
      pids.insert(group.begin(), group.end());
    }
  }
  EXPECT_EQ(pids.count(static_cast<long>(::getpid())), 0u);
  // Two groups of 2 and two of 3: at most 10 processes, and groups are reused.
  EXPECT_LE(pids.size(), 10u);
  pool().shutdown();
  for (long pid : pids) {
    EXPECT_TRUE(test_processes::ends_within(pid, std::chrono::seconds(20))) << "pid " << pid;
  }
  EXPECT_THROW((void)pool().submit(ranks(2), sum_of_ranks, 1L), spawnpool::BrokenExecutor);
}

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);  // workers and group members serve here and exit
  ::testing::InitGoogleTest(&argc, argv);
  const int status = RUN_ALL_TESTS();
  pool().shutdown();
  return status;
}
