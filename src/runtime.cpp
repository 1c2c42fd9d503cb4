#include <spawnpool/runtime.hpp>

#include <spawnpool/detail/mpi_call.hpp>
#include <spawnpool/detail/mpi_flavor.hpp>
#include <spawnpool/detail/registry.hpp>
#include <spawnpool/detail/seconds_text.hpp>

#include "environment.hpp"
#include "finalize_within.hpp"
#include "log.hpp"
#include "pool_core.hpp"
#include "runtime_state.hpp"
#include "static_rank_end.hpp"
#include "spawn/group_reaper.hpp"
#include "spawn/launch.hpp"
#include "rank_group.hpp"
#include "worker_loop.hpp"

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <set>

#ifndef SPAWNPOOL_DEFAULT_MPIEXEC
#define SPAWNPOOL_DEFAULT_MPIEXEC "mpiexec"
#endif

namespace spawnpool {

namespace {

/// How long a spawned worker's MPI_Finalize may take: it waits for every process it is still
/// connected to (its group's other ranks), and one killed or stopped would keep it for ever.
constexpr std::chrono::milliseconds kWorkerFinalizeLimit{5000};

/// The mode asked for by SPAWNPOOL_MODE, if any.
std::optional<Mode> requested_mode() {
  const auto value = detail::env_string("SPAWNPOOL_MODE");
  if (!value || *value == "auto") return std::nullopt;
  if (*value == "spawn") return Mode::spawn;
  if (*value == "static") return Mode::static_world;
  throw ConfigError("spawnpool: SPAWNPOOL_MODE='" + *value +
                    "' is invalid: expected spawn, static or auto; unset it for the default");
}

std::string own_executable(const char* argv0) {
  char path[PATH_MAX];
  const ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
  if (length <= 0) return argv0 ? argv0 : "";
  return std::string(path, static_cast<std::size_t>(length));
}

}  // namespace

const char* to_string(Mode mode) noexcept {
  switch (mode) {
    case Mode::spawn:
      return "spawn";
    case Mode::static_world:
      return "static";
    case Mode::communicator:
      return "communicator";
    case Mode::service:
      return "service";
  }
  return "unknown";
}

Runtime::Runtime(int& argc, char**& argv, RuntimeOptions options) {
  detail::RuntimeState& state = detail::runtime_state();
  if (state.active) throw Error("spawnpool::Runtime: only one Runtime may exist at a time");
  if (const std::string conflicts = detail::registry_conflicts(); !conflicts.empty()) {
    throw Error("spawnpool: " + conflicts);
  }

  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    // What this MPI's launcher must see before MPI_Init or a relaunch (Open MPI: keep a job whose
    // worker died); left alone when set already. See kEnvironmentBeforeInit.
    for (const detail::NameValue& variable : detail::kEnvironmentBeforeInit) {
      setenv(variable.name, variable.value, 0);
    }
  }
  if (!initialized && options.allow_relaunch) {
    const auto decision = detail::decide_relaunch(detail::kCanSpawnFromSingleton);
    if (decision.relaunch) {
      std::fflush(nullptr);
      std::exit(detail::relaunch_under_mpiexec(argc, argv, SPAWNPOOL_DEFAULT_MPIEXEC));
    }
    state.cannot_spawn_reason.clear();
    if (!detail::kCanSpawnFromSingleton && !detail::started_by_process_manager()) {
      state.cannot_spawn_reason = decision.reason;
    }
  } else if (!detail::kCanSpawnFromSingleton && !detail::started_by_process_manager()) {
    state.cannot_spawn_reason =
        initialized ? "MPI was initialised before the Runtime, in a program started without mpiexec"
                    : "RuntimeOptions::allow_relaunch is false";
  } else {
    state.cannot_spawn_reason.clear();
  }

  int provided = MPI_THREAD_SINGLE;
  if (!initialized) {
    detail::start_group_reaper();    // a member of a k-rank group spawned under hydra
    detail::start_launcher_guard();  // a worker spawned under hydra: before MPI_Init
    SPAWNPOOL_MPI(MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided));
    state.initialized_mpi = true;
  } else {
    SPAWNPOOL_MPI(MPI_Query_thread(&provided));
  }
  state.thread_level = provided;
  if (provided < MPI_THREAD_SERIALIZED) {
    throw Error("spawnpool::Runtime: the MPI library gives only thread level " +
                std::to_string(provided) +
                "; spawnpool needs MPI_THREAD_SERIALIZED or better (initialize MPI with "
                "MPI_Init_thread(..., MPI_THREAD_MULTIPLE, ...) before creating the Runtime)");
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
  state.program = own_executable(argc > 0 ? argv[0] : nullptr);
  state.args.assign(argv + (argc > 0 ? 1 : 0), argv + argc);

  MPI_Comm parent = MPI_COMM_NULL;
  SPAWNPOOL_MPI(MPI_Comm_get_parent(&parent));
  if (parent != MPI_COMM_NULL) {
    // A spawned worker: serve, leave, and never return into the user's main().
    MPI_Comm_set_errhandler(parent, MPI_ERRORS_RETURN);
    // One of a group spawned together for k-rank tasks (rank_group.hpp): rank 0 serves the
    // manager, the others serve rank 0.
    const int group_rank = world_size() > 1 ? detail::join_rank_group() : 0;
    int status = 0;
    if (group_rank == 0) {
      status = detail::serve_as_worker(parent, 0, detail::ServeUntil::kSessionEnds);
      detail::dismiss_followers(status);
    } else {
      status = detail::serve_as_follower();
    }
    if (status == 0) {
      MPI_Comm_disconnect(&parent);
    }
    std::fflush(nullptr);
    if (state.initialized_mpi && status == 0) {
      if (detail::follower_gone()) {
        // Finalized already, or killed at the pool's end after its last task: then MPI_Finalize
        // would wait for its side of the close handshake for ever (rank_group.hpp).
        detail::log().info("group rank 0: a rank of the group is gone; leaving without MPI_Finalize");
        detail::tell_launcher_finalized();
      } else {
        detail::finalize_within(
            kWorkerFinalizeLimit, status,
            "spawnpool: worker pid " + std::to_string(::getpid()) +
                (world_size() > 1 ? " (group rank " + std::to_string(group_rank) + ")" : "") +
                ": MPI_Finalize still waits after " + detail::seconds_text(kWorkerFinalizeLimit) +
                " for a process it was connected to (killed or stopped?); leaving without it",
            detail::end_remaining_followers);
      }
    }
    std::exit(status);
  }

  // This process runs the user's main (rank 0; static workers leave below): after a relaunch its
  // own status becomes the program's.
  if (world_rank() == 0) detail::report_exit_status_to_relaunch_parent();

  const int size = world_size();
  const std::optional<Mode> requested = requested_mode();
  state.mode = (size > 1 && requested.value_or(Mode::static_world) == Mode::static_world)
                   ? Mode::static_world
                   : Mode::spawn;
  if (state.mode == Mode::static_world) {
    SPAWNPOOL_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &state.static_comm));
    MPI_Comm_set_errhandler(state.static_comm, MPI_ERRORS_RETURN);
    state.static_rank_pids = detail::exchange_static_rank_pids(state.static_comm);
    if (world_rank() != 0) {
      // A static worker: serve rank 0's executors until its Runtime ends, then leave.
      const int status =
          detail::serve_as_worker(state.static_comm, 0, detail::ServeUntil::kExit);
      std::fflush(nullptr);
      if (status == 0 && !state.job_lost_a_rank) {
        MPI_Comm_free(&state.static_comm);
        if (state.initialized_mpi) MPI_Finalize();
      }
      // Without MPI_Finalize on the manager's word, this rank's launcher guard tells hydra it
      // ended in order.
      if (status == 0 && state.job_lost_a_rank) detail::permit_orderly_end();
      std::exit(status);
    }
  }
  state.active = true;
  // Here, where the program's own code goes on: said once per program, not once per worker.
  detail::warn_about_log_setting();
}

Mode Runtime::mode() const noexcept { return detail::runtime_state().mode; }

Runtime::~Runtime() {
  detail::RuntimeState& state = detail::runtime_state();
  std::vector<detail::PoolCore*> pools;
  {
    std::lock_guard<std::mutex> lock(state.pools_mutex);
    pools.assign(state.pools.begin(), state.pools.end());
  }
  for (auto* pool : pools) pool->shutdown(true, false);
  state.active = false;
  std::set<int> lost;
  {
    std::lock_guard<std::mutex> lock(state.pools_mutex);
    lost = state.lost_static_ranks;
  }
  if (state.static_comm != MPI_COMM_NULL && !state.mpi_stuck) {
    // A rank on this host that is stopped now (in its initializer, between tasks) would never
    // leave: it is made to, and is left out like a lost one (static_rank_end.hpp).
    for (int rank = 1; rank < static_cast<int>(state.static_rank_pids.size()); ++rank) {
      if (lost.count(rank) == 0 && detail::end_static_rank_if_stopped(rank, "at the program's end")) {
        lost.insert(rank);
      }
    }
    try {
      detail::release_workers(state.static_comm, 0, lost);
      MPI_Comm_free(&state.static_comm);
    } catch (const std::exception& e) {
      // A static worker died (its launcher decides what happens to the job): a destructor must
      // not throw, so say it and go on ending.
      std::fprintf(stderr, "spawnpool: could not release the static workers at the Runtime's end: %s\n",
                   e.what());
    }
  }
  if (state.initialized_mpi && (!lost.empty() || state.peer_unreachable)) {
    // A static rank died, or a worker's host stopped answering: MPI_Finalize would wait for it
    // forever (MPICH's close handshake with every peer). Tell the launcher instead.
    if (state.peer_unreachable) {
      detail::log().info("leaving without MPI_Finalize: a worker was lost unanswered (on another "
                         "host, or stopped while it started), and MPI_Finalize would wait for it "
                         "forever");
    }
    std::fflush(nullptr);
    detail::tell_launcher_finalized();
    state.initialized_mpi = false;
  }
  if (state.initialized_mpi && !state.mpi_stuck) {
    MPI_Finalize();
    state.initialized_mpi = false;
  }
}

int Runtime::world_rank() const {
  int rank = 0;
  SPAWNPOOL_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  return rank;
}

int Runtime::world_size() const {
  int size = 0;
  SPAWNPOOL_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size));
  return size;
}

}  // namespace spawnpool
