#pragma once
/// @file executor.hpp
/// spawnpool::Executor: a pool of MPI worker processes that runs registered tasks and hands back
/// futures — the C++ counterpart of mpi4py.futures.MPIPoolExecutor.
///
/// @code
///   double simulate(int seed, const std::vector<double>& params);
///   SPAWNPOOL_TASK(simulate);
///
///   spawnpool::Executor pool(spawnpool::Options{}.max_workers(4));
///   spawnpool::Future<double> f = pool.submit(simulate, 1, params);
///   double x = f.get();
///   std::vector<double> all = pool.map(simulate, seeds, params_per_seed).get();
/// @endcode
///
/// Where the workers come from depends on the Runtime's mode (see runtime.hpp): in spawn mode the
/// constructor spawns them; in static mode (mpiexec -n N / srun -n N) it uses ranks 1..N-1 of the
/// job, which any number of executors (in sequence or at once) share without mixing messages. See
/// also spawnpool::serve (communicator.hpp) for a pool over an application's own communicator.
/// Either way, when the constructor returns every worker is running and has answered. MPI traffic is
/// done by one progress thread per executor, or by a thread waiting for a future while it waits;
/// submit() encodes the arguments on the calling thread and sends them at once when nobody else is
/// polling, else queues them. Several tasks are kept in flight per worker.
///
/// Thread-safety: submit(), map(), map_unordered(), starmap(), submit_batch(), num_workers() and
/// mode() may be called from several threads at
/// once. shutdown() may be called from any thread; submitting after it throws BrokenExecutor.

#include <spawnpool/batch.hpp>
#include <spawnpool/detail/dependent_call.hpp>
#include <spawnpool/detail/encode_calls.hpp>
#include <spawnpool/detail/map_family.hpp>
#include <spawnpool/detail/submit_gate.hpp>
#include <spawnpool/detail/invoke.hpp>
#include <spawnpool/detail/work_item.hpp>
#include <spawnpool/future.hpp>
#include <spawnpool/map_result.hpp>
#include <spawnpool/options.hpp>
#include <spawnpool/runtime.hpp>
#include <spawnpool/stats.hpp>  // Stats, WorkerInfo
#include <spawnpool/task_submitter.hpp>

#include <algorithm>
#include <iterator>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace spawnpool {

namespace detail {
class PoolCore;
class RankGroups;
struct ExecutorAccess;
}

/// The task-submitting calls (submit, map, map_unordered, starmap, submit_batch) are documented
/// in task_submitter.hpp, shared with ThreadExecutor.
class Executor : public TaskSubmitter<Executor> {
 public:
  /// Starts the workers (see Options::max_workers for how many) and waits until all have answered.
  /// In static mode, max_workers above the job's worker ranks is clamped, with a warning.
  /// @throws SpawnError  when the workers cannot be started in Options::spawn_timeout
  /// @throws ConfigError when a spawnpool environment variable it reads (one the options do not
  ///                     override) holds an invalid value; nothing was started then
  /// @throws Error       when no spawnpool::Runtime exists in this process
  explicit Executor(Options options = {});

  /// shutdown(true): waits for submitted tasks, then stops the workers.
  ~Executor();

  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;
  Executor(Executor&&) noexcept;
  Executor& operator=(Executor&&) noexcept;

  /// Stops accepting tasks and ends the workers.
  /// @param wait            true: first wait for all submitted tasks to finish. false: return as soon
  ///                        as the workers have been told to stop (tasks already sent still run).
  /// @param cancel_pending  true: tasks not yet sent to a worker are cancelled (their futures throw
  ///                        Cancelled).
  /// Idempotent. Thread-safe.
  void shutdown(bool wait = true, bool cancel_pending = false);

  /// Number of workers in the pool (groups for k-rank tasks not counted: Options::rank_groups).
  int num_workers() const;

  /// The live worker processes: id in this executor (README "Worker ids"), rank, host, pid.
  std::vector<WorkerInfo> workers() const;

  /// Counters: calls submitted, completed, failed, cancelled; per worker calls and busy time.
  /// Thread-safe; a consistent snapshot of the progress thread's counters.
  Stats stats() const;

  /// How the workers were started.
  Mode mode() const;

 private:
  friend class TaskSubmitter<Executor>;
  const detail::TaskEntry& task_for(detail::FunctionKey fn) const;
  /// False when a trace file records each call (Options::trace_file): maps then go call by call.
  bool packs_chunks() const;
  std::uint64_t reserve_call_ids(std::size_t count);
  void enqueue(detail::WorkItem item);
  void enqueue_ranked(int ranks, detail::WorkItem item);

  friend struct detail::ExecutorAccess;
  explicit Executor(std::unique_ptr<detail::PoolCore> core);

  std::unique_ptr<detail::PoolCore> core_;
  std::unique_ptr<detail::RankGroups> groups_;  // spawn mode: the groups for k-rank tasks
  detail::SubmitGate gate_;  // after core_: closed (destroyed) before the core goes
};

}  // namespace spawnpool
