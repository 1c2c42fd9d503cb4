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
/// Either way, when the constructor returns every worker is running and has answered. All MPI traffic is done by one progress thread per executor; submit() only encodes the
/// arguments (on the calling thread) and queues them. Several tasks are kept in flight per worker.
///
/// Thread-safety: submit(), map(), num_workers() and mode() may be called from several threads at
/// once. shutdown() may be called from any thread; submitting after it throws BrokenExecutor.

#include <spawnpool/detail/encode_calls.hpp>
#include <spawnpool/detail/invoke.hpp>
#include <spawnpool/detail/work_item.hpp>
#include <spawnpool/future.hpp>
#include <spawnpool/map_result.hpp>
#include <spawnpool/options.hpp>
#include <spawnpool/runtime.hpp>

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
struct ExecutorAccess;
}

/// One worker process of an executor.
struct WorkerInfo {
  int rank = -1;     ///< rank in the communicator the pool talks over (what RemoteError reports)
  std::string host;  ///< host name the worker runs on
  long pid = 0;      ///< process id on that host
};

class Executor {
 public:
  /// Starts the workers (see Options::max_workers for how many) and waits until all have answered.
  /// In static mode, max_workers above the job's worker ranks is clamped, with a warning.
  /// @throws SpawnError when the workers cannot be started in Options::spawn_timeout
  /// @throws Error      when no spawnpool::Runtime exists in this process
  explicit Executor(Options options = {});

  /// shutdown(true): waits for submitted tasks, then stops the workers.
  ~Executor();

  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;
  Executor(Executor&&) noexcept;
  Executor& operator=(Executor&&) noexcept;

  /// Runs fn(args...) on a worker. Arguments are converted to fn's parameter types and encoded on the
  /// calling thread before submit returns, so they may be changed or destroyed right after.
  /// @throws UnregisteredTask fn was not registered with SPAWNPOOL_TASK
  /// @throws BrokenExecutor   after shutdown()
  template <class R, class... P, class... A>
  [[nodiscard]] Future<R> submit(R (*fn)(P...), A&&... args) {
    return submit(TaskOptions{}, fn, std::forward<A>(args)...);
  }

  /// submit() with per-task settings:
  /// @code
  ///   auto f = pool.submit(spawnpool::TaskOptions{}.threads(4), solve, matrix);
  /// @endcode
  /// @throws UnregisteredTask, BrokenExecutor as submit()
  template <class R, class... P, class... A>
  [[nodiscard]] Future<R> submit(const TaskOptions& options, R (*fn)(P...), A&&... args) {
    static_assert(sizeof...(P) == sizeof...(A),
                  "spawnpool::Executor::submit: wrong number of arguments for this task");
    static_assert((std::is_constructible_v<detail::stored_t<P>, A&&> && ...),
                  "spawnpool::Executor::submit: an argument cannot be converted to the type of "
                  "the task's parameter");
    const detail::TaskEntry& task = task_for(reinterpret_cast<detail::FunctionKey>(fn));
    detail::WorkItem item =
        detail::encode_call(fn, task, reserve_call_ids(1), std::forward<A>(args)...);
    detail::wire::set_call_threads(item.message.data() + detail::wire::kHeaderSize,
                                   options.threads());
    Future<R> future(item.calls.front().state);
    enqueue(std::move(item));
    return future;
  }

  /// Runs fn over the zipped ranges: fn(a[0], b[0]), fn(a[1], b[1]), ... up to the shortest range.
  /// Results come back in input order. Calls are sent in chunks (see MapOptions::chunksize).
  /// Ranges must be forward ranges (they are read twice per chunk: to size and to encode).
  /// @throws UnregisteredTask, BrokenExecutor as submit()
  template <class R, class... P, class... Ranges>
  [[nodiscard]] MapResult<R> map(const MapOptions& options, R (*fn)(P...), const Ranges&... ranges) {
    static_assert(sizeof...(P) == sizeof...(Ranges),
                  "spawnpool::Executor::map: pass one range per task parameter");
    const detail::TaskEntry& task = task_for(reinterpret_cast<detail::FunctionKey>(fn));
    const std::size_t n = detail::zipped_size(ranges...);
    return MapResult<R>(detail::encode_map(
        fn, task, n, chunk_size_for(options, n),
        [this](std::size_t count) { return reserve_call_ids(count); },
        [this](detail::WorkItem&& item) { enqueue(std::move(item)); }, ranges...));
  }

  /// map() with default MapOptions.
  template <class R, class... P, class... Ranges>
  [[nodiscard]] MapResult<R> map(R (*fn)(P...), const Ranges&... ranges) {
    return map(MapOptions{}, fn, ranges...);
  }

  /// Stops accepting tasks and ends the workers.
  /// @param wait            true: first wait for all submitted tasks to finish. false: return as soon
  ///                        as the workers have been told to stop (tasks already sent still run).
  /// @param cancel_pending  true: tasks not yet sent to a worker are cancelled (their futures throw
  ///                        Cancelled).
  /// Idempotent. Thread-safe.
  void shutdown(bool wait = true, bool cancel_pending = false);

  /// Number of workers in the pool.
  int num_workers() const;

  /// The worker processes (rank, host, pid), as they reported when the pool started.
  std::vector<WorkerInfo> workers() const;

  /// How the workers were started.
  Mode mode() const;

 private:
  const detail::TaskEntry& task_for(detail::FunctionKey fn) const;
  std::uint64_t reserve_call_ids(std::size_t count);
  void enqueue(detail::WorkItem item);
  std::size_t chunk_size_for(const MapOptions& options, std::size_t n) const;

  friend struct detail::ExecutorAccess;
  explicit Executor(std::unique_ptr<detail::PoolCore> core);

  std::unique_ptr<detail::PoolCore> core_;
};

}  // namespace spawnpool
