#include "job_leftovers.hpp"
#include "proc_stat.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace spawnpool::detail {
namespace {

/// This process's children (read from every process's stat: /proc/PID/task/TID/children would
/// need a walk over our own threads, and a kernel built with CONFIG_PROC_CHILDREN).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return children;
  while (const dirent* entry = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    if (parent_pid(pid) == parent) children.push_back(static_cast<pid_t>(pid));
  }
  closedir(proc);
  return children;
}

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// What an adopted child is to the job.
enum class Part {
  kNone,     // not the job's: a daemon the manager started, or a worker's launcher guard
             // (launcher_guard.hpp: it ends by itself, within about 3 s of its worker, after
             // ending what the worker's tasks left)
  kProcess,  // a process hydra spawned or one of its descendants (PMI_SPAWNED=1), or the
             // relaunched manager itself (this executable, with hydra's PMI_RANK), whose proxy
             // is gone
  kProxy,    // a hydra_pmi_proxy: given a moment to end its own processes first
};

bool has_variable(const std::string& environment, const std::string& assignment) {
  return environment.find('\0' + assignment) != std::string::npos;
}

/// (hydra makes each process it starts a session leader, so a daemon's setsid does not tell it
/// apart: a daemon a worker's task started is the job's.)
Part part_of_the_job(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  std::string name = read_whole(dir + "/comm");
  while (!name.empty() && name.back() == '\n') name.pop_back();
  if (name == "hydra_pmi_proxy") return Part::kProxy;
  if (name == "spawnpool-guard") return Part::kNone;
  const std::string environment = '\0' + read_whole(dir + "/environ");
  if (has_variable(environment, "PMI_SPAWNED=1")) return Part::kProcess;
  std::error_code error;
  const bool this_executable =
      std::filesystem::equivalent(dir + "/exe", "/proc/self/exe", error) && !error;
  if (this_executable && has_variable(environment, "SPAWNPOOL_RELAUNCHED=1") &&
      has_variable(environment, "PMI_RANK=")) {
    return Part::kProcess;
  }
  return Part::kNone;
}

/// How long proxies get to end their own processes before they are killed too.
constexpr std::chrono::milliseconds kProxyGrace{1000};

}  // namespace

void adopt_orphans_of_descendants() noexcept { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

bool reap_adopted_children(pid_t keep) noexcept {
  for (;;) {
    siginfo_t info{};
    info.si_pid = 0;
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
    if (info.si_pid == 0) return false;
    if (info.si_pid == keep) return true;
    ::waitpid(info.si_pid, nullptr, WNOHANG);
  }
}

int end_leftovers_of_the_job(std::chrono::milliseconds limit) noexcept {
  int ended = 0;
  try {
    const pid_t self = ::getpid();
    const auto deadline = std::chrono::steady_clock::now() + limit;
    const auto proxies_until = std::chrono::steady_clock::now() + kProxyGrace;
    std::set<pid_t> killed;
    for (;;) {
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      bool left = false;
      const bool proxies_too = std::chrono::steady_clock::now() >= proxies_until;
      for (pid_t child : children_of(self)) {
        if (killed.count(child) != 0) {
          left = true;  // killed, not reaped yet
          continue;
        }
        const Part part = part_of_the_job(child);
        if (part == Part::kNone) continue;
        left = true;
        if (part == Part::kProxy && !proxies_too) continue;
        ::kill(child, SIGKILL);
        killed.insert(child);
        ++ended;
      }
      if (!left || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  } catch (...) {
    // Out of memory while reading /proc: leave what is left.
  }
  if (ended > 0) {
    std::fprintf(stderr,
                 "spawnpool: mpiexec left %d process%s of the job behind (hydra_pmi_proxy, "
                 "workers); ended\n",
                 ended, ended == 1 ? "" : "es");
  }
  return ended;
}

}  // namespace spawnpool::detail
