#pragma once
/// @file task.hpp
/// Registering functions as tasks.
///
/// Tasks travel by name, never by address, so a worker that is a different executable (a dedicated
/// worker program, another rank in static mode, a pool service) runs the right function.
///
/// @code
///   double simulate(int seed, const std::vector<double>& params);
///   SPAWNPOOL_TASK(simulate);                    // registered as "simulate"
///   SPAWNPOOL_TASK_AS(other::simulate, "sim2");  // registered under a chosen name
/// @endcode
///
/// Write the macro at namespace scope, in a source file that is linked into both the manager and the
/// workers (with spawn mode's default, the workers are the same executable, so any file will do).
/// Parameters and the result must be serializable by cereal (numbers, std::string, containers,
/// tuples, optional, user types with a `serialize` member, ...); `void` results are fine. Parameters
/// must be default-constructible. A function is registered once per name; registering two different
/// functions under one name makes spawnpool::Runtime's constructor throw.
///
/// A function whose first parameter is a spawnpool::TaskComm is a k-rank task (task_comm.hpp):
/// registered the same way, submitted with TaskOptions::ranks(k) (or submit_all_ranks), and run by
/// k processes together; its other parameters follow the rules above. (task_comm.hpp, which
/// declares TaskComm, also brings in what registering such a task needs; task.hpp itself needs
/// no <mpi.h>.)

#include <spawnpool/detail/invoke.hpp>

#define SPAWNPOOL_DETAIL_CONCAT2(a, b) a##b
#define SPAWNPOOL_DETAIL_CONCAT(a, b) SPAWNPOOL_DETAIL_CONCAT2(a, b)

/// Registers free function `fn` under the name `name` (a string literal).
#define SPAWNPOOL_TASK_AS(fn, name)                                                        \
  static const ::spawnpool::detail::Registration<&fn> SPAWNPOOL_DETAIL_CONCAT(           \
      spawnpool_task_registration_, __COUNTER__) {                                          \
    name                                                                                   \
  }

/// Registers free function `fn` under its own spelling, e.g. SPAWNPOOL_TASK(simulate) -> "simulate".
#define SPAWNPOOL_TASK(fn) SPAWNPOOL_TASK_AS(fn, #fn)
