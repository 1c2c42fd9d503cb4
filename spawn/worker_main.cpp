// The generic main() of a dedicated worker program: a lean executable that holds only the tasks
// linked into it and does nothing but serve them. Build one with the CMake function
// spawnpool_add_worker(<target> <task sources...>) and name it in the manager:
//
//   spawnpool::Executor pool(spawnpool::Options{}.worker_program("/path/to/my_worker"));
//
// Spawned by an Executor, the Runtime below serves the manager's tasks and ends the process; it never
// returns here. It returns only when someone started the program by hand: then this says what the
// program is for and exits with status 2.
#include <spawnpool/command.hpp>  // every worker program can run command tasks
#include <spawnpool/runtime.hpp>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  try {
    // No relaunch under mpiexec: a spawned worker was started by the launcher anyway, and one
    // started by hand only needs to say what it is.
    spawnpool::RuntimeOptions options;
    options.allow_relaunch = false;
    spawnpool::Runtime runtime(argc, argv, options);
    // Only reached when this process is not a spawned worker.
    if (runtime.world_rank() == 0) {
      const char* self = argc > 0 ? argv[0] : "this program";
      std::fprintf(stderr,
                   "%s is a spawnpool worker program: it is started by a spawnpool::Executor whose "
                   "Options::worker_program names it, and serves that manager's tasks. Run by "
                   "itself it does nothing. In the manager:\n"
                   "  spawnpool::Executor pool(spawnpool::Options{}.worker_program(\"%s\"));\n",
                   self, self);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argc > 0 ? argv[0] : "spawnpool worker", e.what());
    return 1;
  }
  return 2;
}
