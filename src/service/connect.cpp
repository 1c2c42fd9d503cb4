// The client's side of a pool service; see connect.hpp.
#include "connect.hpp"

#include "join_ranks.hpp"
#include "lobby.hpp"
#include "service_token.hpp"

#include "src/runtime_state.hpp"

#include <spawnpool/detail/mpi_call.hpp>
#include <spawnpool/detail/mpi_flavor.hpp>
#include <spawnpool/detail/seconds_text.hpp>
#include <spawnpool/errors.hpp>

#include <fcntl.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <thread>

namespace spawnpool::detail {

namespace {

/// HOST:PORT of the lobby (lobby.hpp) of the service at `address`; the lobby tells the MPI port.
std::string resolve(const std::string& address) {
  if (address.rfind("file:", 0) == 0) {
    const std::string path = address.substr(5);
    std::ifstream in(path);
    std::string line, lobby;
    if (!in || !std::getline(in, line) || line.empty()) {
      throw SpawnError("spawnpool: no pool service: the port file '" + path +
                       "' does not exist or is empty; start one with `mpiexec -n N "
                       "<server program> --port-file " + path + "`");
    }
    const std::string prefix = kLobbyLinePrefix;
    do {
      if (line.rfind(prefix, 0) == 0) lobby = line.substr(prefix.size());
    } while (lobby.empty() && std::getline(in, line));
    if (lobby.empty()) {
      throw SpawnError("spawnpool: the port file '" + path + "' names no lobby (\"" + prefix +
                       "HOST:PORT\"): it was not written by a pool service of this version");
    }
    return lobby;
  }
  if (address.find('$') != std::string::npos || address.find("port#") != std::string::npos) {
    throw SpawnError("spawnpool: connect to a pool service with \"file:<its port file>\" or the "
                     "name it published, not an MPI port string: clients wait for their turn in "
                     "the service's lobby, whose address the port file and the name service hold");
  }
  char lobby[MPI_MAX_PORT_NAME] = {};
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (MPI_Lookup_name((address + kLobbyNameSuffix).c_str(), MPI_INFO_NULL, lobby) != MPI_SUCCESS) {
    throw SpawnError("spawnpool: no pool service published under the name '" + address +
                     "' (is the MPI name service running, e.g. hydra_nameserver with mpiexec "
                     "-nameserver?); or connect with \"file:<port file>\"");
  }
  return lobby;
}

/// Where the token of the service at `address` is kept: beside its port file, or under its name.
std::string token_file_for(const std::string& address) {
  if (address.rfind("file:", 0) == 0) return service_token_file(address.substr(5), "");
  return service_token_file("", address);
}

}  // namespace

MPI_Comm connect_to_service(const std::string& address, std::chrono::milliseconds timeout) {
  const std::string lobby = resolve(address);
  std::string token_source;
  const std::string token = client_token(token_file_for(address), token_source);
  // Wait for our turn outside MPI (MPI_Comm_connect would busy-poll meanwhile); the ticket stays
  // open until the connect below returned, so the lobby knows this client is still coming.
  const std::string service = "'" + address + "'";
  std::optional<LobbyTicket> ticket;
  try {
    ticket.emplace(wait_in_lobby(lobby, token, std::chrono::steady_clock::now() + timeout,
                                 service));
  } catch (const SpawnError& e) {
    const std::string what = e.what();
    if (what.find("refused the token") == std::string::npos) throw;
    throw SpawnError(what + " (" + token_source +
                     "; a service admits only clients that present the token it wrote to " +
                     token_file_for(address) + ")");
  }
  struct Outcome {
    int code = MPI_SUCCESS;
    MPI_Comm comm = MPI_COMM_NULL;
    std::string refusal;  // "" : admitted
  };
  auto promise = std::make_shared<std::promise<Outcome>>();
  auto result = promise->get_future();
  const std::chrono::milliseconds admission_limit = kAdmissionLimit + std::chrono::seconds(5);
  const std::string port = ticket->mpi_port;
  // The thread tells the lobby "connecting" once it holds the MPI lock, right before its connect
  // (rank 0 accepts only then); through a copy of the ticket's socket, as it may outlive the ticket.
  const int lobby_fd = ::fcntl(ticket->fd(), F_DUPFD_CLOEXEC, 0);
  if (lobby_fd < 0) {
    throw SpawnError("spawnpool: cannot connect to the pool service at '" + address + "': " +
                     std::strerror(errno));
  }
  // Set when this call has given up: a thread that gets the MPI lock only then does not connect
  // (a connection of a client given up on would be admitted in the next client's turn).
  auto abandoned = std::make_shared<std::atomic<bool>>(false);
  std::thread([promise, port, token, admission_limit, lobby_fd, abandoned] {
    Outcome o;
    auto lock = mpi_lock();
    {
      const LobbyTicket lobby(lobby_fd);  // closed at the end of this block
      if (abandoned->load()) {
        o.code = MPI_ERR_OTHER;
        promise->set_value(o);
        return;
      }
      lobby.say_connecting();
    }
    o.code = MPI_Comm_connect(port.c_str(), MPI_INFO_NULL, 0, MPI_COMM_SELF, &o.comm);
    if (o.code == MPI_SUCCESS) {
      MPI_Comm_set_errhandler(o.comm, MPI_ERRORS_RETURN);
      o.refusal = present_token(o.comm, token, admission_limit);
      if (o.refusal.empty()) {
        // Admitted by rank 0 alone: now every rank of the service joins (join_ranks.hpp).
        o.comm = join_client_to_service(o.comm);
        if (o.comm == MPI_COMM_NULL) o.refusal = "the service's ranks did not join this client";
      } else {
        // Disconnect (not free): the service's progress engine answers the close, and
        // MPI_Finalize does not wait for this connection later.
        MPI_Comm_disconnect(&o.comm);
      }
    }
    promise->set_value(o);
  }).detach();
  // Waits for the connect and admission, watching the lobby meanwhile: MPICH's connect does not
  // fail when the service ends (MPI_Abort, a crash) before accepting it.
  const auto give_up = std::chrono::steady_clock::now() + timeout + admission_limit;
  while (result.wait_for(std::chrono::milliseconds(250)) != std::future_status::ready) {
    if (const std::string why = ticket->why_never_met(); !why.empty()) {
      abandoned->store(true);
      runtime_state().mpi_stuck = true;
      throw SpawnError("spawnpool: the pool service at '" + address + "': " + why);
    }
    if (std::chrono::steady_clock::now() < give_up) continue;
    abandoned->store(true);
    runtime_state().mpi_stuck = true;
    throw SpawnError("spawnpool: the pool service at '" + address + "' asked this client in but did "
                     "not accept its MPI connection within " +
                     seconds_text(timeout + admission_limit) +
                     " (a rank of the service may be stuck or gone)");
  }
  const Outcome o = result.get();
  if (o.code != MPI_SUCCESS) {
    throw SpawnError("spawnpool: cannot connect to the pool service at '" + address +
                     "': " + mpi_error_text(o.code) + " (is it still running?" +
                     kServiceConnectHint + ")");
  }
  if (!o.refusal.empty()) {
    throw SpawnError("spawnpool: the pool service at '" + address + "' did not admit this client: " +
                     o.refusal + " (" + token_source +
                     "; a service admits only clients that present the token it wrote to " +
                     token_file_for(address) + ")");
  }
  return o.comm;
}

}  // namespace spawnpool::detail
