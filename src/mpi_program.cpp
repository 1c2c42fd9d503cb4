// run_mpi_program: k ranks of an MPI program started with one MPI_Comm_spawn under launchers
// (spawn/mpi_program_launcher.hpp), their reports read from a private directory.
#include <spawnpool/errors.hpp>
#include <spawnpool/mpi_program.hpp>
#include <spawnpool/task.hpp>

#include "command_program.hpp"
#include "environment.hpp"
#include "log.hpp"
#include "runtime_state.hpp"
#include "spawn/launch.hpp"

#include <dirent.h>
#include <poll.h>
#include <sys/inotify.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

namespace spawnpool {

namespace detail {
const int mpi_program_task_anchor = 0;
}  // namespace detail

namespace {

constexpr const char* kCaller = "spawnpool::run_mpi_program";
/// How long the ranks may take to report after their timeout (killing, MPI_Finalize, writing).
constexpr std::chrono::seconds kReportGrace{30};
/// How often the worker looks at the launchers' pids while no report comes.
constexpr std::chrono::milliseconds kLivenessCheckInterval{100};
/// How long the worker's MPI_Comm_disconnect of the ranks may take once all have reported.
constexpr std::chrono::seconds kDisconnectGrace{10};

/// A private directory for the launchers' reports, removed with everything in it.
class ReportDirectory {
 public:
  ReportDirectory() {
    std::string pattern = detail::temporary_files_directory() + "/spawnpool-mpi-program-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      throw Error(std::string(kCaller) + ": cannot create the report directory " + pattern + ": " +
                  std::strerror(errno) + " (set TMPDIR to a writable directory)");
    }
    path_ = pattern;
  }
  ~ReportDirectory() {
    if (DIR* dir = opendir(path_.c_str())) {
      while (const dirent* entry = readdir(dir)) {
        if (std::strcmp(entry->d_name, ".") == 0 || std::strcmp(entry->d_name, "..") == 0) continue;
        unlink((path_ + "/" + entry->d_name).c_str());
      }
      closedir(dir);
    }
    rmdir(path_.c_str());
  }
  ReportDirectory(const ReportDirectory&) = delete;
  ReportDirectory& operator=(const ReportDirectory&) = delete;

  const std::string& path() const noexcept { return path_; }
  std::string file(int rank, const char* suffix) const {
    return path_ + "/" + std::to_string(rank) + "." + suffix;
  }

 private:
  std::string path_;
};

/// Wakes the worker when a report arrives (a launcher renames it into the directory), through
/// inotify; without inotify, wait() just sleeps its limit.
class ReportNotice {
 public:
  explicit ReportNotice(const std::string& directory) {
    fd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd_ >= 0 && inotify_add_watch(fd_, directory.c_str(), IN_MOVED_TO) < 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~ReportNotice() {
    if (fd_ >= 0) ::close(fd_);
  }
  ReportNotice(const ReportNotice&) = delete;
  ReportNotice& operator=(const ReportNotice&) = delete;

  /// Returns when something was renamed into the directory, or after `limit`.
  void wait(std::chrono::milliseconds limit) {
    if (fd_ < 0) {
      std::this_thread::sleep_for(limit);
      return;
    }
    pollfd watch{fd_, POLLIN, 0};
    if (::poll(&watch, 1, static_cast<int>(limit.count())) > 0) {
      char events[4096];
      while (::read(fd_, events, sizeof events) > 0) {
      }
    }
  }

 private:
  int fd_ = -1;
};

std::optional<std::string> read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Rank `rank`'s report, when its launcher has written it; `ended_inside_mpi`: whether the rank
/// ended after MPI_Init without MPI_Finalize (crashed, killed, MPI_Abort, exit).
std::optional<CommandResult> read_report(const ReportDirectory& dir, int rank,
                                         bool* ended_inside_mpi = nullptr) {
  const auto status = read_whole(dir.file(rank, "status"));
  if (!status) return std::nullopt;
  CommandResult result;
  std::istringstream lines(*status);
  int timed_out = 0, mpi_state = 2;
  lines >> result.exit_code >> result.signal >> timed_out >> mpi_state;
  result.timed_out = timed_out != 0;
  if (ended_inside_mpi != nullptr) *ended_inside_mpi = mpi_state == 1;
  result.out = read_whole(dir.file(rank, "out")).value_or("");
  result.err = read_whole(dir.file(rank, "err")).value_or("");
  std::string reason;
  std::getline(lines, reason);  // the rest of the first line
  while (std::getline(lines, reason)) {
    if (!reason.empty()) result.err += "spawnpool::run_mpi_program: " + reason + "\n";
  }
  return result;
}

/// The pid of rank `rank`'s launcher, when it has written it.
std::optional<pid_t> launcher_pid(const ReportDirectory& dir, int rank) {
  const auto text = read_whole(dir.file(rank, "pid"));
  if (!text) return std::nullopt;
  const long pid = std::atol(text->c_str());
  if (pid <= 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

/// An absolute path for `file` (run_command's resolution is relative to this process's directory
/// for a program without working directory; the launcher starts it from the working directory).
std::string absolute(const std::string& file) {
  if (!file.empty() && file.front() == '/') return file;
  char here[4096];
  if (::getcwd(here, sizeof here) == nullptr) return file;
  return std::string(here) + "/" + file;
}

}  // namespace

MpiProgramResult run_mpi_program(int ranks, const Command& command) {
  if (ranks < 1) {
    throw Error(std::string(kCaller) + ": ranks must be at least 1, got " + std::to_string(ranks));
  }
  const std::string file = absolute(detail::resolve_command_program(command, kCaller));
  for (const auto& [name, value] : command.env) {
    if (name.empty() || name.find('=') != std::string::npos) {
      throw Error(std::string(kCaller) + ": invalid environment variable name '" + name + "'");
    }
  }
  detail::RuntimeState& state = detail::runtime_state();
  if (state.program.empty()) {
    throw Error(std::string(kCaller) + ": this process's executable cannot be started again "
                "(it is the launcher of the ranks); is there a spawnpool::Runtime?");
  }

  ReportDirectory dir;
  detail::MpiLaunch launch;
  launch.directory = dir.path();
  launch.watched_pid = static_cast<long>(::getpid());
  launch.watched_host = detail::host_name();
  launch.timeout = command.timeout;
  launch.working_directory = command.working_directory;
  launch.env = command.env;
  launch.program = file;
  launch.args = command.args;

  detail::SpawnRequest request;
  request.program = state.program;
  request.args = detail::mpi_launcher_args(launch);
  request.count = ranks;
  request.timeout = detail::seconds_setting(std::nullopt, detail::env::kSpawnTimeout, 60);
  request.mpi_stuck = &state.mpi_stuck;
  // A launcher may end before this side's MPI_Comm_spawn returns (a short program): no start
  // watch, the launchers complete the spawn themselves when the program does not.
  request.watch_start = false;
  MPI_Comm ranks_comm = detail::spawn_workers(request);  // throws SpawnError

  // The ranks' MPI_Finalize waits for this side's disconnect; it waits for theirs: a helper thread.
  auto disconnected = std::make_shared<std::promise<void>>();
  std::future<void> disconnect_done = disconnected->get_future();
  std::thread([ranks_comm, disconnected]() mutable {
    auto lock = detail::mpi_lock();
    MPI_Comm_disconnect(&ranks_comm);
    disconnected->set_value();
  }).detach();

  const auto end_disconnect = [&] {
    if (disconnect_done.wait_for(kDisconnectGrace) != std::future_status::ready) {
      // Its thread stays inside MPI: MPI must not be finalized.
      state.mpi_stuck = true;
      detail::log().warn("{}: the {} ranks of '{}' ended, but disconnecting from them did not "
                         "finish within {} s; MPI will not be finalized in this process",
                         kCaller, ranks, command.program, kDisconnectGrace.count());
    }
  };
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (command.timeout.count() > 0) {
    deadline = std::chrono::steady_clock::now() + command.timeout + kReportGrace;
  }
  MpiProgramResult result;
  result.ranks.resize(static_cast<std::size_t>(ranks));
  std::vector<bool> reported(static_cast<std::size_t>(ranks), false);
  ReportNotice notice(dir.path());
  bool ending_the_others = false;
  for (int left = ranks; left > 0;) {
    for (int rank = 0; rank < ranks; ++rank) {
      if (reported[rank]) continue;
      bool ended_inside_mpi = false;
      auto report = read_report(dir, rank, &ended_inside_mpi);
      if (!report) {
        const auto pid = launcher_pid(dir, rank);
        if (pid && !alive(*pid)) {
          report = read_report(dir, rank);  // written just before it ended?
          if (!report) {
            // Hydra kills the other ranks' launchers when one rank ends without MPI_Finalize;
            // the rank itself then got SIGKILL (it dies with its launcher).
            report = CommandResult{};
            report->signal = SIGKILL;
            report->exit_code = 128 + SIGKILL;
            report->out = read_whole(dir.file(rank, "out")).value_or("");
            report->err = read_whole(dir.file(rank, "err")).value_or("") +
                          "spawnpool::run_mpi_program: the launcher of rank " +
                          std::to_string(rank) + " was ended before the rank (killed by the MPI "
                          "process manager after another rank failed?)\n";
          }
        }
      }
      if (report && ended_inside_mpi && !report->timed_out && !ending_the_others) {
        // The others would wait for it in their next collective for ever: end them now (a
        // timed-out rank's peers reach the same deadline by themselves).
        ending_the_others = true;
        for (int other = 0; other < ranks; ++other) {
          if (reported[other] || other == rank) continue;
          if (const auto pid = launcher_pid(dir, other)) ::kill(*pid, SIGUSR2);
        }
      }
      if (report) {
        result.ranks[rank] = std::move(*report);
        reported[rank] = true;
        --left;
      }
    }
    if (left == 0) break;
    if (deadline && std::chrono::steady_clock::now() >= *deadline) {
      for (int rank = 0; rank < ranks; ++rank) {
        if (const auto pid = launcher_pid(dir, rank); pid && !reported[rank]) ::kill(*pid, SIGKILL);
      }
      end_disconnect();
      throw Timeout(std::string(kCaller) + ": " + std::to_string(left) + " of " +
                    std::to_string(ranks) + " ranks of '" + command.program +
                    "' did not report within the timeout plus " +
                    std::to_string(kReportGrace.count()) + " s; their launchers were killed");
    }
    notice.wait(kLivenessCheckInterval);
  }
  end_disconnect();
  return result;
}

}  // namespace spawnpool

// A built-in task, offered by a pool service only when asked (as run_command): it runs any program.
static const spawnpool::detail::Registration<&spawnpool::run_mpi_program>
    run_mpi_program_registration{"spawnpool.run_mpi_program", true};
