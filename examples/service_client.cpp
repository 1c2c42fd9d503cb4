// service_client: uses a running pool service instead of starting workers, the way a long-lived
// application would. Start the service first (3 processes = 3 workers):
//
//   /opt/spawnpool/mpich-4.0.2-ch3/bin/mpiexec -n 3 ./build/examples/service_server --port-file /tmp/spawnpool.port &
//   ./build/examples/service_client file:/tmp/spawnpool.port
//
// The client submits tasks the service has, and one it does not (refused with UnregisteredTask,
// the service keeps serving). When the client shuts down, the service stays up for the next one.
#include "service_tasks.hpp"

#include <cstdio>
#include <set>

/// A task only this client has: the service must refuse it.
int client_only(int x) { return x; }
SPAWNPOOL_TASK(client_only);

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  const std::string address = argc > 1 ? argv[1] : "file:/tmp/spawnpool.port";
  try {
    spawnpool::Executor pool(spawnpool::Options{}.connect(address));
    std::printf("connected to %d service workers\n", pool.num_workers());

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
  } catch (const spawnpool::Error& e) {
    std::fprintf(stderr, "service_client: %s\n", e.what());
    return 1;
  }
  return 0;
}
