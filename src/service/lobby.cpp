#include "lobby.hpp"

#include "service_token.hpp"

#include <spawnpool/detail/seconds_text.hpp>
#include <spawnpool/errors.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <string>

namespace spawnpool::detail {

namespace {

using clock = std::chrono::steady_clock;

constexpr const char* kGreetingWord = "spawnpool-lobby 3 ";
constexpr const char* kAnyGreetingWord = "spawnpool-lobby ";
constexpr std::size_t kLongestLine = 2048;  // a greeting, or "enter" with an MPI port
constexpr const char* kConnectingLine = "connecting";

/// Writes all of `line` to a socket (small lines: one send, MSG_NOSIGNAL so a vanished peer is an
/// error, not SIGPIPE). False when it could not.
bool say(int fd, const std::string& line) {
  const ssize_t sent = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  return sent == static_cast<ssize_t>(line.size());
}

int milliseconds_until(clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
  return static_cast<int>(std::max<long long>(0, std::min<long long>(left.count(), 60000)));
}

}  // namespace

// ---- service side ----

Lobby::Lobby(std::string token, std::string host, AcceptOverdue accept_overdue)
    : token_(std::move(token)), host_(std::move(host)), accept_overdue_(std::move(accept_overdue)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listener_ < 0) throw Error(std::string("spawnpool service: no lobby socket: ") + std::strerror(errno));
  const int yes = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_ANY);
  any.sin_port = 0;
  socklen_t length = sizeof any;
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0 ||
      ::listen(listener_, 64) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&any), &length) != 0 ||
      ::pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    const std::string why = std::strerror(errno);
    ::close(listener_);
    throw Error("spawnpool service: cannot open its lobby port: " + why);
  }
  port_ = ntohs(any.sin_port);
  thread_ = std::thread([this] { serve(); });
}

Lobby::~Lobby() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake();
  thread_.join();
  for (Guest& guest : guests_) {
    if (guest.stage != Stage::kGreeting) say(guest.fd, "closed\n");
    ::close(guest.fd);
  }
  ::close(listener_);
  ::close(wake_pipe_[0]);
  ::close(wake_pipe_[1]);
}

std::string Lobby::address() const { return host_ + ":" + std::to_string(port_); }

void Lobby::wake() {
  const char byte = 1;
  [[maybe_unused]] const ssize_t ignored = ::write(wake_pipe_[1], &byte, 1);
}

bool Lobby::wait_for_a_queued_client(std::chrono::milliseconds limit) {
  std::unique_lock<std::mutex> lock(mutex_);
  return queued_.wait_for(lock, limit, [this] {
    return std::any_of(guests_.begin(), guests_.end(), [](const Guest& g) {
      return g.stage == Stage::kQueued || g.stage == Stage::kAskedIn;
    });
  });
}

void Lobby::open_door(const std::string& mpi_port) {
  std::lock_guard<std::mutex> lock(mutex_);
  mpi_port_ = mpi_port;
  door_wanted_ = true;
  ask_in_if_wanted();
}

Lobby::Door Lobby::wait_at_door(std::chrono::milliseconds limit) {
  std::unique_lock<std::mutex> lock(mutex_);
  Door door = Door::kWaiting;
  coming_.wait_for(lock, limit, [this, &door] {
    bool anyone = false;
    for (const Guest& guest : guests_) {
      if (guest.stage == Stage::kAskedIn && guest.connecting) {
        door = Door::kComing;
        return true;
      }
      anyone = anyone || guest.stage != Stage::kGreeting;
    }
    if (!anyone) door = Door::kEmpty;
    return !anyone;
  });
  // Shut under the same lock: a client queued from now on is asked in to the next turn's port,
  // never to this one, which the caller closes.
  if (door == Door::kEmpty) door_wanted_ = false;
  if (door == Door::kComing) {
    accepting_ = true;
    accept_began_ = clock::now();
    wake();  // the lobby's thread times the accept from now
  }
  return door;
}

clock::time_point Lobby::accept_deadline() const {
  if (!accepting_) return clock::time_point::max();
  for (const Guest& guest : guests_) {
    if (guest.stage == Stage::kAskedIn && guest.connecting) {
      return std::max(accept_began_, guest.connecting_since) + kLobbyAcceptLimit;
    }
  }
  return clock::time_point::max();  // the client it was meant for left: nobody waits for it
}

void Lobby::accept_ended() {
  std::lock_guard<std::mutex> lock(mutex_);
  accepting_ = false;
}

void Lobby::door_closed(bool admitted) {
  std::lock_guard<std::mutex> lock(mutex_);
  accepting_ = false;
  if (!admitted) return;
  door_wanted_ = false;
  for (auto it = guests_.begin(); it != guests_.end();) {
    if (it->stage == Stage::kAskedIn) {
      say(it->fd, "admitted\n");
      ::close(it->fd);
      it = guests_.erase(it);
    } else {
      ++it;
    }
  }
}

void Lobby::ask_in_if_wanted() {
  if (!door_wanted_) return;
  for (const Guest& guest : guests_) {
    if (guest.stage == Stage::kAskedIn) return;
  }
  for (auto it = guests_.begin(); it != guests_.end();) {
    if (it->stage != Stage::kQueued) {
      ++it;
      continue;
    }
    if (say(it->fd, "enter " + mpi_port_ + "\n")) {
      it->stage = Stage::kAskedIn;
      it->asked_in_deadline = clock::now() + kLobbyAskedInLimit;
      return;
    }
    ::close(it->fd);  // gone since it queued
    it = guests_.erase(it);
  }
}

void Lobby::take_newcomers() {
  for (;;) {
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;  // EAGAIN: nobody more; other errors: try again at the next wake-up
    const auto strangers = std::count_if(guests_.begin(), guests_.end(), [](const Guest& g) {
      return g.stage == Stage::kGreeting;
    });
    if (static_cast<std::size_t>(strangers) >= kLobbyStrangerCapacity) {
      // Connections that have not shown the token yet make room for newcomers, oldest first: a
      // flood of silent connections must not turn away the clients that have the token.
      const auto oldest = std::find_if(guests_.begin(), guests_.end(), [](const Guest& g) {
        return g.stage == Stage::kGreeting;
      });
      ::close(oldest->fd);
      guests_.erase(oldest);
    }
    const auto admitted_to_queue = std::count_if(guests_.begin(), guests_.end(), [](const Guest& g) {
      return g.stage != Stage::kGreeting;
    });
    if (static_cast<std::size_t>(admitted_to_queue) >= kLobbyCapacity) {
      say(fd, "full\n");
      ::close(fd);
      continue;
    }
    Guest guest;
    guest.fd = fd;
    guest.greeting_deadline = clock::now() + kLobbyGreetingLimit;
    guests_.push_back(std::move(guest));
  }
}

bool Lobby::hear(Guest& guest) {
  char buffer[256];
  const ssize_t got = ::recv(guest.fd, buffer, sizeof buffer, MSG_DONTWAIT);
  if (got == 0) return false;  // it left
  if (got < 0) return errno == EAGAIN || errno == EINTR;
  // A queued client has nothing to say (what it said is dropped), nor one that said "connecting".
  if (guest.stage == Stage::kQueued || guest.connecting) return true;
  guest.greeting.append(buffer, static_cast<std::size_t>(got));
  const auto end = guest.greeting.find('\n');
  if (end == std::string::npos) return guest.greeting.size() <= kLongestLine;
  const std::string line = guest.greeting.substr(0, end);
  if (guest.stage == Stage::kAskedIn) {
    // Asked in: the only word it may say is that it connects now (anything else: it is dropped
    // and the next client asked in).
    guest.greeting.clear();
    guest.connecting = line == kConnectingLine;
    guest.connecting_since = clock::now();
    return guest.connecting;
  }
  const std::string word = kGreetingWord;
  const std::string any_version = kAnyGreetingWord;
  if (line.compare(0, word.size(), word) != 0 && line.compare(0, any_version.size(), any_version) == 0) {
    say(guest.fd, "version 3\n");  // a client of another version: not a wrong token
    return false;
  }
  if (line.compare(0, word.size(), word) != 0 || !token_matches(line.substr(std::min(word.size(), line.size())), token_)) {
    say(guest.fd, "refused\n");
    return false;
  }
  std::size_t ahead = 0;
  for (const Guest& other : guests_) {
    if (other.stage != Stage::kGreeting) ++ahead;
  }
  guest.stage = Stage::kQueued;
  guest.greeting.clear();
  return say(guest.fd, "queued " + std::to_string(ahead) + "\n");
}

void Lobby::serve() {
  std::vector<pollfd> watched;
  for (;;) {
    int timeout = -1;  // the timers: a greeting's deadline, an asked-in client's, the accept's
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      watched.assign({{wake_pipe_[0], POLLIN, 0}, {listener_, POLLIN, 0}});
      const auto until = [&timeout](clock::time_point deadline) {
        const int left = milliseconds_until(deadline);
        timeout = timeout < 0 ? left : std::min(timeout, left);
      };
      for (const Guest& guest : guests_) {
        watched.push_back({guest.fd, POLLIN, 0});
        if (guest.stage == Stage::kGreeting) until(guest.greeting_deadline);
        if (guest.stage == Stage::kAskedIn && !guest.connecting) until(guest.asked_in_deadline);
      }
      if (const auto deadline = accept_deadline(); deadline != clock::time_point::max()) {
        until(deadline);
      }
    }
    ::poll(watched.data(), watched.size(), timeout);
    if (watched[0].revents) {
      char drained[64];
      while (::read(wake_pipe_[0], drained, sizeof drained) > 0) {
      }
    }
    bool accept_overdue = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      // Guests by their socket: the list may have changed (door_closed) since the poll.
      for (std::size_t i = 2; i < watched.size(); ++i) {
        if (!watched[i].revents) continue;
        auto it = std::find_if(guests_.begin(), guests_.end(),
                               [&](const Guest& g) { return g.fd == watched[i].fd; });
        if (it == guests_.end()) continue;
        if (!hear(*it)) {
          if (it->stage == Stage::kAskedIn && !it->connecting) {
            std::fprintf(stderr, "spawnpool service: a client asked in left (or said something "
                                 "else) before it connected\n");
          }
          ::close(it->fd);
          guests_.erase(it);
        }
      }
      const auto now = clock::now();
      for (auto it = guests_.begin(); it != guests_.end();) {
        if (it->stage == Stage::kGreeting && now >= it->greeting_deadline) {
          ::close(it->fd);  // said nothing (or not enough) in time
          it = guests_.erase(it);
        } else if (it->stage == Stage::kAskedIn && !it->connecting && now >= it->asked_in_deadline) {
          // Asked in but never said "connecting" (stopped, hung, or hostile): the next queued
          // client is asked in below, to the same port (rank 0 has not begun an accept for it).
          std::fprintf(stderr, "spawnpool service: a client asked in did not say it connects within "
                               "%lld s; asking in the next\n",
                       static_cast<long long>(kLobbyAskedInLimit.count()));
          say(it->fd, "late\n");
          ::close(it->fd);
          it = guests_.erase(it);
        } else {
          ++it;
        }
      }
      accept_overdue = now >= accept_deadline();
      if (watched[1].revents) take_newcomers();
      ask_in_if_wanted();
      queued_.notify_all();
      coming_.notify_all();
    }
    if (accept_overdue) give_up_on_the_client_connecting();
  }
}

void Lobby::give_up_on_the_client_connecting() {
  const auto still_overdue = [this] { return clock::now() >= accept_deadline(); };
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!still_overdue()) return;  // the accept ended since (door_closed)
  }
  if (accept_overdue_) accept_overdue_();  // ends the process when the accept is stuck for good
  std::lock_guard<std::mutex> lock(mutex_);
  if (!still_overdue()) return;
  const auto connecting = std::find_if(guests_.begin(), guests_.end(), [](const Guest& g) {
    return g.stage == Stage::kAskedIn && g.connecting;
  });
  if (connecting == guests_.end()) return;  // it left meanwhile
  std::fprintf(stderr, "spawnpool service: a client asked in said it connects, but no connection "
                       "reached the service's MPI port within %lld s (can it reach this host's "
                       "MPI ports?); asking in the next\n",
               static_cast<long long>(kLobbyAcceptLimit.count()));
  say(connecting->fd, "unreachable\n");
  ::close(connecting->fd);
  guests_.erase(connecting);
  ask_in_if_wanted();
}

std::string lobby_host_from(const std::string& mpi_port) {
  const std::string key = "ifname#";
  const auto at = mpi_port.find(key);
  if (at != std::string::npos) {
    const auto end = mpi_port.find('$', at);
    std::string ip = mpi_port.substr(at + key.size(), end == std::string::npos ? std::string::npos : end - at - key.size());
    in_addr parsed{};
    if (inet_pton(AF_INET, ip.c_str(), &parsed) == 1) return ip;
  }
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) == 0 && name[0]) return name;
  return "127.0.0.1";
}

// ---- client side ----

LobbyTicket::~LobbyTicket() {
  if (fd_ >= 0) ::close(fd_);
}

void LobbyTicket::say_connecting() const { say(fd_, std::string(kConnectingLine) + "\n"); }

std::string LobbyTicket::why_never_met() {
  if (admitted_) return "";
  char buffer[64];
  for (;;) {
    const ssize_t got = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return "";
    if (got <= 0) break;  // closed (or reset) without "admitted"
    heard_.append(buffer, static_cast<std::size_t>(got));
    if (heard_.find("admitted\n") != std::string::npos) {
      admitted_ = true;
      return "";
    }
    if (heard_.size() > kLongestLine) heard_.erase(0, heard_.size() - 16);
  }
  if (heard_.find("unreachable\n") != std::string::npos) {
    return "no connection of this client reached the service's MPI port within " +
           seconds_text(kLobbyAcceptLimit) + " (a firewall between this host and the service's?)";
  }
  if (heard_.find("late\n") != std::string::npos) {
    return "the service gave up on this client: it did not begin its MPI connect within " +
           seconds_text(kLobbyAskedInLimit) + " of its turn (another thread of it held MPI?)";
  }
  return "the service ended while this client connected to it (its lobby closed before it "
         "admitted this client; its output may say why)";
}

namespace {

/// Connects to HOST:PORT within `limit`; returns the socket, or throws SpawnError.
int connect_to_lobby(const std::string& address, const std::string& service,
                     std::chrono::milliseconds limit) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw SpawnError("spawnpool: the pool service " + service + " gave a bad lobby address '" + address + "'");
  }
  const std::string host = address.substr(0, colon), port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    throw SpawnError("spawnpool: cannot find the host '" + host + "' of the pool service " + service +
                     ": " + gai_strerror(rc));
  }
  std::string why = "no address";
  bool refused = false;
  for (addrinfo* a = found; a; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(limit.count()));
      int error = 0;
      socklen_t length = sizeof error;
      if (rc == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0) {
        rc = 0;
      } else {
        errno = rc == 0 ? ETIMEDOUT : error;
        rc = -1;
      }
    }
    if (rc == 0) {
      ::freeaddrinfo(found);
      return fd;
    }
    refused = refused || errno == ECONNREFUSED;
    why = errno == ETIMEDOUT ? "no answer within " + seconds_text(limit)
                             : std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (refused) {
    throw SpawnError("spawnpool: no pool service at " + service + ": nothing listens at its lobby " +
                     address + " (the service has ended; its port file or name is stale)");
  }
  throw SpawnError("spawnpool: cannot reach the pool service " + service + " at its lobby " + address +
                   ": " + why);
}

}  // namespace

bool lobby_answers(const std::string& address) {
  try {
    LobbyTicket probe(connect_to_lobby(address, address, std::chrono::seconds(1)));
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

LobbyTicket wait_in_lobby(const std::string& address, const std::string& token,
                          clock::time_point deadline, const std::string& service) {
  LobbyTicket ticket(connect_to_lobby(address, service, std::chrono::seconds(5)));
  if (!say(ticket.fd(), kGreetingWord + token + "\n")) {
    throw SpawnError("spawnpool: the pool service " + service + " closed its lobby at once");
  }
  std::string heard;
  std::size_t ahead = 0;
  for (;;) {
    const auto end = heard.find('\n');
    if (end != std::string::npos) {
      const std::string line = heard.substr(0, end);
      heard.erase(0, end + 1);
      if (line.rfind("enter ", 0) == 0 && line.size() > 6) {
        ticket.mpi_port = line.substr(6);
        return ticket;
      }
      if (line.rfind("queued ", 0) == 0) {
        ahead = static_cast<std::size_t>(std::strtoul(line.c_str() + 7, nullptr, 10));
        continue;
      }
      if (line == "refused") {
        throw SpawnError("spawnpool: the pool service " + service +
                         " did not admit this client: the service refused the token");
      }
      if (line == "full") {
        throw SpawnError("spawnpool: the pool service " + service + " turned this client away: " +
                         std::to_string(kLobbyCapacity) + " clients wait already");
      }
      if (line == "closed") break;
      if (line.rfind("version ", 0) == 0) {
        throw SpawnError("spawnpool: the pool service " + service + " speaks lobby protocol " +
                         line.substr(8, 16) + ", this client 3: rebuild the client or the service "
                         "with the same spawnpool version");
      }
      throw SpawnError("spawnpool: the pool service " + service + " answered '" + line.substr(0, 80) +
                       "' in its lobby: not a spawnpool service of this version");
    }
    pollfd p{ticket.fd(), POLLIN, 0};
    const int left = milliseconds_until(deadline);
    if (left == 0 || ::poll(&p, 1, left) == 0) {
      if (clock::now() < deadline) continue;  // a wait longer than poll's limit
      throw SpawnError("spawnpool: the pool service " + service + " did not take this client in time: " +
                       std::to_string(ahead) + (ahead == 1 ? " client was" : " clients were") +
                       " ahead of it (clients are served one at a time); raise the limit with "
                       "Options::spawn_timeout or SPAWNPOOL_SPAWN_TIMEOUT");
    }
    char buffer[256];
    const ssize_t got = ::recv(ticket.fd(), buffer, sizeof buffer, 0);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (got <= 0) break;
    heard.append(buffer, static_cast<std::size_t>(got));
    if (heard.size() > kLongestLine) {
      throw SpawnError("spawnpool: the pool service " + service +
                       " sent garbage in its lobby: not a spawnpool service");
    }
  }
  throw SpawnError("spawnpool: the pool service " + service +
                   " ended while this client waited for its turn");
}

}  // namespace spawnpool::detail
