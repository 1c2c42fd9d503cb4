#include "run_directory.hpp"

#include "relaunch.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace spawnpool::detail {

std::string system_temporary_directory() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

std::string temporary_files_directory() {
  const char* run = std::getenv(kRunDirectoryVariable);
  struct stat info {};
  if (run != nullptr && *run != '\0' && ::stat(run, &info) == 0 && S_ISDIR(info.st_mode)) {
    return run;
  }
  return system_temporary_directory();
}

RunDirectory::RunDirectory() {
  std::string pattern = system_temporary_directory() + "/spawnpool-run-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw RelaunchError("spawnpool: cannot create the run's directory " + pattern + ": " +
                        std::strerror(errno) + " (set TMPDIR to a writable directory)");
  }
  path_ = pattern;
}

RunDirectory::~RunDirectory() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace spawnpool::detail
