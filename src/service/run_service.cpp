// The pool service's side: open a port, make it findable, accept clients one after the other and
// serve each with every rank. See include/spawnpool/service.hpp.
#include <spawnpool/service.hpp>

#include "src/runtime_state.hpp"
#include "src/worker_loop.hpp"

#include <spawnpool/detail/mpi_call.hpp>
#include <spawnpool/errors.hpp>

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace spawnpool {

namespace {

void write_port_file(const std::string& path, const char* port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
    if (!out) throw Error("spawnpool service: cannot write the port file " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw Error("spawnpool service: cannot create the port file " + path + ": " +
                std::strerror(errno));
  }
}

}  // namespace

int run_service(const ServiceOptions& options) {
  if (options.port_file.empty() && options.name.empty()) {
    throw Error("spawnpool service: give a --port-file or a --name for clients to find it");
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
  char port[MPI_MAX_PORT_NAME] = {};
  bool published = false;
  if (rank == 0) {
    SPAWNPOOL_MPI(MPI_Open_port(MPI_INFO_NULL, port));
    if (!options.name.empty()) {
      published = MPI_Publish_name(options.name.c_str(), MPI_INFO_NULL, port) == MPI_SUCCESS;
      if (!published) {
        std::fprintf(stderr, "spawnpool service: no MPI name service to publish '%s' (start "
                             "hydra_nameserver and mpiexec -nameserver <host>); %s\n",
                     options.name.c_str(),
                     options.port_file.empty() ? "clients cannot find this service"
                                               : "clients can use the port file");
      }
    }
    if (!options.port_file.empty()) write_port_file(options.port_file, port);
    std::printf("spawnpool service: %d workers listening on %s\n", size, port);
    std::fflush(stdout);
  }
  SPAWNPOOL_MPI(MPI_Bcast(port, MPI_MAX_PORT_NAME, MPI_CHAR, 0, MPI_COMM_WORLD));

  int status = 0;
  for (int served = 0; options.max_clients == 0 || served < options.max_clients; ++served) {
    MPI_Comm client = MPI_COMM_NULL;
    SPAWNPOOL_MPI(MPI_Comm_accept(port, MPI_INFO_NULL, 0, MPI_COMM_WORLD, &client));
    MPI_Comm_set_errhandler(client, MPI_ERRORS_RETURN);
    const int result = detail::serve_as_worker(client, 0, detail::ServeUntil::kClientLeaves);
    if (result == 0) {
      MPI_Comm_disconnect(&client);
    } else {
      std::fprintf(stderr, "spawnpool service: rank %d lost its client\n", rank);
      MPI_Comm_free(&client);
      status = result;
    }
  }
  if (rank == 0) {
    if (published) MPI_Unpublish_name(options.name.c_str(), MPI_INFO_NULL, port);
    MPI_Close_port(port);
    if (!options.port_file.empty()) std::remove(options.port_file.c_str());
  }
  if (!initialized) MPI_Finalize();
  return status;
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
    } else {
      std::fprintf(stderr,
                   "usage: mpiexec -n N %s --port-file PATH [--name NAME] [--max-clients K]\n",
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
