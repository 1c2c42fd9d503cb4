#include <spawnpool/detail/terminal.hpp>

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace spawnpool::detail {

namespace {

enum class Told { nothing, terminal, not_terminal };

/// What the relaunching process said, read during static initialisation, while the process has
/// one thread (unsetenv is not thread-safe).
Told read_what_the_relaunch_told() {
  const char* told = std::getenv(kStderrTerminalVariable);
  if (told == nullptr) return Told::nothing;
  const Told result = std::strcmp(told, "1") == 0 ? Told::terminal : Told::not_terminal;
  unsetenv(kStderrTerminalVariable);
  return result;
}

const Told g_told = read_what_the_relaunch_told();

}  // namespace

bool stderr_is_terminal() noexcept {
  // Not relaunched: ask now (the program may have redirected its standard error since).
  if (g_told == Told::nothing) return isatty(STDERR_FILENO) == 1;
  return g_told == Told::terminal;
}

}  // namespace spawnpool::detail
