#include "task_mpi_finalize.hpp"

#include "rank_group.hpp"
#include "worker_loop.hpp"
#include "worker_sentinel.hpp"

#include <mpi.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace spawnpool::detail {

namespace {

int on_finalize(MPI_Comm, int, void*, void*) {
  if (is_follower_running_task()) follower_task_ends_group("called MPI_Finalize", 1);
  std::string task;
  if (running_task(&task)) {
    const bool reported = report_worker_end(LossReport::Cause::kMpiFinalize, 0);
    if (!reported) {
      std::fprintf(stderr, "spawnpool: task \"%s\" called MPI_Finalize on pid %ld: the worker ends\n",
                   task.c_str(), static_cast<long>(getpid()));
    }
    std::fflush(nullptr);
    _exit(reported ? status_after_report(1) : 1);
  }
  return MPI_SUCCESS;
}

}  // namespace

void end_worker_when_a_task_finalizes_mpi() noexcept {
  static bool armed = false;
  if (armed) return;
  int key = MPI_KEYVAL_INVALID;
  if (MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, on_finalize, &key, nullptr) != MPI_SUCCESS) return;
  if (MPI_Comm_set_attr(MPI_COMM_SELF, key, nullptr) == MPI_SUCCESS) armed = true;
}

}  // namespace spawnpool::detail
