#include "static_rank_end.hpp"

#include "environment.hpp"
#include "log.hpp"
#include "process_check.hpp"
#include "runtime_state.hpp"

#include <spawnpool/detail/mpi_call.hpp>

#include "spawn/launcher_guard.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>

namespace spawnpool::detail {

namespace {

/// The signal (a real-time one: no library here uses it).
int end_signal() noexcept { return SIGRTMIN + 4; }

std::atomic<long> g_manager_pid{0};

void on_end_signal(int, siginfo_t* info, void*) {
  if (info == nullptr || info->si_pid <= 0 || info->si_pid != g_manager_pid.load()) return;
  permit_orderly_end();
  _exit(0);
}

/// What each rank tells rank 0 (as bytes: every rank runs the same program).
struct RankProcess {
  long pid = 0;
  char host[256] = {};
};

}  // namespace

std::vector<long> exchange_static_rank_pids(MPI_Comm comm) {
  int rank = 0;
  int size = 0;
  SPAWNPOOL_MPI(MPI_Comm_rank(comm, &rank));
  SPAWNPOOL_MPI(MPI_Comm_size(comm, &size));
  RankProcess mine;
  mine.pid = static_cast<long>(getpid());
  const std::string name = host_name();
  std::memcpy(mine.host, name.data(), std::min(name.size(), sizeof mine.host - 1));
  std::vector<RankProcess> all(rank == 0 ? size : 0);
  SPAWNPOOL_MPI(MPI_Gather(&mine, sizeof mine, MPI_BYTE, all.data(), sizeof mine, MPI_BYTE, 0, comm));
  long manager_pid = mine.pid;
  SPAWNPOOL_MPI(MPI_Bcast(&manager_pid, 1, MPI_LONG, 0, comm));
  if (rank != 0) {
    g_manager_pid = manager_pid;
    struct sigaction end {};
    end.sa_sigaction = on_end_signal;
    end.sa_flags = SA_SIGINFO;
    sigemptyset(&end.sa_mask);
    sigaction(end_signal(), &end, nullptr);
    return {};
  }
  std::vector<long> pids;
  for (const RankProcess& other : all) {
    pids.push_back(std::strncmp(other.host, mine.host, sizeof mine.host) == 0 ? other.pid : 0);
  }
  return pids;
}

void end_static_rank(long pid) noexcept {
  if (pid <= 0) return;
  kill(static_cast<pid_t>(pid), end_signal());
  kill(static_cast<pid_t>(pid), SIGCONT);
}

bool end_static_rank_if_stopped(int rank, const char* when) noexcept {
  const std::vector<long>& pids = runtime_state().static_rank_pids;
  if (rank <= 0 || static_cast<std::size_t>(rank) >= pids.size()) return false;
  const long pid = pids[static_cast<std::size_t>(rank)];
  if (!process_stopped(pid)) return false;
  log().warn("static rank {} (pid {}) is stopped {}: asking it to end", rank, pid, when);
  end_static_rank(pid);
  return true;
}

}  // namespace spawnpool::detail
