#pragma once
// Where spawnpool's own temporary files go, and the relaunch parent's directory for them.
//
// A manager's start watches (start_watch.hpp) and a worker's run_mpi_program (its launchers'
// reports) each make a private directory and remove it when done. A manager killed with SIGKILL
// removes nothing. So the relaunch parent, which outlives the manager, makes one directory for
// the whole run (SPAWNPOOL_RUN_DIR in the job's environment), those directories go inside it on
// this host, and the parent removes it with everything in it once the job has ended. Without a
// relaunch (a program the user started under mpiexec or srun) they go to $TMPDIR or /tmp, as
// before.

#include <string>

namespace spawnpool::detail {

/// The environment variable that names the run's directory.
inline constexpr const char* kRunDirectoryVariable = "SPAWNPOOL_RUN_DIR";

/// The system's directory for temporary files: $TMPDIR when set and not empty, else /tmp.
/// Thread-safe.
std::string system_temporary_directory();

/// The directory for spawnpool's temporary files: SPAWNPOOL_RUN_DIR when it names a directory
/// (on this host), else $TMPDIR when set, else /tmp. Thread-safe.
std::string temporary_files_directory();

/// The relaunch parent's side: a private directory (mode 0700) in $TMPDIR or /tmp, removed with
/// everything in it by the destructor. Not thread-safe.
class RunDirectory {
 public:
  /// @throws RelaunchError when it cannot be created
  RunDirectory();
  ~RunDirectory();
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

}  // namespace spawnpool::detail
