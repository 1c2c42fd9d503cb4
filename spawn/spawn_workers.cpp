#include "spawn_workers.hpp"

#include "start_watch.hpp"

#include <spawnpool/detail/mpi_call.hpp>
#include <spawnpool/detail/mpi_flavor.hpp>
#include <spawnpool/detail/seconds_text.hpp>
#include <spawnpool/errors.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

namespace spawnpool::detail {

namespace {

std::string mpi_name() {
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(version, &length);
  std::string text(version, static_cast<std::size_t>(length));
  const auto newline = text.find('\n');
  return newline == std::string::npos ? text : text.substr(0, newline);
}

/// The MPI_Info given to MPI_Comm_spawn, or MPI_INFO_NULL. The caller frees it (if not null).
MPI_Info spawn_info(const std::string& host, const std::string& hostfile) {
  MPI_Info info = MPI_INFO_NULL;
  if (!host.empty() || !hostfile.empty()) {
    MPI_Info_create(&info);
    if (!host.empty()) MPI_Info_set(info, "host", host.c_str());
    if (!hostfile.empty()) MPI_Info_set(info, "hostfile", hostfile.c_str());
  }
  // What this MPI needs on every spawn (Open MPI: oversubscription, no binding); see kSpawnInfo.
  for (const NameValue& key : kSpawnInfo) {
    if (info == MPI_INFO_NULL) MPI_Info_create(&info);
    MPI_Info_set(info, key.name, key.value);
  }
  return info;
}

}  // namespace

struct PendingSpawn::Outcome {
  int code = MPI_SUCCESS;
  MPI_Comm comm = MPI_COMM_NULL;
  std::vector<int> errcodes;
};

struct PendingSpawn::Shared {
  std::future<Outcome> result;
  /// Reports of workers that ended before MPI_Init; null when the spawn is not watched.
  std::unique_ptr<StartWatch> start_watch;

  bool returned() const {
    return result.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
  bool worker_ended_early() const { return start_watch && start_watch->ended_worker(); }
};

PendingSpawn start_spawn(const SpawnRequest& request) {
  if (access(request.program.c_str(), X_OK) != 0) {
    throw SpawnError("spawnpool: cannot start workers: worker program '" + request.program + "' " +
                     (errno == ENOENT ? "does not exist" : std::string("is not executable (") +
                                                                 std::strerror(errno) + ")") +
                     "; check Options::worker_program");
  }
  // Spawn on a helper thread so that a launcher that never answers cannot hang the caller. The
  // helper owns copies of everything it touches: on a timeout it is left behind, detached.
  // (With less than MPI_THREAD_MULTIPLE it holds the MPI lock throughout, so the caller's own MPI
  // calls wait for it; spawnpool asks for MPI_THREAD_MULTIPLE, which MPICH and Open MPI give.)
  PendingSpawn pending;
  pending.shared_ = std::make_shared<PendingSpawn::Shared>();
  // What MPI_Comm_spawn starts: the program itself, or (start_watch.hpp) a watcher that starts it.
  SpawnRequest started = request;
  if (start_watch_applies(request)) {
    pending.shared_->start_watch = std::make_unique<StartWatch>(started);
  }
  auto argv_storage = std::make_shared<std::vector<std::string>>(started.args);
  auto outcome = std::make_shared<std::promise<PendingSpawn::Outcome>>();
  pending.shared_->result = outcome->get_future();
  pending.program_ = request.program;
  pending.count_ = request.count;
  pending.timeout_ = request.timeout;
  pending.shared_timeout_ = request.shared_timeout;
  pending.timeout_setting_ = request.timeout_setting;
  pending.deadline_ = std::chrono::steady_clock::now() + request.timeout;
  pending.mpi_stuck_ = request.mpi_stuck;
  const std::string program = started.program;
  const int count = request.count;
  const std::string host = request.host, hostfile = request.hostfile;
  const std::vector<std::string> hosts = request.hosts;
  // Each spawn is collective over its own copy of MPI_COMM_SELF: a pool starts its workers' spawns
  // at once, and two collective calls may not run on one communicator at the same time (the copies
  // are made one at a time for the same reason: pools start and replace workers on their threads).
  MPI_Comm self = MPI_COMM_NULL;
  {
    static std::mutex one_copy_at_a_time;
    const std::lock_guard<std::mutex> one(one_copy_at_a_time);
    auto lock = mpi_lock();
    const int code = MPI_Comm_dup(MPI_COMM_SELF, &self);
    if (code != MPI_SUCCESS) {
      throw SpawnError("spawnpool: cannot start workers: MPI_Comm_dup of MPI_COMM_SELF failed: " +
                       mpi_error_text(code));
    }
  }
  std::thread([argv_storage, outcome, program, count, host, hostfile, hosts, self]() mutable {
    std::vector<char*> argv;
    for (auto& a : *argv_storage) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    PendingSpawn::Outcome o;
    o.errcodes.assign(static_cast<std::size_t>(count), MPI_SUCCESS);
    auto lock = mpi_lock();
    if (hosts.empty()) {
      MPI_Info info = spawn_info(host, hostfile);
      o.code = MPI_Comm_spawn(program.c_str(), argv.data(), count, info, 0, self, &o.comm,
                              o.errcodes.data());
      if (info != MPI_INFO_NULL) MPI_Info_free(&info);
    } else {
      // One command per process, each on its own host (a group spread over hosts).
      const int commands = static_cast<int>(hosts.size());
      std::vector<char*> programs(hosts.size(), const_cast<char*>(program.c_str()));
      std::vector<char**> argvs(hosts.size(), argv.data());
      std::vector<int> maxprocs(hosts.size(), 1);
      std::vector<MPI_Info> infos;
      for (const std::string& h : hosts) infos.push_back(spawn_info(h, hostfile));
      o.errcodes.assign(hosts.size(), MPI_SUCCESS);
      o.code = MPI_Comm_spawn_multiple(commands, programs.data(), argvs.data(), maxprocs.data(),
                                       infos.data(), 0, self, &o.comm, o.errcodes.data());
      for (MPI_Info& info : infos) {
        if (info != MPI_INFO_NULL) MPI_Info_free(&info);
      }
    }
    if (o.code == MPI_SUCCESS) MPI_Comm_set_errhandler(o.comm, MPI_ERRORS_RETURN);
    MPI_Comm_free(&self);
    outcome->set_value(std::move(o));
  }).detach();
  return pending;
}

bool PendingSpawn::finished() const {
  return shared_->returned() || shared_->worker_ended_early() ||
         std::chrono::steady_clock::now() >= deadline_;
}

void PendingSpawn::wait() const {
  if (!shared_->start_watch) {
    shared_->result.wait_until(deadline_);
    return;
  }
  while (!finished()) {
    shared_->result.wait_until(
        std::min(deadline_, std::chrono::steady_clock::now() + StartWatch::kReportPollInterval));
  }
}

MPI_Comm PendingSpawn::take() {
  // The watch's directory goes when the spawn has failed, however it failed; after a spawn that
  // returned, the caller may keep the watch while the workers start (take_start_watch).
  struct EndWatch {
    Shared& shared;
    bool keep = false;
    ~EndWatch() {
      if (!keep) shared.start_watch.reset();
    }
  } end_watch{*shared_};
  if (!shared_->returned()) {
    if (mpi_stuck_ != nullptr) *mpi_stuck_ = true;
    if (shared_->worker_ended_early()) {
      // MPI_Comm_spawn waits for the ended worker forever: its thread stays behind, as on a
      // timeout.
      throw SpawnError("spawnpool: cannot start workers: the worker program " +
                       *shared_->start_watch->ended_worker() +
                       " before it reached MPI_Init" +
                       (count_ > 1 ? " (one of " + std::to_string(count_) + " started at once)"
                                   : std::string()) +
                       ". A worker program must get to MPI_Init: a spawnpool program, this one "
                       "(the default) or one built with spawnpool_add_worker; see "
                       "Options::worker_program. "
                       "MPI_Comm_spawn is left waiting for it, so MPI will not be finalized.");
    }
    const bool in_slurm = std::getenv("SLURM_JOB_ID") != nullptr;
    // A spawn after others of one start had only what they left of the start's limit: say both.
    const bool after_others =
        shared_timeout_.count() > 0 && shared_timeout_ - timeout_ >= std::chrono::seconds(1);
    const std::string limit =
        after_others ? "the " + seconds_text(timeout_) + " left of the spawn timeout (" +
                           seconds_text(shared_timeout_) + " for the whole start of the pool)"
                     : seconds_text(shared_timeout_.count() > 0 ? shared_timeout_ : timeout_);
    throw SpawnError(
        "spawnpool: MPI_Comm_spawn of " + std::to_string(count_) + " x '" + program_ +
        "' did not return within " + limit + ": the processes did not all reach MPI_Init (" +
        (shared_->start_watch
             ? std::string("none of them ended, so: a worker program that waits or hangs before "
                           "it, ")
             : std::string("a worker program that exits or crashes before it, ")) +
        "or a launcher that could not start them" +
        (in_slurm ? std::string(": inside Slurm, the job has no free CPUs for a new step; "
                                "spawnpool sets SLURM_OVERLAP=1 when it relaunches itself, check "
                                "that it is not overridden")
                  : std::string()) +
        "). Raise the limit with " + timeout_setting_ + ", or run in static mode: " +
        (in_slurm ? "srun -n <workers+1>." : "mpiexec -n <workers+1>."));
  }
  Outcome o = shared_->result.get();
  if (o.code != MPI_SUCCESS) {
    throw SpawnError("spawnpool: MPI_Comm_spawn of " + std::to_string(count_) + " x '" + program_ +
                     "' failed: " + mpi_error_text(o.code) + " (MPI: " + mpi_name() +
                     "). If this MPI cannot spawn processes, run in static mode instead: "
                     "mpiexec -n <workers+1> / srun -n <workers+1>.");
  }
  for (std::size_t i = 0; i < o.errcodes.size(); ++i) {
    if (o.errcodes[i] != MPI_SUCCESS) {
      throw SpawnError("spawnpool: worker " + std::to_string(i) + " of '" + program_ +
                       "' did not start: " + mpi_error_text(o.errcodes[i]));
    }
  }
  end_watch.keep = true;
  return o.comm;
}

std::unique_ptr<StartWatch> PendingSpawn::take_start_watch() {
  return std::move(shared_->start_watch);
}

MPI_Comm spawn_workers(const SpawnRequest& request) {
  PendingSpawn pending = start_spawn(request);
  pending.wait();
  return pending.take();
}

}  // namespace spawnpool::detail
