#pragma once
/// @file executor_concept.hpp
/// The executor concept: what spawnpool::Executor (MPI worker processes) and
/// spawnpool::ThreadExecutor (threads in this process) both provide, so that code written once takes
/// either, and moving from the laptop to the cluster means changing one type.
///
/// @code
///   template <class Pool>
///   double total(Pool& pool, const std::vector<int>& seeds) {
///     static_assert(spawnpool::is_executor_v<Pool>, "total() needs a spawnpool executor");
///     double sum = 0;
///     for (double x : pool.map(simulate, seeds)) sum += x;
///     return sum;
///   }
///   spawnpool::ThreadExecutor threads;  total(threads, seeds);
///   spawnpool::Executor processes;      total(processes, seeds);
/// @endcode
///
/// A type E models the concept when, for a task `R fn(P...)` registered with SPAWNPOOL_TASK, an
/// lvalue `pool` of type E, arguments `args...` convertible to P..., and forward ranges `ranges...`
/// (one per parameter):
///   - `pool.submit(fn, args...)` returns Future<R>;
///   - `pool.submit(fn, args...)` also takes a Future<T> for any argument (a dependent task);
///   - `pool.map(fn, ranges...)` and `pool.map(MapOptions, fn, ranges...)` return MapResult<R>, the
///     results in input order;
///   - `pool.map_unordered(fn, ranges...)` (and with MapOptions) returns UnorderedMapResult<R>;
///   - `pool.starmap(fn, range_of_tuples)` (and with MapOptions) returns MapResult<R>;
///   - `pool.submit_batch(fn, generator)` and `pool.submit_batch(fn, first, last)` (and with
///     MapOptions) return BatchResult<R>;
///   - `pool.shutdown()`, `pool.shutdown(wait)` and `pool.shutdown(wait, cancel_pending)` exist;
///   - `pool.num_workers()` on a const E returns int.
/// is_executor_v checks exactly these, for two probe task types. The rest of the contract cannot be
/// checked by a trait, and both executors keep it:
///   - MapOptions (chunksize, timeout, progress, window) mean the same for both;
///   - submit and map refuse an unregistered function with UnregisteredTask, and throw
///     BrokenExecutor after shutdown();
///   - arguments are converted and encoded (cereal) before submit/map return;
///   - a task's exception comes back from Future::get() as RemoteError;
///   - submit, map and num_workers are thread-safe; shutdown is idempotent and thread-safe;
///   - the destructor does shutdown(true); executors are movable and not copyable.
/// Anything beyond that (Executor::mode(), Executor's MPI options) is specific to one executor.

#include <spawnpool/batch.hpp>
#include <spawnpool/future.hpp>
#include <spawnpool/map_result.hpp>
#include <spawnpool/options.hpp>

#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace spawnpool {

namespace detail::concept_probe {

using Unary = int (*)(int);
using Binary = double (*)(long, const std::vector<double>&);
using Pairs = std::vector<std::tuple<long, std::vector<double>>>;
using Generator = std::optional<int> (*)();

/// The map family, futures as arguments and batches (checked apart to keep Check readable).
template <class E, class = void>
struct CheckFamily : std::false_type {};

template <class E>
struct CheckFamily<
    E, std::void_t<
           decltype(std::declval<E&>().submit(std::declval<Unary>(), std::declval<Future<int>&>())),
           decltype(std::declval<E&>().map_unordered(std::declval<Unary>(),
                                                     std::declval<const std::vector<int>&>())),
           decltype(std::declval<E&>().map_unordered(std::declval<const MapOptions&>(),
                                                     std::declval<Unary>(),
                                                     std::declval<const std::vector<int>&>())),
           decltype(std::declval<E&>().starmap(std::declval<Binary>(),
                                               std::declval<const Pairs&>())),
           decltype(std::declval<E&>().starmap(std::declval<const MapOptions&>(),
                                               std::declval<Binary>(),
                                               std::declval<const Pairs&>())),
           decltype(std::declval<E&>().submit_batch(std::declval<Unary>(),
                                                    std::declval<Generator>())),
           decltype(std::declval<E&>().submit_batch(
               std::declval<const MapOptions&>(), std::declval<Binary>(),
               std::declval<Pairs::const_iterator>(), std::declval<Pairs::const_iterator>()))>> {
  static constexpr bool value =
      std::is_same_v<decltype(std::declval<E&>().submit(std::declval<Unary>(),
                                                        std::declval<Future<int>&>())),
                     Future<int>> &&
      std::is_same_v<decltype(std::declval<E&>().map_unordered(
                         std::declval<Unary>(), std::declval<const std::vector<int>&>())),
                     UnorderedMapResult<int>> &&
      std::is_same_v<decltype(std::declval<E&>().starmap(std::declval<Binary>(),
                                                         std::declval<const Pairs&>())),
                     MapResult<double>> &&
      std::is_same_v<decltype(std::declval<E&>().submit_batch(std::declval<Unary>(),
                                                              std::declval<Generator>())),
                     BatchResult<int>> &&
      std::is_same_v<decltype(std::declval<E&>().submit_batch(
                         std::declval<const MapOptions&>(), std::declval<Binary>(),
                         std::declval<Pairs::const_iterator>(),
                         std::declval<Pairs::const_iterator>())),
                     BatchResult<double>>;
};

template <class E, class = void>
struct Check : std::false_type {};

template <class E>
struct Check<
    E, std::void_t<
           decltype(std::declval<E&>().submit(std::declval<Unary>(), 1)),
           decltype(std::declval<E&>().submit(std::declval<Binary>(), 1,
                                              std::declval<const std::vector<double>&>())),
           decltype(std::declval<E&>().map(std::declval<Unary>(),
                                           std::declval<const std::vector<int>&>())),
           decltype(std::declval<E&>().map(std::declval<const MapOptions&>(),
                                           std::declval<Binary>(),
                                           std::declval<const std::vector<long>&>(),
                                           std::declval<const std::vector<std::vector<double>>&>())),
           decltype(std::declval<E&>().shutdown()), decltype(std::declval<E&>().shutdown(true)),
           decltype(std::declval<E&>().shutdown(true, false)),
           decltype(std::declval<const E&>().num_workers())>> {
  static constexpr bool value =
      std::is_same_v<decltype(std::declval<E&>().submit(std::declval<Unary>(), 1)), Future<int>> &&
      std::is_same_v<decltype(std::declval<E&>().submit(
                         std::declval<Binary>(), 1, std::declval<const std::vector<double>&>())),
                     Future<double>> &&
      std::is_same_v<decltype(std::declval<E&>().map(std::declval<Unary>(),
                                                     std::declval<const std::vector<int>&>())),
                     MapResult<int>> &&
      std::is_same_v<decltype(std::declval<E&>().map(
                         std::declval<const MapOptions&>(), std::declval<Binary>(),
                         std::declval<const std::vector<long>&>(),
                         std::declval<const std::vector<std::vector<double>>&>())),
                     MapResult<double>> &&
      std::is_same_v<decltype(std::declval<const E&>().num_workers()), int>;
};

}  // namespace detail::concept_probe

/// True when E provides the executor interface described above (checked syntactically).
template <class E>
struct is_executor : std::bool_constant<detail::concept_probe::Check<E>::value &&
                                        detail::concept_probe::CheckFamily<E>::value> {};

/// True when E provides the executor interface described above (checked syntactically).
template <class E>
inline constexpr bool is_executor_v = is_executor<E>::value;

}  // namespace spawnpool
