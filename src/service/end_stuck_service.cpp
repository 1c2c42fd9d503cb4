#include "end_stuck_service.hpp"

#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace spawnpool::detail {

void end_stuck_service(const std::string& why) noexcept {
  std::fprintf(stderr, "spawnpool service: %s: the service ends (MPI_Abort) so that the clients "
                       "after it do not wait for ever\n", why.c_str());
  std::fflush(stderr);
  // The launcher forwards a rank's stderr through a pipe it stops reading once MPI_Abort has it
  // kill the job: without this pause the message was lost at times (seen under AddressSanitizer).
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);  // MPI_Abort does not return; if it ever did, the service must still end
}

}  // namespace spawnpool::detail
