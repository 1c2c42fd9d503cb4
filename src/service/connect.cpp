// The client's side of a pool service; see connect.hpp.
#include "connect.hpp"

#include "src/runtime_state.hpp"

#include <spawnpool/detail/mpi_call.hpp>
#include <spawnpool/detail/mpi_flavor.hpp>
#include <spawnpool/errors.hpp>

#include <fstream>
#include <future>
#include <memory>
#include <thread>

namespace spawnpool::detail {

namespace {

std::string resolve_port(const std::string& address) {
  if (address.rfind("file:", 0) == 0) {
    const std::string path = address.substr(5);
    std::ifstream in(path);
    std::string port;
    if (!in || !std::getline(in, port) || port.empty()) {
      throw SpawnError("spawnpool: no pool service: the port file '" + path +
                       "' does not exist or is empty; start one with `mpiexec -n N "
                       "<server program> --port-file " + path + "`");
    }
    return port;
  }
  if (address.find('$') != std::string::npos || address.find("port") != std::string::npos) {
    return address;  // an MPI port string
  }
  char port[MPI_MAX_PORT_NAME] = {};
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (MPI_Lookup_name(address.c_str(), MPI_INFO_NULL, port) != MPI_SUCCESS) {
    throw SpawnError("spawnpool: no pool service published under the name '" + address +
                     "' (is the MPI name service running, e.g. hydra_nameserver with mpiexec "
                     "-nameserver?); or connect with \"file:<port file>\"");
  }
  return port;
}

}  // namespace

MPI_Comm connect_to_service(const std::string& address, std::chrono::milliseconds timeout) {
  const std::string port = resolve_port(address);
  struct Outcome {
    int code = MPI_SUCCESS;
    MPI_Comm comm = MPI_COMM_NULL;
  };
  auto promise = std::make_shared<std::promise<Outcome>>();
  auto result = promise->get_future();
  std::thread([promise, port] {
    Outcome o;
    auto lock = mpi_lock();
    o.code = MPI_Comm_connect(port.c_str(), MPI_INFO_NULL, 0, MPI_COMM_SELF, &o.comm);
    if (o.code == MPI_SUCCESS) MPI_Comm_set_errhandler(o.comm, MPI_ERRORS_RETURN);
    promise->set_value(o);
  }).detach();
  if (result.wait_for(timeout) != std::future_status::ready) {
    runtime_state().mpi_stuck = true;
    throw SpawnError("spawnpool: the pool service at '" + address + "' did not accept within " +
                     std::to_string(timeout.count() / 1000) +
                     " s (it may be serving another client: clients are served one at a time)");
  }
  const Outcome o = result.get();
  if (o.code != MPI_SUCCESS) {
    throw SpawnError("spawnpool: cannot connect to the pool service at '" + address +
                     "': " + mpi_error_text(o.code) + " (is it still running?" +
                     kServiceConnectHint + ")");
  }
  return o.comm;
}

}  // namespace spawnpool::detail
