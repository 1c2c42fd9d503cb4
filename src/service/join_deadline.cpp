#include "join_deadline.hpp"

#include "end_stuck_service.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mpi.h>
#include <spawnpool/detail/mpi_flavor.hpp>
#include <spawnpool/detail/seconds_text.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>

namespace spawnpool::detail {

namespace {

/// The inode of `fd` when it is a socket ("socket:[N]"), else 0.
unsigned long socket_inode(int fd) noexcept {
  char path[64];
  char target[64] = {};
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  const ssize_t length = ::readlink(path, target, sizeof target - 1);
  if (length <= 0 || std::strncmp(target, "socket:[", 8) != 0) return 0;
  return std::strtoul(target + 8, nullptr, 10);
}

/// Calls `visit(fd, inode)` for each socket this process has open. Throws what `visit` throws.
template <typename Visit>
void for_each_socket(Visit visit) {
  const std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/proc/self/fd"), ::closedir);
  if (!dir) return;
  const int own = ::dirfd(dir.get());
  while (const dirent* entry = ::readdir(dir.get())) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    const int fd = std::atoi(entry->d_name);
    if (fd == own) continue;
    if (const unsigned long inode = socket_inode(fd)) visit(fd, inode);
  }
}

/// The local TCP port `fd` is bound to, or 0.
int local_port(int fd) noexcept {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) return 0;
  if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  return 0;
}

/// MPICH ch3's port names carry "$port#N$": the process's listening port.
int listening_port_of(const std::string& mpi_port) noexcept {
  const auto at = mpi_port.find("port#");
  if (at == std::string::npos) return 0;
  return std::atoi(mpi_port.c_str() + at + 5);
}

/// Calls `visit(fd)` for each socket open now that was not when `turn` began and is bound to its
/// MPI port's listening port (MPICH ch3: the connections accepted on it since). Never throws.
template <typename Visit>
void for_each_connection_since(const ClientConnection& turn, Visit visit) noexcept {
  const int port = listening_port_of(turn.mpi_port);
  if (port <= 0) return;
  for_each_socket([&](int fd, unsigned long inode) {
    if (turn.sockets_before.count(inode) == 0 && local_port(fd) == port) visit(fd);
  });
}

}  // namespace

std::set<unsigned long> open_socket_inodes() noexcept {
  std::set<unsigned long> inodes;
  try {
    for_each_socket([&](int, unsigned long inode) { inodes.insert(inode); });
  } catch (...) {  // out of memory: nothing to compare with
  }
  return inodes;
}

JoinDeadline::JoinDeadline(std::chrono::milliseconds limit) : limit_(limit) {
  try {
    thread_ = std::thread([this] { watch(); });
  } catch (const std::exception& e) {  // no thread to be had: joins go on without a limit
    std::fprintf(stderr, "spawnpool service: cannot watch the time a client takes to join (%s)\n",
                 e.what());
  }
}

JoinDeadline::~JoinDeadline() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stopping_signal_.notify_one();
  thread_.join();
}

void JoinDeadline::arm(ClientConnection connection) {
  std::lock_guard<std::mutex> lock(mutex_);
  connection_ = std::move(connection);
  deadline_ = std::chrono::steady_clock::now() + limit_;
  armed_ = true;
  cut_ = false;
}

void JoinDeadline::disarm() {
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = false;
}

void JoinDeadline::watch() noexcept {
  try {
    for (;;) {
      std::string cut_message;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (stopping_signal_.wait_for(lock, std::chrono::milliseconds(250),
                                      [this] { return stopping_; })) {
          return;
        }
        if (!armed_ || std::chrono::steady_clock::now() < deadline_) continue;
        if (!cut_) {
          cut_ = true;
          deadline_ += kJoinEndWait;
          if (kClosedConnectionFailsCalls) {
            const int cut = cut_armed_connection();
            cut_message = cut == 0 ? "no connection of it was left to cut"
                                   : "its connection was cut (" + std::to_string(cut) +
                                         (cut == 1 ? " socket)" : " sockets)");
          } else {
            cut_message = "this MPI cannot be made to fail the join";
          }
        }
      }
      // Said without the lock held: a stderr that does not drain must not hold up disarm().
      if (!cut_message.empty()) {
        std::fprintf(stderr, "spawnpool service: the admitted client did not finish joining the "
                             "ranks within the client timeout (%s; stopped, hung or dead?): %s\n",
                     seconds_text(limit_).c_str(), cut_message.c_str());
        std::fflush(stderr);
        continue;
      }
      end_stuck_service("the ranks are still joining that client " + seconds_text(kJoinEndWait) +
                        " later; MPI cannot call the join off");
    }
  } catch (const std::exception& e) {  // out of memory: joins go on without a limit
    std::fprintf(stderr, "spawnpool service: the watch over the time a client takes to join "
                         "ended (%s)\n", e.what());
  }
}

int JoinDeadline::cut_armed_connection() {
  int cut = 0;
  // Scanned only now: a join that ends in time costs nothing but arm() and disarm().
  for_each_connection_since(connection_, [&](int fd) {
    if (::shutdown(fd, SHUT_RDWR) == 0) ++cut;
  });
  return cut;
}

int connections_since(const ClientConnection& turn) noexcept {
  int count = 0;
  for_each_connection_since(turn, [&](int) { ++count; });
  return count;
}

}  // namespace spawnpool::detail
