#pragma once
/// @file command.hpp
/// Command tasks: run an external program on a worker and get back its exit status and output.
///
/// @code
///   spawnpool::Command cmd;
///   cmd.program = "./simulate";                  // looked up in PATH when it has no '/'
///   cmd.args = {"--seed", "7"};
///   cmd.env = {{"OMP_NUM_THREADS", "1"}};        // added to the worker's environment
///   cmd.working_directory = "/scratch/run7";
///   cmd.timeout = std::chrono::minutes(10);
///   spawnpool::Future<spawnpool::CommandResult> f = pool.submit(spawnpool::run_command, cmd);
///   spawnpool::CommandResult r = f.get();
///   if (r.exit_code != 0) std::cerr << r.err;    // a failing program is data, not an exception
/// @endcode
///
/// run_command is registered as the task "spawnpool.run_command" in the spawnpool library. Every
/// program that includes this header (the umbrella spawnpool.hpp does, and so does the generic worker
/// main of spawnpool_add_worker) links it in, so every spawnpool worker can run commands.

#include <cereal/cereal.hpp>  // first: the type headers below need its macros
#include <cereal/types/chrono.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace spawnpool {

/// An external program to run: what to start, with which arguments, environment, directory and
/// time limit.
struct Command {
  /// The program: a path (absolute, or relative to working_directory) when it contains a '/',
  /// else a name looked up in PATH (env's PATH when env sets one, else the worker's).
  std::string program;
  /// Arguments after the program name (argv[1..]); passed as they are, no shell is involved.
  std::vector<std::string> args;
  /// Variables added to (or replacing those of) the worker's environment.
  std::map<std::string, std::string> env;
  /// Directory the program starts in; empty: the worker's current directory.
  std::string working_directory;
  /// Longest time the program may run; 0 (default): no limit.
  std::chrono::milliseconds timeout{0};

  template <class Archive>
  void serialize(Archive& ar) {
    ar(program, args, env, working_directory, timeout);
  }
};

/// What became of a Command.
struct CommandResult {
  /// The program's exit status; 128 + signal when a signal ended it (as a shell reports it).
  int exit_code = 0;
  /// The signal that ended the program, 0 when it exited by itself.
  int signal = 0;
  /// True when the timeout ran out and the program's process group was killed (then signal is
  /// SIGKILL, unless the program had already exited and only its background processes held the
  /// output open).
  bool timed_out = false;
  /// Everything the program (and the processes it started) wrote to stdout and stderr, up to its
  /// end or the timeout.
  std::string out, err;

  /// True when the program exited with status 0 in time.
  bool ok() const noexcept { return exit_code == 0 && signal == 0 && !timed_out; }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(exit_code, signal, timed_out, out, err);
  }
};

/// Runs `command` here (on a worker when submitted: `pool.submit(spawnpool::run_command, cmd)`) and
/// waits for it.
///  - The program starts in a process group of its own, with stdin from /dev/null and without the
///    worker's open files; stdout and stderr are read concurrently to the end, so any amount of
///    output works. Output is read until the program and everything that inherited its stdout and
///    stderr have closed them (as Python's subprocess.run does).
///  - Its environment is the worker's plus `command.env`, minus the MPI launcher's per-process
///    variables (PMI_*, PMIX_*, OMPI_COMM_WORLD_*, ...) that would make an MPI program started as a
///    command try to join the worker's own MPI job; it runs as a job of its own (singleton).
///  - A non-zero exit status or a signal is reported in the result, never thrown.
///  - When `command.timeout` runs out, the whole process group (the program and every process it
///    started that stayed in its group) is killed with SIGKILL, and the result has timed_out set
///    and whatever output came before.
///  - If the calling process dies, the program gets SIGKILL (its own children are not signalled).
/// @throws spawnpool::Error when the program cannot be started: empty program name, not found in
///         PATH (the message names the program and the PATH searched), not executable, or the
///         working directory does not exist. Through an executor these arrive as RemoteError.
/// Thread-safe: calls from several threads run independently.
CommandResult run_command(const Command& command);

namespace detail {
/// Defined next to run_command's task registration. Every file that includes this header refers to
/// it, so the linker keeps that registration even when the program never calls run_command itself
/// (a dedicated worker program, for instance).
extern const int command_task_anchor;
[[maybe_unused, gnu::used]] static const int* const command_task_link = &command_task_anchor;
}  // namespace detail

}  // namespace spawnpool
