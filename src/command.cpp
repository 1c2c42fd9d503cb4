// run_command: an external program run through Boost.Process, its stdout and stderr read
// concurrently with asio, its end noticed through a pidfd (no SIGCHLD handler is installed, so the
// host program's signal handling is left alone), its process group killed on timeout.
#include <spawnpool/command.hpp>
#include <spawnpool/errors.hpp>
#include <spawnpool/task.hpp>

#include "command_program.hpp"

// Boost.Process v1 paths as std::filesystem::path, so that boost_filesystem need not be linked
// (every file that includes Boost.Process must agree; see spawn/relaunch.cpp).
#ifndef BOOST_PROCESS_USE_STD_FS
#define BOOST_PROCESS_USE_STD_FS
#endif

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/process/args.hpp>
#include <boost/process/async_pipe.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exception.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

extern char** environ;

namespace spawnpool {

namespace detail {
const int command_task_anchor = 0;
}  // namespace detail

namespace {

namespace asio = boost::asio;
namespace bp = boost::process;

std::string_view name_of(std::string_view entry) { return entry.substr(0, entry.find('=')); }

/// The MPI launcher's per-process variables: they tell a process it is a rank of a job (and how to
/// reach the job's process manager), so a command must not inherit them.
bool is_launcher_variable(std::string_view name) {
  for (std::string_view prefix : {"PMI_", "PMIX_", "OMPI_COMM_WORLD_", "OMPI_MCA_ess", "OMPI_MCA_orte",
                                  "OMPI_MCA_pmix", "OMPI_MCA_prte", "PRTE_", "HYDI_", "HYDRA_"}) {
    if (name.substr(0, prefix.size()) == prefix) return true;
  }
  for (std::string_view exact : {"MPI_LOCALNRANKS", "MPI_LOCALRANKID", "OMPI_UNIVERSE_SIZE",
                                 "OMPI_FIRST_RANKS", "OMPI_APP_CTX_NUM_PROCS", "OMPI_NUM_APP_CTX",
                                 "OMPI_FILE_LOCATION", "SPAWNPOOL_RELAUNCHED"}) {
    if (name == exact) return true;
  }
  return false;
}

/// The worker's environment without the launcher's variables, plus (overriding) `extra`.
std::vector<std::string> command_environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> entries;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = name_of(entry);
    if (is_launcher_variable(name) || extra.count(std::string(name)) != 0) continue;
    entries.emplace_back(entry);
  }
  for (const auto& [name, value] : extra) {
    if (name.empty() || name.find('=') != std::string::npos) {
      throw Error("spawnpool::run_command: invalid environment variable name '" + name + "'");
    }
    entries.push_back(name + "=" + value);
  }
  return entries;
}

std::string variable(const std::vector<std::string>& entries, std::string_view name) {
  for (const auto& entry : entries) {
    if (name_of(entry) == name) return entry.substr(name.size() + 1);
  }
  return {};
}

std::string this_host() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) return "?";
  return name.data();
}

/// The file to execute: `program` itself when it contains a '/', else its first match in `path`.
std::string resolve_program(const Command& command, const std::string& path,
                            const std::string& caller = "spawnpool::run_command") {
  const std::string& program = command.program;
  if (program.empty()) throw Error(caller + ": Command::program is empty");
  if (program.find('/') != std::string::npos) {
    std::string file = program;
    if (program.front() != '/' && !command.working_directory.empty()) {
      file = command.working_directory + "/" + program;
    }
    if (::access(file.c_str(), X_OK) != 0) {
      const int error = errno;
      throw Error(caller + ": cannot run program '" + program + "' (" + file +
                  ") on host " + this_host() + ": " + std::strerror(error));
    }
    return file;
  }
  std::string_view rest = path;
  while (true) {
    const auto colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + program;
    struct stat info {};
    if (::stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  throw Error(caller + ": program '" + program + "' not found in PATH on host " +
              this_host() + " (PATH=" + path +
              "); give its full path in Command::program, or set PATH in Command::env");
}

/// Sets the prepared environment in the parent, and in the child before exec: its own process
/// group, SIGKILL when the worker dies, the working directory, and none of the worker's files
/// (MPI sockets, the launcher's PMI descriptor) beyond stdin, stdout and stderr.
struct ChildSetup : bp::extend::handler {
  char** env = nullptr;
  const char* directory = nullptr;
  pid_t parent = 0;

  template <class Executor>
  void on_setup(Executor& exec) const {
    exec.env = env;
  }

  template <class Executor>
  void on_exec_setup(Executor& exec) const {
    // Only async-signal-safe calls here: the worker may have other threads.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the worker is already gone
#if defined(SYS_close_range) && defined(CLOSE_RANGE_CLOEXEC)
    ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
#endif  // else (old system headers) the files stay inherited
    if (directory != nullptr && ::chdir(directory) != 0) {
      exec.set_error(std::error_code(errno, std::system_category()), "chdir");
      ::_exit(127);
    }
  }
};

/// Reads a pipe to its end into `sink`.
class Drain {
 public:
  Drain(bp::async_pipe& pipe, std::string& sink) : pipe_(pipe), sink_(sink) {}
  void start() {
    pipe_.async_read_some(asio::buffer(chunk_), [this](const boost::system::error_code& ec,
                                                       std::size_t n) {
      sink_.append(chunk_.data(), n);
      if (!ec) {
        start();
      } else {
        done_ = true;
      }
    });
  }
  bool done() const noexcept { return done_; }

 private:
  bp::async_pipe& pipe_;
  std::string& sink_;
  std::array<char, 64 * 1024> chunk_{};
  bool done_ = false;
};

/// Notices the child's end without reaping it (bp::child does that): through a pidfd where the
/// kernel has them, else by polling.
class ExitWatch {
 public:
  ExitWatch(asio::io_context& io, bp::child& child) : child_(child), timer_(io) {
#ifdef SYS_pidfd_open
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, child.id(), 0));
    if (fd >= 0) {
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
      pidfd_.emplace(io, fd);
    }
#endif
  }
  void start() {
    if (pidfd_) {
      pidfd_->async_wait(asio::posix::stream_descriptor::wait_read,
                         [this](const boost::system::error_code&) { exited_ = true; });
    } else {
      poll();
    }
  }
  bool exited() const noexcept { return exited_; }

 private:
  void poll() {
    std::error_code ec;
    if (!child_.running(ec)) {
      exited_ = true;
      return;
    }
    timer_.expires_after(std::chrono::milliseconds(10));
    timer_.async_wait([this](const boost::system::error_code& ec2) {
      if (!ec2) poll();
    });
  }

  bp::child& child_;
  asio::steady_timer timer_;
  std::optional<asio::posix::stream_descriptor> pidfd_;
  bool exited_ = false;
};

void check_working_directory(const Command& command, const std::string& caller) {
  if (!command.working_directory.empty()) {
    struct stat info {};
    if (::stat(command.working_directory.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
      throw Error(caller + ": working directory '" + command.working_directory +
                  "' of program '" + command.program + "' is not a directory on host " +
                  this_host());
    }
  }
}

}  // namespace

namespace detail {

std::string resolve_command_program(const Command& command, const std::string& caller) {
  check_working_directory(command, caller);
  std::string path;
  const auto set = command.env.find("PATH");
  if (set != command.env.end()) {
    path = set->second;
  } else if (const char* own = std::getenv("PATH")) {
    path = own;
  }
  return resolve_program(command, path, caller);
}

}  // namespace detail

CommandResult run_command(const Command& command) {
  check_working_directory(command, "spawnpool::run_command");
  const std::vector<std::string> env_entries = command_environment(command.env);
  const std::string file = resolve_program(command, variable(env_entries, "PATH"));
  std::vector<char*> env_pointers;
  for (const auto& entry : env_entries) env_pointers.push_back(const_cast<char*>(entry.c_str()));
  env_pointers.push_back(nullptr);

  ChildSetup setup;
  setup.env = env_pointers.data();
  setup.directory = command.working_directory.empty() ? nullptr : command.working_directory.c_str();
  setup.parent = ::getpid();

  asio::io_context io;
  bp::async_pipe out_pipe(io), err_pipe(io);
  // Other processes this process starts meanwhile must not inherit the pipes (they would hold
  // them open); the child gets its ends as stdout and stderr, where dup2 clears the flag.
  for (int fd : {out_pipe.native_source(), out_pipe.native_sink(), err_pipe.native_source(),
                 err_pipe.native_sink()}) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  bp::child child;
  try {
    child = bp::child(bp::exe(file), bp::args(command.args), bp::std_in < bp::null,
                      bp::std_out > out_pipe, bp::std_err > err_pipe, setup);
  } catch (const bp::process_error& e) {
    throw Error("spawnpool::run_command: cannot start program '" + command.program + "' (" +
                file + ") on host " + this_host() + ": " + e.what());
  }

  CommandResult result;
  Drain out(out_pipe, result.out), err(err_pipe, result.err);
  ExitWatch watch(io, child);
  out.start();
  err.start();
  watch.start();

  const auto finished = [&] { return out.done() && err.done() && watch.exited(); };
  if (command.timeout.count() > 0) {
    const auto deadline = std::chrono::steady_clock::now() + command.timeout;
    while (!finished() && std::chrono::steady_clock::now() < deadline) {
      io.run_one_until(deadline);
    }
    if (!finished()) {
      result.timed_out = true;
      ::killpg(child.id(), SIGKILL);  // the program leads its own group (ChildSetup)
      ::kill(child.id(), SIGKILL);    // in case it could not make its group
      // Whatever escaped the group (setsid) may still hold the pipes: stop reading after a while.
      const auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (!finished() && std::chrono::steady_clock::now() < grace) io.run_one_until(grace);
      if (!finished()) {
        boost::system::error_code ignored;
        out_pipe.close(ignored);
        err_pipe.close(ignored);
      }
    }
  }
  while (!finished()) {
    if (io.run_one() == 0) break;  // nothing left to wait for (cannot happen while one is pending)
  }

  std::error_code ec;
  child.wait(ec);
  const int status = child.native_exit_code();
  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
    result.exit_code = 128 + result.signal;
  } else {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

}  // namespace spawnpool

// A built-in task: every spawnpool program has it, but a pool service offers it only when asked
// (ServiceOptions::allow_builtin_tasks): it runs any program.
static const spawnpool::detail::Registration<&spawnpool::run_command> run_command_registration{
    "spawnpool.run_command", true};
