#pragma once
// The pool service's lobby: where clients wait for their turn, outside MPI.
//
// MPICH's MPI_Comm_accept and MPI_Comm_connect busy-poll: a service waiting in accept burns a core
// per rank, and a client queued behind another in its connect most of one. So rank 0 of the
// service also listens on a TCP port of its own (the lobby; its address is the port file's only
// line, "lobby HOST:PORT", or published under "<name>.lobby"). A client connects there and says
//     spawnpool-lobby 3 <token>\n
// The lobby answers "refused\n" (wrong token) and closes, or "queued <clients ahead>\n"; when the
// client's turn comes, rank 0 opens an MPI port for that turn and the lobby says "enter <MPI
// port>\n". The client answers "connecting\n" just before its MPI_Comm_connect to that port, and
// only then does rank 0 call MPI_Comm_accept (alone, join_ranks.hpp), which meets that connect at
// once; once rank 0 has admitted the client the lobby says "admitted\n" and closes (a close
// without it tells the client waiting in its connect that the service is gone). Both sides wait in poll() until then: no CPU, also when a client asked in leaves or hangs
// before it connects (rank 0 was left busy in an accept nobody would meet, until the next client).
// A greeting of another protocol version ("spawnpool-lobby <n> ...") is answered "version 3\n"
// and closed.
// The MPI port is told only to clients that showed the token (it is in no file and no name
// service), and it is open only during a turn (from "enter" until a client is admitted, or until
// nobody is asked in or queued while rank 0 is not in an accept): MPI has no access control of its own,
// and under MPICH the port string can be rebuilt by anyone on the host (its TCP port shows in
// ss -ltn). A stranger that connects while no port is open is refused by MPI at once; one that
// connects while a client is asked in costs rank 0 one accept (and up to the admission limit,
// 5 s, if it stays silent).
// A client that leaves the queue (its socket closes) is forgotten; one asked in that leaves before
// it says "connecting" is replaced by the next in the queue, or, with nobody queued, the turn's
// port is closed again. One that leaves after (its connect failed at once, or it was killed)
// leaves rank 0 in an accept that only the next client's connect ends (busy under MPICH). A client of a service that has ended finds nobody listening and fails at once; the
// ending service tells every queued client so.
//
// The lobby is not a security boundary by itself: it admits to the queue only clients that show
// the token, and the MPI-level admission (service_token.hpp) still checks every connection,
// including one that skipped the lobby.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace spawnpool::detail {

/// The first word of a port file's lobby line, and the suffix of a published lobby name.
inline constexpr const char* kLobbyLinePrefix = "lobby ";
inline constexpr const char* kLobbyNameSuffix = ".lobby";
/// How long the lobby waits for a new client's greeting line.
inline constexpr std::chrono::seconds kLobbyGreetingLimit{5};
/// How long a client asked in may take to say "connecting" before the lobby gives up on it
/// ("late\n") and asks in the next one (a client stopped or hung right after "enter" held every
/// later client back for as long as it lived).
inline constexpr std::chrono::seconds kLobbyAskedInLimit{15};
/// How long rank 0's MPI_Comm_accept may go on after the client asked in said "connecting" (or
/// after the accept began, if later) while that client is still there.
/// A real connect meets the accept within milliseconds. Past this limit the accept is overdue:
/// either no connection reached the port (the client cannot reach it, or said "connecting" and did
/// not connect: it is given up on and the next is asked in, to the same accept), or the accept is
/// stuck for good (MPICH ch3: it took a connection that stopped or died in MPI's handshake, a
/// stranger's, and waits for its answer for ever, no error), and the service ends (see Lobby).
/// Longer than the MPI admission limit (5 s).
inline constexpr std::chrono::seconds kLobbyAcceptLimit{15};
/// Clients that showed the token the lobby holds at once (queued or asked in); more are turned
/// away ("full").
inline constexpr std::size_t kLobbyCapacity = 128;
/// Connections that have not shown the token yet the lobby holds at once; a newcomer beyond them
/// closes the oldest (so a flood of silent connections cannot lock out clients with the token).
inline constexpr std::size_t kLobbyStrangerCapacity = 32;

/// Service side, rank 0 only. Listens on every interface on a free port from construction and
/// serves the queue from a thread of its own (which calls MPI only through AcceptOverdue).
/// open_door, wait_at_door, accept_ended and door_closed are called by one thread, the service's
/// main loop.
class Lobby {
 public:
  /// Called on the lobby's thread when an accept is overdue (kLobbyAcceptLimit). It ends the
  /// process when the accept is stuck for good (MPI cannot call an accept off); when it returns,
  /// the client asked in is given up on and the next one asked in.
  using AcceptOverdue = std::function<void()>;

  /// Starts listening. `host` is what clients are told to connect to.
  /// @throws Error when no socket can be made
  Lobby(std::string token, std::string host, AcceptOverdue accept_overdue);
  /// Tells every waiting client the service has ended ("closed\n"), then closes everything.
  ~Lobby();
  Lobby(const Lobby&) = delete;
  Lobby& operator=(const Lobby&) = delete;

  /// "HOST:PORT", for the port file and the name service.
  std::string address() const;

  /// Waits (without CPU) up to `limit` for a client that showed the token to wait in the queue
  /// (or to have been asked in already); true when one does. The caller opens the turn's MPI
  /// port only then, so that no port is open while the service idles.
  bool wait_for_a_queued_client(std::chrono::milliseconds limit);

  /// Starts a turn: the first queued client is asked in, told `mpi_port` (the port the caller
  /// opened for this turn); clients asked in later in the same turn (the one asked in gave up, or
  /// left) are told the same port. Does not wait.
  void open_door(const std::string& mpi_port);

  /// What wait_at_door saw.
  enum class Door {
    kComing,   ///< the client asked in said "connecting": call MPI_Comm_accept now
    kEmpty,    ///< nobody asked in and nobody queued: the turn is over (the door is shut), close
               ///< the port; a client that queues later starts a new turn
    kWaiting,  ///< `limit` passed: a client is queued or asked in, and has not said "connecting"
  };
  /// Waits (without CPU) up to `limit` for the client asked in to say it connects now. kComing
  /// starts the accept's clock (kLobbyAcceptLimit), which accept_ended stops.
  Door wait_at_door(std::chrono::milliseconds limit);

  /// Right after each MPI_Comm_accept returned (or failed): stops the accept's clock (the
  /// admission that follows has its own limit).
  void accept_ended();

  /// After each accept of the turn and its admission. `admitted`: a client came in, so the one asked in is forgotten
  /// (its socket closed) and the turn ends; otherwise (a stranger, or a failed accept) it stays
  /// asked in (and, if it said "connecting", coming) for the next accept on the same port.
  void door_closed(bool admitted);

 private:
  enum class Stage { kGreeting, kQueued, kAskedIn };
  struct Guest {
    int fd = -1;
    Stage stage = Stage::kGreeting;
    std::string greeting;       // what it said so far (its greeting, or "connecting" once asked in)
    bool connecting = false;    // asked in, and said "connecting"
    std::chrono::steady_clock::time_point connecting_since;
    std::chrono::steady_clock::time_point greeting_deadline;
    std::chrono::steady_clock::time_point asked_in_deadline;
  };

  void serve();                      // the lobby thread
  void take_newcomers();             // accept() on the listener
  bool hear(Guest& guest);           // reads from a guest; false: it is gone or turned away
  void ask_in_if_wanted();           // under mutex_
  void give_up_on_the_client_connecting();  // its accept is overdue
  /// Under mutex_: when the accept under way will be stuck for good if it has not ended, or
  /// time_point::max() (no accept, or nobody it is meant for).
  std::chrono::steady_clock::time_point accept_deadline() const;
  void wake();

  std::string token_;
  std::string host_;
  std::string mpi_port_;
  int listener_ = -1;
  int port_ = 0;
  int wake_pipe_[2] = {-1, -1};
  std::mutex mutex_;
  std::condition_variable coming_;  // notified when a client asked in says "connecting" or leaves
  std::condition_variable queued_;  // notified after every round of the lobby thread
  std::vector<Guest> guests_;  // in arrival order
  bool door_wanted_ = false;
  bool accepting_ = false;  // from wait_at_door's kComing to door_closed
  std::chrono::steady_clock::time_point accept_began_;
  AcceptOverdue accept_overdue_;
  bool stopping_ = false;
  std::thread thread_;
};

/// Client side: an open lobby connection after "enter", with the MPI port the lobby told; keep it
/// until MPI_Comm_connect returned (closing it earlier tells the lobby this client left), call
/// say_connecting() just before that connect, and why_never_met() while waiting for it.
class LobbyTicket {
 public:
  explicit LobbyTicket(int fd) : fd_(fd) {}
  ~LobbyTicket();
  LobbyTicket(LobbyTicket&& other) noexcept
      : fd_(other.fd_), heard_(std::move(other.heard_)), admitted_(other.admitted_),
        mpi_port(std::move(other.mpi_port)) {
    other.fd_ = -1;
  }
  LobbyTicket(const LobbyTicket&) = delete;
  LobbyTicket& operator=(const LobbyTicket&) = delete;
  LobbyTicket& operator=(LobbyTicket&&) = delete;
  int fd() const { return fd_; }
  /// Tells the lobby this client calls MPI_Comm_connect now (rank 0 accepts only then). Never
  /// throws: a lobby gone meanwhile is seen by why_never_met().
  void say_connecting() const;
  /// While the MPI connect and admission run: why this client's connect will never be met, or ""
  /// (so far so good). Not "" when the lobby closed this connection before it said "admitted"
  /// (rank 0 took this client in): the service ended (MPICH's connect does not fail then; it
  /// waits for its own timeout, 180 s), or it said "unreachable" first (no connection of this
  /// client reached the service's MPI port in time). Does not wait; never throws.
  std::string why_never_met();

 private:
  int fd_;
  std::string heard_;
  bool admitted_ = false;

 public:
  /// The service's MPI port, to MPI_Comm_connect to now.
  std::string mpi_port;
};

/// Client side: connects to the lobby at `address` ("HOST:PORT"), shows `token`, and waits
/// (without CPU) until asked in (the ticket then holds the MPI port) or until `deadline`.
/// `service` names the service in messages.
/// @throws SpawnError, saying why: nothing listens there (the service has ended), the host does
/// not answer (5 s), the token was refused, the service ended while this client waited, or the
/// deadline passed in the queue (with how many clients were ahead)
LobbyTicket wait_in_lobby(const std::string& address, const std::string& token,
                          std::chrono::steady_clock::time_point deadline,
                          const std::string& service);

/// True when something accepts a TCP connection at `address` ("HOST:PORT") within a second: the
/// lobby of a service that is running. Never throws.
bool lobby_answers(const std::string& address);

/// The host clients should use to reach this process: the address MPICH put in `mpi_port`
/// ("...$ifname#10.0.0.1$"), else this host's name.
std::string lobby_host_from(const std::string& mpi_port);

}  // namespace spawnpool::detail
