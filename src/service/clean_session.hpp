#pragma once
// A pool service's clean session: what one client changed in a service process (its
// environment, through Options::env, and its working directory, through
// Options::working_directory) is undone before the next client is served.
//
// Not undone: what an initializer (Options::initializer) or a task did to the program's own
// state (globals, files, threads); a service whose tasks keep state between calls must reset it
// itself.

#include <string>
#include <vector>

namespace spawnpool::detail {

class ServiceProcessState {
 public:
  /// Takes a copy of the environment and the working directory as they are now.
  ServiceProcessState();
  /// Puts both back as they were taken: variables a client added are removed, changed ones reset.
  /// Never throws; a directory that is gone is reported on stderr.
  void restore() const noexcept;

 private:
  std::vector<std::string> environment_;  // NAME=VALUE
  std::string working_directory_;
};

}  // namespace spawnpool::detail
