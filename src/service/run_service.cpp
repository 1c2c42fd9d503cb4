// The pool service's side: open a port, make it findable, accept clients one after the other and
// serve each with every rank. See include/spawnpool/service.hpp.
#include <spawnpool/service.hpp>

#include "clean_session.hpp"
#include "client_drop_notice.hpp"
#include "end_stuck_service.hpp"
#include "join_deadline.hpp"
#include "join_ranks.hpp"
#include "lobby.hpp"
#include "service_token.hpp"
#include "spawn/launch.hpp"
#include "src/backoff.hpp"
#include "src/finalize_within.hpp"
#include "src/runtime_state.hpp"
#include "src/worker_loop.hpp"

#include <spawnpool/detail/mpi_call.hpp>
#include <spawnpool/detail/mpi_flavor.hpp>
#include <spawnpool/detail/seconds_text.hpp>
#include <spawnpool/errors.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cctype>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace spawnpool {

namespace {

/// The port file: the lobby's line, "lobby HOST:PORT" (lobby.hpp). Not the MPI port: the lobby
/// tells it only to clients that showed the token. The temporary file is made anew (O_EXCL: never
/// through a symlink someone else left at that name, in /tmp say, which would make the service
/// overwrite the file it points to).
std::string port_file_line(const std::string& lobby) { return detail::kLobbyLinePrefix + lobby; }

void write_port_file(const std::string& path, const std::string& lobby) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  const std::string text = port_file_line(lobby) + "\n";
  const bool written =
      fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (fd >= 0) ::close(fd);
  if (!written) {
    throw Error("spawnpool service: cannot write the port file " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw Error("spawnpool service: cannot create the port file " + path + ": " +
                std::strerror(errno));
  }
}

/// Line `line_number` (from 0) of `path`, or "" when it cannot be read.
std::string line_of(const std::string& path, int line_number) {
  std::ifstream in(path);
  std::string line;
  for (int i = 0; i <= line_number; ++i) {
    if (!std::getline(in, line)) return "";
  }
  return line;
}

/// Throws when `port_file` names the lobby of a service that is running: a second service would
/// take its clients' port file and token away (and remove them at exit).
void refuse_a_port_file_in_use(const std::string& port_file) {
  const std::string lobby_line = line_of(port_file, 0);
  const std::string prefix = detail::kLobbyLinePrefix;
  if (lobby_line.compare(0, prefix.size(), prefix) != 0) return;
  const std::string lobby = lobby_line.substr(prefix.size());
  if (detail::lobby_answers(lobby)) {
    throw Error("spawnpool service: the port file " + port_file +
                " belongs to a service that is running (its lobby " + lobby +
                " answers); give this service another --port-file");
  }
}

/// Waits for a nonblocking collective without busy-polling (MPICH's MPI_Wait would burn a core
/// for as long as the service is idle). Sleeps up to 0.1 s: a new client waits that much more.
void wait_quietly(MPI_Request& request) {
  detail::PollSettings settings = detail::PollSettings::from_environment();
  settings.max_sleep = std::max(settings.max_sleep, std::chrono::microseconds(100000));
  detail::Backoff backoff(settings);
  for (;;) {
    int done = 0;
    SPAWNPOOL_MPI(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) return;
    backoff.pause();
  }
}

/// Refused clients whose disconnect has not finished (see refuse_client).
std::atomic<int> g_refusing{0};

/// Receives and throws away what `client` sent and nobody read, until it has been quiet for
/// `quiet` (2 s at most): a message left queued would otherwise be matched by a later client's
/// session once MPI reuses the communicator's context id.
void drain_client(MPI_Comm client, std::chrono::milliseconds quiet) {
  using clock = std::chrono::steady_clock;
  const auto give_up = clock::now() + std::chrono::seconds(2);
  auto quiet_since = clock::now();
  while (clock::now() < give_up && clock::now() - quiet_since < quiet) {
    int waiting = 0;
    MPI_Status status{};
    if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, client, &waiting, &status) != MPI_SUCCESS) break;
    if (!waiting) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    char discarded = 0;  // a longer message is truncated, and consumed all the same
    MPI_Recv(&discarded, 1, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, client, MPI_STATUS_IGNORE);
    quiet_since = clock::now();
  }
}

/// Communicators of dropped clients, kept until the end (see drop_client).
std::vector<MPI_Comm> g_dropped_clients;
/// Refused clients disconnected side by side at most; more are kept like dropped clients.
constexpr int kMostRefusalsUnderway = 8;

/// Disconnects `comm` on a helper thread, so that a peer that never takes part in the disconnect
/// (Open MPI waits for both sides) cannot hold the caller. Counted with the refusals underway;
/// beyond kMostRefusalsUnderway the communicator is just kept.
void disconnect_in_background(MPI_Comm comm) {
  if (g_refusing.load() >= kMostRefusalsUnderway) {
    g_dropped_clients.push_back(comm);
    return;
  }
  ++g_refusing;
  std::thread([comm]() mutable {
    MPI_Comm_disconnect(&comm);
    --g_refusing;
  }).detach();
}

/// Ends a refused client's connection without trusting it: drains it, then (Open MPI: our own
/// client disconnects when refused, and waits for our side) disconnects on a helper thread, or
/// (MPICH: our client's disconnect needs only our progress engine) keeps the communicator like a
/// dropped client's. A thread left in MPICH's disconnect by a stranger that stays connected
/// polled a core for as long as the stranger lived. A peer that never disconnects leaves the
/// thread waiting (Open MPI), and its communicator is never freed (so its context id, and any
/// late message, is never reused). With kMostRefusalsUnderway threads waiting already, the
/// communicator is just kept.
void refuse_client(MPI_Comm client) {
  drain_client(client, std::chrono::milliseconds(200));
  if (detail::kDisconnectWaitsForThePeer) {
    disconnect_in_background(client);
  } else {
    g_dropped_clients.push_back(client);
  }
}

/// Turns MPI's progress engine once (rank 0 calls it every 0.1 s while it waits in the lobby).
/// No MPI port is open while rank 0 idles, and ch3 refuses a connection to a port that is not open
/// only when its progress engine sees it: one it saw later, once the next turn had opened a port
/// of the same name (tag#0), took that turn's accept, and a stranger that had connected to an idle
/// service and died left that accept waiting for ever.
void turn_mpi_progress() {
  int flag = 0;
  MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_SELF, &flag, MPI_STATUS_IGNORE);
}

/// Rank 0, while no client waits in the lobby: sleeps in the lobby's wait, turning MPI's progress
/// engine every 0.1 s.
void idle_until_a_client_queues(detail::Lobby& lobby) {
  while (!lobby.wait_for_a_queued_client(std::chrono::milliseconds(100))) turn_mpi_progress();
}

/// An admitted client, on rank 0: its 1-rank connection, and (MPICH) how to find the sockets MPI
/// accepted for it, which the join's deadline cuts if the client stalls the join
/// (join_deadline.hpp). Other ranks: none.
struct AdmittedClient {
  MPI_Comm comm = MPI_COMM_NULL;
  detail::ClientConnection connection;
};

/// Rank 0: the connections that reached the turn's MPI port, for the lobby's accept limit
/// (kLobbyAcceptLimit, lobby.hpp). An accept overdue after a connection reached the port is stuck
/// for good (it took that connection, whose peer never answered MPI's handshake); one overdue
/// with none still waits for a connect that never came (the client asked in cannot reach the
/// port, or lied), and the next client can meet it. The main thread sets the turn; the lobby's
/// thread asks when an accept is overdue.
class TurnConnections {
 public:
  /// A turn begins: its port and the sockets open before it.
  void begin(const detail::ClientConnection& turn) {
    std::lock_guard<std::mutex> lock(mutex_);
    turn_ = turn;
    reached_ = false;
  }
  /// Before each MPI_Comm_accept of the turn: notes a connection waiting already (one that dies
  /// later, while the accept waits for its answer, is no longer seen then).
  void accept_begins() {
    std::lock_guard<std::mutex> lock(mutex_);
    reached_ = detail::connections_since(turn_) > 0;
  }
  /// After a connection was refused (it is kept open, refuse_client): what is open now no longer
  /// counts as having reached the port.
  void refused() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (detail::kClosedConnectionFailsCalls) turn_.sockets_before = detail::open_socket_inodes();
  }
  /// Whether a connection reached the port for the accept under way (waiting when it began, or
  /// open now and not refused).
  /// Always false where the port shows no connections (Open MPI).
  bool reached() {
    std::lock_guard<std::mutex> lock(mutex_);
    return reached_ || detail::connections_since(turn_) > 0;
  }

 private:
  std::mutex mutex_;
  detail::ClientConnection turn_;
  bool reached_ = false;
};
TurnConnections g_turn_connections;

/// The lobby's call when an accept is overdue (Lobby::AcceptOverdue): ends the service when it is
/// stuck for good; returns when no connection reached the port.
void end_the_service_if_the_accept_is_stuck() {
  if (!g_turn_connections.reached()) return;
  detail::end_stuck_service(
      "MPI_Comm_accept has not met the client asked in " +
      detail::seconds_text(detail::kLobbyAcceptLimit) + " after it said it connects, and MPI "
      "cannot call an accept off (it took a connection to the port that stopped or died in the "
      "middle of MPI's handshake: a stranger's, or a client's)");
}

/// Rank 0, during a turn (its port open, a client asked in): accepts over MPI_COMM_SELF each time
/// the client asked in says it connects now, until a connection shows the token; returns that
/// client, or no client when nobody is asked in or queued any more (the client asked in left
/// before it connected: the caller closes the port and idles again). Waits for that word in the
/// lobby, turning MPI's progress engine every 0.1 s as idle_until_a_client_queues does: MPICH's
/// MPI_Comm_accept busy-polls, and an accept that no connect meets (the client asked in left or
/// hung) kept rank 0 busy until the next client came.
AdmittedClient accept_the_client_asked_in(detail::Lobby& lobby, const char* port,
                                          const std::string& token,
                                          std::set<unsigned long>& sockets_before) {
  for (;;) {
    const detail::Lobby::Door door = lobby.wait_at_door(std::chrono::milliseconds(100));
    if (door == detail::Lobby::Door::kEmpty) return {};
    if (door == detail::Lobby::Door::kWaiting) {
      turn_mpi_progress();
      continue;
    }
    MPI_Comm client = MPI_COMM_NULL;
    g_turn_connections.accept_begins();
    const int code = MPI_Comm_accept(port, MPI_INFO_NULL, 0, MPI_COMM_SELF, &client);
    lobby.accept_ended();
    if (code != MPI_SUCCESS) {
      std::fprintf(stderr, "spawnpool service: an MPI connection failed before it was accepted "
                           "(its process is gone); accepting the next\n");
      lobby.door_closed(false);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // never a fast loop
      continue;
    }
    MPI_Comm_set_errhandler(client, MPI_ERRORS_RETURN);
    // The client proves it may connect before any of its messages is read as work (also one that
    // skipped the lobby and connected while the door was open).
    const bool ok = detail::admit_client(client, token);
    lobby.door_closed(ok);
    if (ok) return {client, {std::move(sockets_before), port}};
    std::fprintf(stderr, "spawnpool service: refused a client without the right token\n");
    refuse_client(client);
    g_turn_connections.refused();
  }
}

/// Rank 0: once a client waits in the lobby (idle_until_a_client_queues), opens an MPI port for
/// this turn, has the lobby ask a client in (told that port), accepts it
/// (accept_the_client_asked_in), closes the port and returns that client; a turn whose client
/// left before it connected closes its port and the next turn starts like the first.
/// Alone, without any collective call, so that a failed accept (a stranger that connected and
/// died before its turn: MPICH's accept then fails, "Cannot issue acceptance packet") is retried
/// here, and a stranger's connection is refused here, while the other ranks wait quietly. The
/// port is closed between turns: a stranger that rebuilt the port string (it is reconstructible
/// under MPICH) and connects meanwhile is refused by MPI at once, and cannot queue for a later
/// turn.
AdmittedClient admit_next_client(detail::Lobby& lobby, const std::string& token) {
  for (;;) {
    idle_until_a_client_queues(lobby);
    char port[MPI_MAX_PORT_NAME] = {};
    SPAWNPOOL_MPI(MPI_Open_port(MPI_INFO_NULL, port));
    // The sockets open before the turn: the admitted client's connection is among those MPI
    // accepts after (see AdmittedClient).
    std::set<unsigned long> sockets_before;
    if (detail::kClosedConnectionFailsCalls) sockets_before = detail::open_socket_inodes();
    g_turn_connections.begin({sockets_before, port});
    lobby.open_door(port);
    AdmittedClient admitted = accept_the_client_asked_in(lobby, port, token, sockets_before);
    // Connections that came after the admitted one (strangers) are refused by MPI_Close_port.
    if (MPI_Close_port(port) != MPI_SUCCESS) {
      std::fprintf(stderr, "spawnpool service: MPI_Close_port failed (a connection queued on it is "
                           "gone); the next turn opens a new port\n");
    }
    if (admitted.comm != MPI_COMM_NULL) return admitted;
  }
}

/// Every rank calls this before the next client: it returns on all of them once rank 0 has
/// admitted a client (see admit_next_client), with that client on rank 0. Until then
/// the ranks other than 0 sleep in a quiet wait for rank 0's word, so an idle service costs almost
/// no CPU (rank 0 waits in the lobby's poll(), and calls MPI_Comm_accept, which MPICH busy-polls,
/// only once the client asked in says it connects).
AdmittedClient wait_for_next_client(int rank, detail::Lobby* lobby, const std::string& token) {
  MPI_Request request = MPI_REQUEST_NULL;
  // All ranks are done with the last client (one that dropped it early waits here).
  SPAWNPOOL_MPI(MPI_Ibarrier(MPI_COMM_WORLD, &request));
  wait_quietly(request);
  AdmittedClient admitted = rank == 0 ? admit_next_client(*lobby, token) : AdmittedClient{};
  int go = 1;
  SPAWNPOOL_MPI(MPI_Ibcast(&go, 1, MPI_INT, 0, MPI_COMM_WORLD, &request));
  wait_quietly(request);
  return admitted;
}

/// Ends an admitted client's connection after it was dropped (dead, silent or misbehaving):
/// drains it and keeps the communicator, neither disconnected nor freed, until the service ends.
/// Not MPI_Comm_disconnect: MPICH counts the close handshakes it waits for process-wide, so a
/// dropped client that never answers (stopped, or hostile) would block every later client's
/// disconnect. Not MPI_Comm_free: Open MPI then reuses its context id for the next client, and
/// what a dropped client that is still alive goes on sending (heartbeats, garbage) reached the
/// next client's session and wedged it. The connection is closed at MPI_Finalize (see
/// finalize_within); a service keeps one communicator per dropped client.
void drop_client(MPI_Comm client) {
  drain_client(client, std::chrono::milliseconds(200));
  g_dropped_clients.push_back(client);
}

/// "4096", "512K", "64M", "4G" (1024s) into `bytes`; false for anything else.
bool parse_byte_count(const std::string& text, std::uint64_t& bytes) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15) return false;
  const std::string suffix = text.substr(digits);
  int shift = 0;
  if (suffix == "K" || suffix == "k") {
    shift = 10;
  } else if (suffix == "M" || suffix == "m") {
    shift = 20;
  } else if (suffix == "G" || suffix == "g") {
    shift = 30;
  } else if (!suffix.empty()) {
    return false;
  }
  const std::uint64_t count = std::stoull(text.substr(0, digits));
  if (count > (UINT64_MAX >> shift)) return false;
  bytes = count << shift;
  return true;
}

}  // namespace

int run_service(const ServiceOptions& options) {
  if (options.port_file.empty() && options.name.empty()) {
    throw Error("spawnpool service: give a --port-file or a --name for clients to find it");
  }
  if (options.client_timeout < ServiceOptions::kMinClientTimeout ||
      options.client_timeout > ServiceOptions::kMaxClientTimeout) {
    // Shorter drops clients between their heartbeats, and cuts every join (join_deadline.hpp);
    // far longer overflows the deadlines made from it.
    throw Error("spawnpool service: client_timeout must be from " +
                detail::seconds_text(ServiceOptions::kMinClientTimeout) + " to " +
                detail::seconds_text(ServiceOptions::kMaxClientTimeout) +
                " (clients send a heartbeat every second), not " +
                detail::seconds_text(options.client_timeout));
  }
  int initialized = 0;
  MPI_Initialized(&initialized);
  int provided = MPI_THREAD_SINGLE;
  if (!initialized) {
    SPAWNPOOL_MPI(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
  } else {
    SPAWNPOOL_MPI(MPI_Query_thread(&provided));
  }
  detail::RuntimeState& state = detail::runtime_state();
  state.thread_level = provided;
  char exe[PATH_MAX];
  const ssize_t length = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (length > 0) state.program.assign(exe, static_cast<std::size_t>(length));
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);

  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  bool published = false;
  std::string token;
  std::unique_ptr<detail::Lobby> lobby;  // rank 0 only
  const std::string token_file = detail::service_token_file(options.port_file, options.name);
  if (rank == 0) {
    if (!options.port_file.empty()) refuse_a_port_file_in_use(options.port_file);
    // A port only to learn which address MPI would tell clients (the lobby's host); each turn
    // opens its own (admit_next_client).
    char probe_port[MPI_MAX_PORT_NAME] = {};
    SPAWNPOOL_MPI(MPI_Open_port(MPI_INFO_NULL, probe_port));
    const std::string host = detail::lobby_host_from(probe_port);
    MPI_Close_port(probe_port);
    token = detail::make_service_token();
    detail::write_service_token(token_file, token);  // before clients can find the port
    // An accept taken up for good by a stranger's connection ends the service (lobby.hpp).
    lobby = std::make_unique<detail::Lobby>(token, host, end_the_service_if_the_accept_is_stuck);
    if (!options.name.empty()) {
      // Only the lobby: the MPI port is for clients with the token (lobby.hpp).
      const std::string lobby_name = options.name + detail::kLobbyNameSuffix;
      published = MPI_Publish_name(lobby_name.c_str(), MPI_INFO_NULL,
                                   lobby->address().c_str()) == MPI_SUCCESS;
      if (!published) {
        std::fprintf(stderr, "spawnpool service: no MPI name service to publish '%s' (start "
                             "hydra_nameserver and mpiexec -nameserver <host>); %s\n",
                     options.name.c_str(),
                     options.port_file.empty() ? "clients cannot find this service"
                                               : "clients can use the port file");
      }
    }
    if (!options.port_file.empty()) write_port_file(options.port_file, lobby->address());
    std::printf("spawnpool service: %d workers, lobby %s (token in %s%s)\n", size,
                lobby->address().c_str(), token_file.c_str(),
                options.allow_builtin_tasks ? "; built-in tasks offered" : "");
    std::fflush(stdout);
  }
  detail::set_builtin_tasks_allowed(options.allow_builtin_tasks);

  detail::set_client_silence_limit(options.client_timeout);
  detail::set_client_message_limit(options.max_message_size);
  const detail::ServiceProcessState clean_state;  // what every client starts from
  auto drop_notice = std::make_unique<detail::ClientDropNotice>();  // collective; freed before MPI_Finalize
  // Collective; freed before MPI_Finalize. A client stopped or hung in the join has its
  // connection cut after the client timeout, which fails the join as if it had died; a join
  // that even so does not end ends the service (join_deadline.hpp).
  auto rank_join = std::make_unique<detail::RankJoin>(options.client_timeout);
  for (int served = 0; options.max_clients == 0 || served < options.max_clients;) {
    AdmittedClient admitted = wait_for_next_client(rank, lobby.get(), token);
    MPI_Comm client = rank_join->join(admitted.comm, std::move(admitted.connection), served);
    if (rank == 0) disconnect_in_background(admitted.comm);  // the client disconnects it after joining
    if (client == MPI_COMM_NULL) {
      std::fprintf(stderr, "spawnpool service: rank %d lost an admitted client while its ranks "
                           "joined it\n", rank);
      continue;
    }
    ++served;
    detail::set_client_dropped_elsewhere([notice = drop_notice.get(), served] { return notice->heard(served); });
    const int result = detail::serve_as_worker(client, 0, detail::ServeUntil::kClientLeaves);
    detail::set_client_dropped_elsewhere({});
    if (result != 0) drop_notice->announce(served);
    clean_state.restore();
    if (result == 0) {
      drain_client(client, std::chrono::milliseconds(20));  // its last heartbeats
      MPI_Comm_disconnect(&client);
    } else {
      // Dead, silent or misbehaving: a client does not decide the service's exit status.
      std::fprintf(stderr, "spawnpool service: rank %d dropped its client%s\n", rank,
                   result == detail::kClientDropped ? "" : " after an error");
      drop_client(client);
    }
  }
  if (rank == 0) {
    const std::string lobby_line = port_file_line(lobby->address());
    if (published) {
      MPI_Unpublish_name((options.name + detail::kLobbyNameSuffix).c_str(), MPI_INFO_NULL,
                         lobby->address().c_str());
    }
    lobby.reset();  // queued clients hear that the service ended
    // Only this service's files: another may have taken the names since.
    if (!options.port_file.empty() && line_of(options.port_file, 0) == lobby_line) {
      std::remove(options.port_file.c_str());
    }
    if (line_of(token_file, 0) == token) std::remove(token_file.c_str());
  }
  drop_notice.reset();
  rank_join.reset();
  if (!initialized) {
    // Refused clients' disconnects get 2 s to end. MPI_Finalize is bounded whatever happened: a
    // refused client that never disconnected, a dropped one, or one that stopped without being
    // dropped would keep it waiting for ever.
    for (int i = 0; i < 200 && g_refusing.load() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    detail::finalize_within(std::chrono::seconds(5), 0,
                            "spawnpool service: MPI_Finalize waits for a client that did not take "
                            "part in closing its connection; leaving without it");
  }
  return 0;
}

int run_service(int argc, char** argv) {
  ServiceOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--port-file" && has_value) {
      options.port_file = argv[++i];
    } else if (arg == "--name" && has_value) {
      options.name = argv[++i];
    } else if (arg == "--max-clients" && has_value) {
      options.max_clients = std::atoi(argv[++i]);
    } else if (arg == "--max-message-size" && has_value) {
      if (!parse_byte_count(argv[++i], options.max_message_size)) {
        std::fprintf(stderr, "%s: --max-message-size wants a number of bytes (a K, M or G suffix "
                             "counts 1024s), not '%s'\n", argv[0], argv[i]);
        return 2;
      }
    } else if (arg == "--allow-builtin-tasks") {
      options.allow_builtin_tasks = true;
    } else if (arg == "--client-timeout" && has_value) {
      const char* text = argv[++i];
      char* end = nullptr;
      const double seconds = std::strtod(text, &end);
      const double least = std::chrono::duration<double>(ServiceOptions::kMinClientTimeout).count();
      const double most = std::chrono::duration<double>(ServiceOptions::kMaxClientTimeout).count();
      if (end == text || *end != '\0' || !(seconds >= least && seconds <= most)) {
        std::fprintf(stderr, "%s: --client-timeout wants a number of seconds from %g to %.0f "
                             "(clients send a heartbeat every second), not '%s'\n",
                     argv[0], least, most, text);
        return 2;
      }
      options.client_timeout = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    } else {
      std::fprintf(stderr,
                   "usage: mpiexec -n N %s --port-file PATH [--name NAME] [--max-clients K] "
                   "[--client-timeout SECONDS] [--max-message-size BYTES] "
                   "[--allow-builtin-tasks]\n",
                   argv[0]);
      return 2;
    }
  }
  try {
    return run_service(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}

}  // namespace spawnpool
