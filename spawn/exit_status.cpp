#include "exit_status.hpp"

#include "relaunch.hpp"
#include "run_directory.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace spawnpool::detail {

namespace {

// The claimed file, open for appending; written from exit handlers and signal handlers.
int g_status_fd = -1;

// Signals whose default action ends the process and that a handler can see. SIGKILL cannot be
// caught; the parent reads "claimed, nothing written" as it.
constexpr std::array<int, 9> kFatalSignals = {SIGSEGV, SIGBUS,  SIGFPE, SIGILL, SIGABRT,
                                              SIGTERM, SIGINT, SIGHUP, SIGQUIT};

/// "exit N\n" or "signal N\n" without the C library's formatting (async-signal-safe).
void write_status(const char* word, int number) {
  if (g_status_fd < 0) return;
  char line[32];
  std::size_t n = 0;
  for (const char* c = word; *c; ++c) line[n++] = *c;
  line[n++] = ' ';
  char digits[12];
  std::size_t d = 0;
  unsigned value = static_cast<unsigned>(number < 0 ? -number : number);
  do {
    digits[d++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  if (number < 0) line[n++] = '-';
  while (d > 0) line[n++] = digits[--d];
  line[n++] = '\n';
  (void)!::write(g_status_fd, line, n);
}

extern "C" void on_fatal_signal(int sig) {
  const int saved_errno = errno;
  write_status("signal", sig);
  const int fd = g_status_fd;
  g_status_fd = -1;  // the first report counts
  if (fd >= 0) ::close(fd);
  errno = saved_errno;
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

extern "C" void on_exit_status(int status, void*) {
  write_status("exit", status & 0xff);
  const int fd = g_status_fd;
  g_status_fd = -1;
  if (fd >= 0) ::close(fd);
}

/// This host's name as a claim line's last field has it, into `host`: "" when it cannot be read
/// or has a space or newline. Allocates nothing.
void read_host_name(char (&host)[256]) noexcept {
  host[0] = '\0';
  if (::gethostname(host, sizeof host - 1) != 0 || std::strpbrk(host, " \n") != nullptr) host[0] = '\0';
  host[sizeof host - 1] = '\0';
}

/// The last line's word and number ("exit 3"), if any. `claimed`: a manager claimed the file;
/// `manager_pid`, if given: its pid (0 when unclaimed); `manager_host`, if given: the host it
/// claimed the file from ("" when unclaimed or not said).
std::optional<std::pair<std::string, int>> last_report(const std::string& path, bool& claimed,
                                                       long* manager_pid = nullptr,
                                                       std::string* manager_host = nullptr) {
  std::ifstream in(path);
  std::string line;
  std::optional<std::pair<std::string, int>> last;
  claimed = false;
  if (manager_pid != nullptr) *manager_pid = 0;
  while (std::getline(in, line)) {
    char word[16] = {};
    long number = 0;
    char host[256] = {};
    const int fields = std::sscanf(line.c_str(), "%15s %ld %255s", word, &number, host);
    if (fields < 2) continue;
    if (std::strcmp(word, "manager") == 0) {
      claimed = true;
      if (manager_pid != nullptr) *manager_pid = number;
      if (manager_host != nullptr) *manager_host = fields == 3 ? host : "";
    } else if (claimed && (std::strcmp(word, "exit") == 0 || std::strcmp(word, "signal") == 0)) {
      last = std::make_pair(std::string(word), static_cast<int>(number));
    }
  }
  return last;
}

}  // namespace

std::string signal_name(int sig) {
  switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGABRT: return "SIGABRT: abort() or an uncaught exception";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGUSR1: return "SIGUSR1";
    case SIGSEGV: return "SIGSEGV";
    case SIGUSR2: return "SIGUSR2";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    default: {
      const char* text = ::strsignal(sig);
      return text ? text : "unknown signal";
    }
  }
}

ExitStatusFile::ExitStatusFile() {
  std::string pattern = system_temporary_directory() + "/spawnpool-status-XXXXXX";
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) {
    throw RelaunchError("spawnpool: cannot create the relaunch's status file " + pattern + ": " +
                        std::strerror(errno));
  }
  ::close(fd);
  path_ = pattern;
  char host[256];
  read_host_name(host);
  own_host_ = host;
}

ExitStatusFile::~ExitStatusFile() { ::unlink(path_.c_str()); }

std::optional<int> ExitStatusFile::status(int interrupted_by, const std::string& launcher_end) const {
  bool claimed = false;
  const auto report = last_report(path_, claimed);
  if (!claimed) return std::nullopt;
  if (report && report->first == "exit") return report->second;
  if (interrupted_by != 0 || report) {
    // The shell sees an exit status, not a death by a signal, so it says nothing ("Aborted",
    // "Terminated"): this line does, in place of mpiexec's banner (launcher_noise_filter.hpp).
    const int sig = interrupted_by != 0 ? interrupted_by : report->second;
    // After Ctrl-C the terminal has echoed "^C" where the cursor was; a shell would start a new
    // line after a program killed by SIGINT.
    const bool after_ctrl_c = interrupted_by == SIGINT && ::isatty(STDERR_FILENO) == 1;
    std::fprintf(stderr, "%sspawnpool: the program was ended by signal %d (%s); exit status %d\n",
                 after_ctrl_c ? "\n" : "", sig, signal_name(sig).c_str(), 128 + sig);
    return 128 + sig;
  }
  std::fprintf(stderr,
               "spawnpool: the program ended without a report of its status (mpiexec %s): it was "
               "killed by SIGKILL or the out-of-memory killer, or called _exit(), or the MPI "
               "launcher ended the job (MPI_Abort called in a task, a worker's hydra_pmi_proxy "
               "killed)\n",
               launcher_end.c_str());
  return 128 + SIGKILL;
}

ExitStatusFile::ManagerProgress ExitStatusFile::manager_progress() const {
  bool claimed = false;
  long pid = 0;
  std::string host;
  ManagerProgress progress;
  progress.ended = last_report(path_, claimed, &pid, &host).has_value();
  if (claimed && pid > 0) progress.pid = pid;
  progress.on_this_host = claimed && !own_host_.empty() && host == own_host_;
  return progress;
}

void record_exit_status(int status) noexcept { on_exit_status(status, nullptr); }

void report_exit_status_to_relaunch_parent() noexcept {
  const char* path = std::getenv(kStatusFileVariable);
  if (path == nullptr || *path == '\0' || g_status_fd >= 0) return;
  const int fd = ::open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return;
  struct stat info {};
  // Claim it if nobody has: an exclusive lock makes "empty, so mine" one step.
  if (::flock(fd, LOCK_EX) != 0 || ::fstat(fd, &info) != 0 || info.st_size != 0) {
    ::close(fd);
    return;
  }
  g_status_fd = fd;
  // "manager PID HOST": the parent watches the pid only when HOST is its own.
  char host[256];
  read_host_name(host);
  char claim[320];
  const int n = std::snprintf(claim, sizeof claim, "manager %ld %s\n", static_cast<long>(::getpid()),
                              host[0] != '\0' ? host : "?");
  if (n > 0) (void)!::write(fd, claim, static_cast<std::size_t>(n));
  ::flock(fd, LOCK_UN);
  ::unsetenv(kStatusFileVariable);  // commands the program starts are not the manager
  ::on_exit(on_exit_status, nullptr);
  for (int sig : kFatalSignals) {
    struct sigaction current {};
    if (::sigaction(sig, nullptr, &current) != 0 || current.sa_handler != SIG_DFL ||
        (current.sa_flags & SA_SIGINFO) != 0) {
      continue;  // the program (or MPI) handles it: its choice
    }
    struct sigaction action {};
    action.sa_handler = on_fatal_signal;
    action.sa_flags = SA_NODEFER;
    sigemptyset(&action.sa_mask);
    ::sigaction(sig, &action, nullptr);
  }
}

}  // namespace spawnpool::detail
