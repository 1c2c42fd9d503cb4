#include "end_stuck_service.hpp"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>

namespace spawnpool::detail {

void end_stuck_service(const std::string& why) noexcept {
  std::fprintf(stderr, "spawnpool service: %s: the service ends (MPI_Abort) so that the clients "
                       "after it do not wait for ever\n", why.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);  // MPI_Abort does not return; if it ever did, the service must still end
}

}  // namespace spawnpool::detail
