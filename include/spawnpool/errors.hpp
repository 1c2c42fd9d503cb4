#pragma once
/// @file errors.hpp
/// The exception hierarchy. Every exception spawnpool throws derives from spawnpool::Error, which is a
/// std::runtime_error, so `catch (const spawnpool::Error&)` catches them all. Each message says what
/// happened and, where there is one, what to do about it.

#include <stdexcept>
#include <string>

namespace spawnpool {

/// Base of every spawnpool exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An MPI routine returned an error code. Carries the routine's name, the code and MPI's own text.
class MpiError : public Error {
 public:
  MpiError(std::string routine, int code, std::string mpi_message);
  const std::string& routine() const noexcept { return routine_; }
  int code() const noexcept { return code_; }
  const std::string& mpi_message() const noexcept { return mpi_message_; }

 private:
  std::string routine_;
  int code_;
  std::string mpi_message_;
};

/// Workers could not be started (MPI_Comm_spawn failed or did not finish in time, the worker program is
/// missing, the MPI cannot spawn, ...). The message says what was tried and what to do.
class SpawnError : public Error {
 public:
  using Error::Error;
};

/// A task was submitted that is not registered (on the manager, or in the worker program).
/// The message names the function and the macro to register it with.
class UnregisteredTask : public Error {
 public:
  using Error::Error;
};

/// A task threw on its worker. Carries the remote exception's type name and what(), the worker's id,
/// pid and host, and the task's name. what() reads like
/// `std::invalid_argument: bad input (task "parse" on worker 2, pid 4711, host node17)`.
class RemoteError : public Error {
 public:
  RemoteError(std::string type_name, std::string message, int worker_id, long worker_pid,
              std::string host, std::string task_name);
  /// Demangled type of the exception thrown on the worker, e.g. "std::invalid_argument".
  const std::string& type_name() const noexcept { return type_name_; }
  /// The remote exception's what().
  const std::string& message() const noexcept { return message_; }
  /// The id of the worker that ran the task in its executor (WorkerInfo::id: its rank in static,
  /// communicator and service mode, 1..N in spawn mode).
  int worker_id() const noexcept { return worker_id_; }
  /// The same as worker_id() (its former name; a spawned worker's MPI rank is always 0).
  int worker_rank() const noexcept { return worker_id_; }
  /// The worker's process id on its host (the ThreadExecutor's own pid).
  long worker_pid() const noexcept { return worker_pid_; }
  const std::string& host() const noexcept { return host_; }
  const std::string& task_name() const noexcept { return task_name_; }

 private:
  std::string type_name_, message_;
  int worker_id_;
  long worker_pid_;
  std::string host_, task_name_;
};

/// The worker running a task died or stopped answering before the task finished.
class WorkerLost : public Error {
 public:
  using Error::Error;
};

/// The executor can no longer run tasks (shut down, or a fatal failure). The message says why.
class BrokenExecutor : public Error {
 public:
  using Error::Error;
};

/// The task was cancelled before it ran.
class Cancelled : public Error {
 public:
  using Error::Error;
};

/// A bounded wait ran out.
class Timeout : public Error {
 public:
  using Error::Error;
};

/// A spawnpool environment variable holds a value it does not accept (e.g. SPAWNPOOL_MAX_WORKERS=0),
/// or an Options setting does (a spawn_timeout of 0, min_workers above max_workers, an impossible
/// placement). The message names the variable or setting, the value and what is accepted. Thrown
/// by the call that needs the value (Executor, ThreadExecutor, serve) before anything starts, never
/// for a variable the program's Options override.
class ConfigError : public Error {
 public:
  using Error::Error;
};

}  // namespace spawnpool
