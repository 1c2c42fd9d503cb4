// service_server: a pool service offering the tasks of service_tasks.hpp. Start it once; clients
// (examples/service_client.cpp) connect, use it, and leave; it then waits for the next client.
//
//   /opt/spawnpool/mpich-4.0.2-ch3/bin/mpiexec -n 3 ./build/examples/service_server --port-file /tmp/spawnpool.port [--max-clients K]
#include "service_tasks.hpp"

int main(int argc, char** argv) { return spawnpool::run_service(argc, argv); }
