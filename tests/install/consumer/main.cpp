// Uses an installed spawnpool: a dedicated worker program built with spawnpool_add_worker, and the
// installed generic worker program for a command task. Prints "consumer: ok" when all is right.
#include "tasks.hpp"

#include <spawnpool/spawnpool.hpp>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  int failures = 0;
  // The installed, generated version.hpp and the installed library agree.
  std::printf("consumer: spawnpool %s (headers %s)\n", spawnpool::version(),
              SPAWNPOOL_VERSION_STRING);
  failures += std::strcmp(spawnpool::version(), SPAWNPOOL_VERSION_STRING) != 0;
  {
    spawnpool::Executor pool(spawnpool::Options{}.max_workers(2).worker_program(CONSUMER_WORKER));
    const int x = pool.submit(triple, 14).get();
    const std::string g = pool.submit(greet, std::string("installed world")).get();
    std::printf("consumer: triple(14) = %d, greet = %s\n", x, g.c_str());
    failures += x != 42;
    failures += g != "hello installed world";
  }
  {
    spawnpool::Executor pool(spawnpool::Options{}.max_workers(1).worker_program(GENERIC_WORKER));
    spawnpool::Command cmd;
    cmd.program = "echo";
    cmd.args = {"command", "ran"};
    const spawnpool::CommandResult r = pool.submit(spawnpool::run_command, cmd).get();
    std::printf("consumer: command said: %s", r.out.c_str());
    failures += r.out != "command ran\n";
  }
  std::printf("consumer: %s\n", failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
