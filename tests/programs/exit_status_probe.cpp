// A manager whose exit status test_exit_status checks. Started alone (it relaunches itself under
// mpiexec with MPICH). Acts on its arguments in order:
//   workers-die:N  a pool of N workers, each of which dies in a task (abort): N WorkerLost
//   return:N       return N from main        exit:N   std::exit(N)
//   raise:S        raise signal S            throw    throw out of main
//   kill           SIGKILL itself
// Exits with 0 when the arguments run out.
#include <spawnpool/spawnpool.hpp>

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

int die() {
  std::abort();
}
SPAWNPOOL_TASK(die);

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto colon = arg.find(':');
    const std::string verb = arg.substr(0, colon);
    const int number = colon == std::string::npos ? 0 : std::atoi(arg.c_str() + colon + 1);
    if (verb == "workers-die") {
      spawnpool::Executor pool(spawnpool::Options{}.max_workers(number));
      std::vector<spawnpool::Future<int>> deaths;
      for (int w = 0; w < number; ++w) deaths.push_back(pool.submit(die));
      int lost = 0;
      for (auto& f : deaths) {
        try {
          f.get();
        } catch (const spawnpool::WorkerLost&) {
          ++lost;
        }
      }
      std::printf("lost %d\n", lost);
      std::fflush(stdout);
    } else if (verb == "return") {
      return number;
    } else if (verb == "exit") {
      std::exit(number);
    } else if (verb == "raise") {
      raise(number);
    } else if (verb == "throw") {
      throw std::runtime_error("thrown out of main");
    } else if (verb == "kill") {
      kill(getpid(), SIGKILL);
    }
  }
  return 0;
}
