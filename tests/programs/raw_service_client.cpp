// A hostile client of the pool service, in plain MPI and sockets (service_test.sh). Run it under
// mpiexec -n 1 (a singleton would start the mpiexec on PATH). It waits for its turn in the
// service's lobby with the right token (the lobby's protocol by hand: src/service/lobby.hpp), so
// the service accepts its MPI connection, and then:
//   raw_service_client PORT_FILE TOKEN_FILE
//     sends garbage on the first session's tag to every service rank instead of the token, and
//     prints the service's admission answer ("refused: 0"), which must come within a few seconds,
//     then leaves without disconnecting.
//   raw_service_client PORT_FILE TOKEN_FILE --admitted
//     presents the right token ("admitted: 1"), then misbehaves: sends garbage on a tag no session
//     uses and an unknown message kind to every rank, and then nothing at all (no hello, no
//     heartbeats) for 60 s. The service must drop it after its client timeout and serve the next
//     client meanwhile.
//   raw_service_client PORT_FILE TOKEN_FILE --garbage-to-one
//     presents the right token, then sends garbage on the session tag to the last rank only and
//     heartbeats to every rank every 0.5 s for 60 s. The rank that reads the garbage drops it; the
//     others must drop it too at once, not go on serving it, and the service serves the next
//     client meanwhile.
//   raw_service_client PORT_FILE TOKEN_FILE --announce-then-hang
//     presents the right token, then announces to every rank a 1 GiB kTasks message in parts of
//     1 MiB and sends none of the parts, and no heartbeats: it sleeps 600 s. The service must drop
//     it after its client timeout (it waited for the parts for 120 s).
//   raw_service_client PORT_FILE TOKEN_FILE --oversized
//     presents the right token, then announces to every rank a 16 GiB kTasks message (in parts
//     of 1 GiB), more than the service's --max-message-size, and sends heartbeats for 60 s. The
//     service must drop it at once, before allocating what it claims.
//   raw_service_client PORT_FILE TOKEN_FILE --many-parts
//     the same with a 1 GiB message in parts of 64 bytes (16 M receives to post): dropped at once.
//   raw_service_client PORT_FILE TOKEN_FILE --die-when-admitted
//     presents the right token and dies (_exit) as soon as it is admitted, before joining.
//   raw_service_client PORT_FILE TOKEN_FILE --die-in-join
//     presents the right token, takes the first step of joining every rank
//     (MPI_Intercomm_merge) and dies (_exit) before the second, while the service's ranks are in
//     MPI_Intercomm_create with it.
//   raw_service_client PORT_FILE TOKEN_FILE --die-in-create
//     the same, but dies (_exit from another thread) 0.3 ms after it entered its own
//     MPI_Intercomm_create. In each case the service must serve the next client.
//   raw_service_client PORT_FILE TOKEN_FILE --stop-in-join
//     the same as --die-in-join, but stops itself (SIGSTOP) instead of dying, printing "stopping":
//     alive and silent, it holds the ranks in MPI_Intercomm_create with it. The service must cut
//     its connection after the client timeout and serve the next client.
//   raw_service_client PORT_FILE TOKEN_FILE --stop-in-merge
//     the same, but stops before its MPI_Intercomm_merge: rank 0 waits in its own.
//   raw_service_client PORT_FILE TOKEN_FILE --stranger MPI_PORT
//     skips the lobby and the token: MPI_Comm_connect to MPI_PORT (rebuilt by the test from the
//     TCP port rank 0 listens on, as an adversary can under MPICH), printing "connecting" and then
//     "refused" or "connected"; the test kills it while it waits.
// The MPI port comes from the lobby's "enter <port>" (it is in no file).
#include <spawnpool/detail/wire_format.hpp>

#include <mpi.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

namespace {

/// Waits (20 s at most) for the service's admission answer; -1 without one.
int admission_answer(MPI_Comm service) {
  int answer = -1;
  MPI_Request reply = MPI_REQUEST_NULL;
  MPI_Irecv(&answer, 1, MPI_INT, 0, spawnpool::detail::wire::kAdmissionTag, service, &reply);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int done = 0;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    MPI_Test(&reply, &done, MPI_STATUS_IGNORE);
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done ? answer : -1;
}

/// Knocks at the lobby named in the port file's "lobby HOST:PORT" line and waits for
/// "enter <MPI port>" (into `port`); returns the socket, to keep open until connected (-1 on
/// failure).
int wait_for_turn(const std::string& lobby, const std::string& token, std::string& port) {
  const auto colon = lobby.rfind(':');
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (colon == std::string::npos ||
      getaddrinfo(lobby.substr(0, colon).c_str(), lobby.substr(colon + 1).c_str(), &hints, &found) != 0) {
    return -1;
  }
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const bool connected = connect(fd, found->ai_addr, found->ai_addrlen) == 0;
  freeaddrinfo(found);
  if (!connected) return -1;
  const std::string greeting = "spawnpool-lobby 3 " + token + "\n";
  if (write(fd, greeting.data(), greeting.size()) != static_cast<ssize_t>(greeting.size())) return -1;
  std::string heard;
  char c = 0;
  while (read(fd, &c, 1) == 1) {
    if (c != '\n') {
      heard += c;
    } else if (heard.rfind("enter ", 0) == 0) {
      port = heard.substr(6);
      return fd;
    } else {
      heard.clear();  // "queued N"
    }
  }
  return -1;
}

/// After the admission: what the service's ranks do next (src/service/join_ranks.hpp), spelled out
/// here so that this client stays raw MPI. Returns the intercommunicator to every rank.
MPI_Comm join_every_rank(MPI_Comm admitted) {
  MPI_Comm pair = MPI_COMM_NULL, service = MPI_COMM_NULL;
  MPI_Intercomm_merge(admitted, 1, &pair);
  MPI_Intercomm_create(MPI_COMM_SELF, 0, pair, 0, spawnpool::detail::wire::kAdmissionTag, &service);
  MPI_Comm_free(&pair);
  MPI_Comm_disconnect(&admitted);
  MPI_Comm_set_errhandler(service, MPI_ERRORS_RETURN);
  return service;
}

/// --stranger PORT: connects to an MPI port it was not told (rebuilt from what the host shows),
/// without the lobby and without the token, and says what MPI answered; the test ends it while it
/// waits (it then dies queued, as a hostile or killed stranger would).
int stranger(const char* port) {
  MPI_Comm service = MPI_COMM_NULL;
  MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
  std::printf("connecting\n");
  std::fflush(stdout);
  const int code = MPI_Comm_connect(port, MPI_INFO_NULL, 0, MPI_COMM_SELF, &service);
  std::printf("%s\n", code == MPI_SUCCESS ? "connected" : "refused");
  std::fflush(stdout);
  if (code == MPI_SUCCESS) std::this_thread::sleep_for(std::chrono::seconds(600));
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s PORT_FILE TOKEN_FILE [--admitted]\n", argv[0]);
    return 2;
  }
  std::string port, lobby, token;
  {
    std::ifstream port_file(argv[1]);
    std::getline(port_file, lobby);
    lobby = lobby.substr(lobby.find(' ') + 1);
    std::ifstream token_file(argv[2]);
    std::getline(token_file, token);
  }
  const std::string mode = argc > 3 ? argv[3] : "";
  if (mode == "--stranger" && argc > 4) {
    MPI_Init(&argc, &argv);
    return stranger(argv[4]);
  }
  const bool admitted_then_garbage = mode == "--admitted";
  const bool garbage_to_one = mode == "--garbage-to-one";
  const bool announce_then_hang = mode == "--announce-then-hang";
  const bool oversized = mode == "--oversized";
  const bool many_parts = mode == "--many-parts";
  const bool die_in_join = mode == "--die-in-join";
  const bool die_in_create = mode == "--die-in-create";
  const bool stop_in_join = mode == "--stop-in-join";
  const bool stop_in_merge = mode == "--stop-in-merge";
  const bool die_when_admitted = mode == "--die-when-admitted";
  MPI_Init(&argc, &argv);
  const int ticket = wait_for_turn(lobby, token, port);
  if (ticket < 0) {
    std::fprintf(stderr, "raw_service_client: the lobby %s did not let it in\n", lobby.c_str());
    return 1;
  }
  MPI_Comm service = MPI_COMM_NULL;
  MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
  // The lobby's protocol: rank 0 accepts once the client asked in says it connects now.
  if (write(ticket, "connecting\n", 11) != 11) return 1;
  if (MPI_Comm_connect(port.c_str(), MPI_INFO_NULL, 0, MPI_COMM_SELF, &service) != MPI_SUCCESS) {
    std::fprintf(stderr, "raw_service_client: cannot connect\n");
    return 1;
  }
  MPI_Comm_set_errhandler(service, MPI_ERRORS_RETURN);
  int ranks = 0;
  const char garbage[] = "GET / HTTP/1.0\r\n\r\n";
  if (admitted_then_garbage || garbage_to_one || announce_then_hang || oversized || many_parts ||
      die_in_join || die_in_create || stop_in_join || stop_in_merge || die_when_admitted) {
    MPI_Send(token.data(), static_cast<int>(token.size()), MPI_CHAR, 0,
             spawnpool::detail::wire::kAdmissionTag, service);
    const int answer = admission_answer(service);
    std::printf("admitted: %d\n", answer);
    std::fflush(stdout);
    if (answer != 1 || die_when_admitted) _exit(answer == 1 ? 0 : 1);
    if (die_in_join || die_in_create || stop_in_join || stop_in_merge) {
      MPI_Comm pair = MPI_COMM_NULL;
      if (!stop_in_merge) MPI_Intercomm_merge(service, 1, &pair);
      if (die_in_join) _exit(0);
      if (stop_in_join || stop_in_merge) {
        std::printf("stopping\n");
        std::fflush(stdout);
        ::raise(SIGSTOP);
        _exit(0);  // continued: the test is over with it
      }
      std::thread([] {
        std::this_thread::sleep_for(std::chrono::microseconds(300));
        _exit(0);
      }).detach();
      MPI_Comm_set_errhandler(pair, MPI_ERRORS_RETURN);
      MPI_Comm all_ranks = MPI_COMM_NULL;
      MPI_Intercomm_create(MPI_COMM_SELF, 0, pair, 0, spawnpool::detail::wire::kAdmissionTag,
                           &all_ranks);
      std::this_thread::sleep_for(std::chrono::seconds(600));  // not reached
      _exit(0);
    }
    service = join_every_rank(service);
  }
  MPI_Comm_remote_size(service, &ranks);
  if (oversized || many_parts) {
    spawnpool::detail::wire::Header announcement;
    announcement.kind = static_cast<std::uint16_t>(spawnpool::detail::wire::Kind::kTasks);
    announcement.count = 1;
    announcement.part_size = oversized ? 1u << 30 : 64;
    announcement.body_size = (oversized ? 16ull << 30 : 1ull << 30) - spawnpool::detail::wire::kHeaderSize;
    for (int r = 0; r < ranks; ++r) {
      MPI_Send(&announcement, sizeof announcement, MPI_BYTE, r,
               spawnpool::detail::wire::session_tag(0), service);
    }
  }
  if (garbage_to_one) {
    MPI_Send(garbage, sizeof garbage, MPI_CHAR, ranks - 1, spawnpool::detail::wire::session_tag(0),
             service);
  }
  if (garbage_to_one || oversized || many_parts) {
    spawnpool::detail::wire::Header heartbeat;
    heartbeat.kind = static_cast<std::uint16_t>(spawnpool::detail::wire::Kind::kHeartbeat);
    for (int beat = 0; beat < 120; ++beat) {
      for (int r = 0; r < ranks; ++r) {
        MPI_Request request = MPI_REQUEST_NULL;  // a rank that dropped it takes nothing more
        MPI_Isend(&heartbeat, sizeof heartbeat, MPI_BYTE, r, spawnpool::detail::wire::kControlTag,
                  service, &request);
        MPI_Request_free(&request);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    _exit(0);
  }
  if (announce_then_hang) {
    spawnpool::detail::wire::Header announcement;
    announcement.kind = static_cast<std::uint16_t>(spawnpool::detail::wire::Kind::kTasks);
    announcement.count = 1;
    announcement.part_size = 1u << 20;
    announcement.body_size = (1ull << 30) - spawnpool::detail::wire::kHeaderSize;
    for (int r = 0; r < ranks; ++r) {
      MPI_Send(&announcement, sizeof announcement, MPI_BYTE, r,
               spawnpool::detail::wire::session_tag(0), service);
    }
    std::printf("announced\n");
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(600));
    _exit(0);
  }
  if (admitted_then_garbage) {
    // A header of an unknown kind, in this build's protocol version.
    char header[spawnpool::detail::wire::kHeaderSize] = {};
    for (int r = 0; r < ranks; ++r) {
      MPI_Send(garbage, sizeof garbage, MPI_CHAR, r, 12345, service);
      MPI_Send(header, sizeof header, MPI_CHAR, r, spawnpool::detail::wire::session_tag(0), service);
    }
    std::this_thread::sleep_for(std::chrono::seconds(60));
    _exit(0);
  }
  for (int r = 0; r < ranks; ++r) {
    MPI_Send(garbage, sizeof garbage, MPI_CHAR, r, spawnpool::detail::wire::session_tag(0), service);
  }
  const int answer = admission_answer(service);
  if (answer < 0) {
    std::printf("no answer within 20 s\n");
    std::fflush(stdout);
    _exit(1);
  }
  std::printf("refused: %d\n", answer);
  std::fflush(stdout);
  _exit(answer == 0 ? 0 : 1);  // hostile to the end: no disconnect, no MPI_Finalize
}
