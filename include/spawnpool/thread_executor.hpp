#pragma once
/// @file thread_executor.hpp
/// spawnpool::ThreadExecutor: the Executor API in one process, on a pool of threads, without MPI.
/// Develop and test with it on a laptop, then move to MPI worker processes by changing one type:
///
/// @code
///   double simulate(int seed, const std::vector<double>& params);
///   SPAWNPOOL_TASK(simulate);                          // registered, exactly as for Executor
///
///   spawnpool::ThreadExecutor pool(spawnpool::Options{}.max_workers(4));  // no Runtime needed
///   spawnpool::Future<double> f = pool.submit(simulate, 1, params);
///   std::vector<double> all = pool.map(simulate, seeds, params_per_seed).get();
/// @endcode
///
/// It keeps Executor's rules so that code moves unchanged, and so that mistakes show up here
/// rather than on the cluster:
///  - only functions registered with SPAWNPOOL_TASK can be submitted (else UnregisteredTask);
///  - arguments are converted to the parameter types and cereal-encoded before submit() returns, the
///    worker thread decodes them, runs the task through the registry and encodes the result, which
///    Future::get() decodes: a type that does not survive serialization fails here too;
///  - map() sends the same chunks (MapOptions::chunksize), each run by one thread;
///  - a task's exception comes back as RemoteError, with the exception's type name, the worker
///    thread's index (0 .. num_workers()-1) as the worker id, this process's pid and this host's name.
/// It needs no spawnpool::Runtime and never calls MPI. Both executors satisfy the executor concept
/// (executor_concept.hpp). There is no mode(): it has no MPI mode.
///
/// Of Options, only max_workers applies (default: $SPAWNPOOL_MAX_WORKERS, else the number of
/// hardware threads); the MPI settings (worker program, pipelining, polling, timeouts) are ignored.
///
/// Thread-safety: submit(), map(), map_unordered(), starmap(), submit_batch(), num_workers() and
/// workers() may be called from several threads
/// at once. shutdown() may be called from any thread; submitting after it throws BrokenExecutor.

#include <spawnpool/batch.hpp>
#include <spawnpool/detail/dependent_call.hpp>
#include <spawnpool/detail/encode_calls.hpp>
#include <spawnpool/detail/map_family.hpp>
#include <spawnpool/detail/submit_gate.hpp>
#include <spawnpool/detail/work_item.hpp>
#include <spawnpool/executor.hpp>
#include <spawnpool/future.hpp>
#include <spawnpool/map_result.hpp>
#include <spawnpool/options.hpp>
#include <spawnpool/task_submitter.hpp>

#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace spawnpool {

/// The task-submitting calls (submit, map, map_unordered, starmap, submit_batch) are documented
/// in task_submitter.hpp, shared with Executor.
class ThreadExecutor : public TaskSubmitter<ThreadExecutor> {
 public:
  /// Starts Options::max_workers threads (see above for the default).
  /// @throws ConfigError when max_workers is not set and $SPAWNPOOL_MAX_WORKERS is invalid (or
  ///                     $SPAWNPOOL_BUFFER_CACHE_MB is)
  /// @throws Error when max_workers is below 1, or when two different functions were registered
  ///               under one task name (what spawnpool::Runtime's constructor refuses too)
  explicit ThreadExecutor(Options options = {});

  /// shutdown(true): waits for submitted tasks, then joins the threads.
  ~ThreadExecutor();

  ThreadExecutor(const ThreadExecutor&) = delete;
  ThreadExecutor& operator=(const ThreadExecutor&) = delete;
  ThreadExecutor(ThreadExecutor&&) noexcept;
  ThreadExecutor& operator=(ThreadExecutor&&) noexcept;

  /// Stops accepting tasks and ends the threads.
  /// @param wait            true: wait until every submitted task has finished and the threads have
  ///                        ended. false: return at once (the threads finish the queue, unless
  ///                        cancelled, and end by themselves; the destructor joins them).
  /// @param cancel_pending  true: tasks that have not started yet are cancelled (their futures
  ///                        throw Cancelled); tasks already running finish.
  /// Idempotent. Thread-safe.
  void shutdown(bool wait = true, bool cancel_pending = false);

  /// Number of worker threads (0 for a moved-from executor).
  int num_workers() const;

  /// One entry per worker thread: id = rank = thread index, this host, this process's pid.
  std::vector<WorkerInfo> workers() const;

 private:
  friend class TaskSubmitter<ThreadExecutor>;

  const detail::TaskEntry& task_for(detail::FunctionKey fn) const { return detail::require_task(fn); }
  bool packs_chunks() const { return true; }
  class Core;

  std::uint64_t reserve_call_ids(std::size_t count);
  void enqueue(detail::WorkItem item);
  /// k-rank tasks: k = 1 runs as any task, on one thread, with a TaskComm of rank 0 and size 1
  /// (MPI_COMM_SELF when the program initialized MPI; task_comm.hpp); k > 1 throws Error.
  void enqueue_ranked(int ranks, detail::WorkItem item);

  std::unique_ptr<Core> core_;
  detail::SubmitGate gate_;  // after core_: closed (destroyed) before the core goes
};

}  // namespace spawnpool
