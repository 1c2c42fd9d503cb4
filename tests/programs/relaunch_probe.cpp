// Test program for spawn/relaunch: relaunches itself under mpiexec when started alone (as
// Runtime will), then reports what it sees and acts on its arguments. Run by test_relaunch.
//
// Prints, after MPI_Init:   world_size=N  relaunched=0|1  pm=0|1  args=<argv[1..] joined by '|'>
// From then on, SIGTERM prints "got signal 15" and exits with 143.
// Then, for each argument in order:
//   exit:N       MPI_Finalize, then exit with code N
//   echo-stdin   copy stdin to stdout until EOF
//   sleep:S      sleep S seconds
//   stderr:TEXT  write TEXT and a newline to stderr
// Other arguments are ignored. Exits with 0 after MPI_Finalize.
#include "spawn/relaunch.hpp"

#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>

#ifndef SPAWNPOOL_DEFAULT_MPIEXEC
#error "compile with -DSPAWNPOOL_DEFAULT_MPIEXEC=\"/path/to/mpiexec\""
#endif

namespace {

extern "C" void on_sigterm(int) {
  const char message[] = "got signal 15\n";
  (void)!::write(STDOUT_FILENO, message, sizeof message - 1);
  ::_exit(128 + SIGTERM);
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  namespace detail = spawnpool::detail;
  const detail::RelaunchDecision decision = detail::decide_relaunch(false);
  if (decision.relaunch) {
    try {
      return detail::relaunch_under_mpiexec(argc, argv, SPAWNPOOL_DEFAULT_MPIEXEC);
    } catch (const detail::RelaunchError& e) {
      std::cerr << e.what() << std::endl;
      return 1;
    }
  }

  MPI_Init(&argc, &argv);
  ::signal(SIGTERM, on_sigterm);
  int world_size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  const char* relaunched = std::getenv("SPAWNPOOL_RELAUNCHED");
  std::string joined;
  for (int i = 1; i < argc; ++i) joined += (i > 1 ? "|" : "") + std::string(argv[i]);
  std::cout << "world_size=" << world_size << "\n"
            << "relaunched=" << (relaunched != nullptr && std::string(relaunched) == "1") << "\n"
            << "pm=" << detail::started_by_process_manager() << "\n"
            << "args=" << joined << std::endl;

  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (starts_with(arg, "exit:")) {
      MPI_Finalize();
      return std::stoi(arg.substr(5));
    } else if (arg == "echo-stdin") {
      std::copy(std::istreambuf_iterator<char>(std::cin), {},
                std::ostreambuf_iterator<char>(std::cout));
      std::cout.flush();
    } else if (starts_with(arg, "sleep:")) {
      std::this_thread::sleep_for(std::chrono::seconds(std::stoi(arg.substr(6))));
    } else if (starts_with(arg, "stderr:")) {
      std::cerr << arg.substr(7) << std::endl;
    }
  }
  MPI_Finalize();
  return 0;
}
