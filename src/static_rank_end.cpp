#include "static_rank_end.hpp"

#include "environment.hpp"

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

constexpr int kHostLength = 256;

}  // namespace

std::vector<long> exchange_static_rank_pids(MPI_Comm comm) {
  int rank = 0;
  int size = 0;
  SPAWNPOOL_MPI(MPI_Comm_rank(comm, &rank));
  SPAWNPOOL_MPI(MPI_Comm_size(comm, &size));
  long pid = static_cast<long>(getpid());
  char host[kHostLength] = {};
  const std::string name = host_name();
  std::memcpy(host, name.data(), std::min<std::size_t>(name.size(), kHostLength - 1));
  std::vector<long> pids(rank == 0 ? size : 0);
  std::vector<char> hosts(rank == 0 ? static_cast<std::size_t>(size) * kHostLength : 0);
  SPAWNPOOL_MPI(MPI_Gather(&pid, 1, MPI_LONG, pids.data(), 1, MPI_LONG, 0, comm));
  SPAWNPOOL_MPI(MPI_Gather(host, kHostLength, MPI_CHAR, hosts.data(), kHostLength, MPI_CHAR, 0, comm));
  long manager_pid = pid;
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
  for (int r = 0; r < size; ++r) {
    if (std::strncmp(&hosts[static_cast<std::size_t>(r) * kHostLength], host, kHostLength) != 0) {
      pids[r] = 0;
    }
  }
  return pids;
}

void end_static_rank(long pid) noexcept {
  if (pid <= 0) return;
  kill(static_cast<pid_t>(pid), end_signal());
  kill(static_cast<pid_t>(pid), SIGCONT);
}

}  // namespace spawnpool::detail
