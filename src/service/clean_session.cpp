#include "clean_session.hpp"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace spawnpool::detail {

ServiceProcessState::ServiceProcessState() {
  for (char** entry = environ; entry && *entry; ++entry) environment_.emplace_back(*entry);
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) != nullptr) working_directory_ = cwd;
}

void ServiceProcessState::restore() const noexcept {
  clearenv();
  for (const std::string& entry : environment_) {
    const auto equals = entry.find('=');
    if (equals == std::string::npos) continue;
    setenv(entry.substr(0, equals).c_str(), entry.c_str() + equals + 1, 1);
  }
  if (!working_directory_.empty() && chdir(working_directory_.c_str()) != 0) {
    std::fprintf(stderr, "spawnpool service: cannot return to %s: %s\n", working_directory_.c_str(),
                 std::strerror(errno));
  }
}

}  // namespace spawnpool::detail
