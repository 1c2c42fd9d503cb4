// service_client: uses a running pool service instead of starting workers, the way a long-lived
// application would. Start the service first (3 processes = 3 workers):
//
//   /opt/spawnpool/mpich-4.0.2-ch3/bin/mpiexec -n 3 ./build/examples/service_server --port-file /tmp/spawnpool.port &
//   ./build/examples/service_client file:/tmp/spawnpool.port
//
// The client submits tasks the service has, one it does not and the built-in command task (both
// refused with UnregisteredTask, the service keeps serving). It reads the service's token from
// <port file>.token (or SPAWNPOOL_SERVICE_TOKEN). When the client shuts down, the service stays up for the next one.
#include "service_tasks.hpp"

#include <spawnpool/command.hpp>

#include <unistd.h>

#include <cstdio>
#include <set>

/// A task only this client has: the service must refuse it.
int client_only(int x) { return x; }
SPAWNPOOL_TASK(client_only);

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  const std::string address = argc > 1 ? argv[1] : "file:/tmp/spawnpool.port";
  // --mark: this client's session sets an environment variable and a working directory; the
  // next client must not see them. --slow-map: a 20 s map of naps (the service test kills the
  // client during it: the service must drop it and serve the next client).
  const std::string option = argc > 2 ? argv[2] : "";
  const bool mark = option == "--mark";
  try {
    spawnpool::Options options = spawnpool::Options{}.connect(address);
    if (mark) options.env("SERVICE_CLIENT_MARK", "1").working_directory("/tmp");
    spawnpool::Executor pool(options);
    std::printf("connected to %d service workers\n", pool.num_workers());
    if (option == "--slow-map") {
      std::printf("slow map started in pid %ld\n", static_cast<long>(getpid()));
      std::fflush(stdout);
      long total = 0;
      for (int ms : pool.map(nap, std::vector<int>(200, 200))) total += ms;
      std::printf("slow map done: %ld\n", total);
      return 0;
    }
    std::printf("session: %s\n", pool.submit(session_view).get().c_str());

    std::vector<std::vector<double>> vectors;
    for (int i = 1; i <= 100; ++i) vectors.push_back({3.0 * i, 4.0 * i});
    double total = 0;
    for (double n : pool.map(norm, vectors)) total += n;
    std::printf("sum of norms: %.1f\n", total);  // 5 * (1 + ... + 100) = 25250

    std::set<std::string> ranks;
    for (int i = 0; i < 30; ++i) ranks.insert(pool.submit(served_by).get());
    std::printf("tasks ran on %zu service processes\n", ranks.size());

    try {
      pool.submit(client_only, 1).get();
    } catch (const spawnpool::UnregisteredTask& e) {
      std::printf("refused as expected: %s\n", e.what());
    }

    // The library's built-in command task is in every program, the service's too, but a service
    // offers it only when started with --allow-builtin-tasks.
    try {
      spawnpool::Command id;
      id.program = "id";
      const spawnpool::CommandResult r = pool.submit(spawnpool::run_command, id).get();
      std::printf("the service ran a command: %s", r.out.c_str());
    } catch (const spawnpool::UnregisteredTask& e) {
      std::printf("command refused as expected: %s\n", e.what());
    }
  } catch (const spawnpool::Error& e) {
    std::fprintf(stderr, "service_client: %s\n", e.what());
    return 1;
  }
  return 0;
}
