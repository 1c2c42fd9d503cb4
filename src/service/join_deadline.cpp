#include "join_deadline.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
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

/// Calls `visit(fd, inode)` for each socket this process has open.
template <typename Visit>
void for_each_socket(Visit visit) noexcept {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return;
  const int own = ::dirfd(dir);
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    const int fd = std::atoi(entry->d_name);
    if (fd == own) continue;
    if (const unsigned long inode = socket_inode(fd)) visit(fd, inode);
  }
  ::closedir(dir);
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

}  // namespace

std::set<unsigned long> open_socket_inodes() noexcept {
  std::set<unsigned long> inodes;
  try {
    for_each_socket([&](int, unsigned long inode) { inodes.insert(inode); });
  } catch (...) {  // out of memory: nothing to compare with
  }
  return inodes;
}

std::vector<OpenSocket> mpi_connections_since(const std::set<unsigned long>& before,
                                              const std::string& mpi_port) noexcept {
  std::vector<OpenSocket> sockets;
  const int port = listening_port_of(mpi_port);
  if (port <= 0) return sockets;
  try {
    for_each_socket([&](int fd, unsigned long inode) {
      if (before.count(inode) == 0 && local_port(fd) == port) sockets.push_back({fd, inode});
    });
  } catch (...) {
  }
  return sockets;
}

JoinDeadline::JoinDeadline(std::vector<OpenSocket> sockets, std::chrono::milliseconds limit) {
  if (sockets.empty()) return;
  try {
    thread_ = std::thread([this, sockets = std::move(sockets), limit]() mutable {
      watch(std::move(sockets), limit);
    });
  } catch (const std::system_error& e) {  // no thread to be had: the join goes on without a limit
    std::fprintf(stderr, "spawnpool service: cannot watch the time a client takes to join (%s)\n",
                 e.what());
  }
}

JoinDeadline::~JoinDeadline() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  over_.notify_one();
  thread_.join();
}

void JoinDeadline::watch(std::vector<OpenSocket> sockets, std::chrono::milliseconds limit) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (over_.wait_for(lock, limit, [this] { return done_; })) return;
  }
  int cut = 0;
  for (const OpenSocket& socket : sockets) {
    // The descriptor may have been closed and reused meanwhile: only the same socket is cut.
    if (socket_inode(socket.fd) == socket.inode && ::shutdown(socket.fd, SHUT_RDWR) == 0) ++cut;
  }
  std::fprintf(stderr, "spawnpool service: the admitted client did not finish joining the ranks "
                       "within the client timeout (%lld ms; stopped or hung?): its connection "
                       "was cut (%d socket%s)\n",
               static_cast<long long>(limit.count()), cut, cut == 1 ? "" : "s");
  std::fflush(stderr);
}

}  // namespace spawnpool::detail
