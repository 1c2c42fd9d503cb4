#include <spawnpool/version.hpp>

namespace spawnpool {

// The library's own copy of the string: a program compiled against other headers still learns
// which library it runs with.
const char* version() noexcept { return SPAWNPOOL_VERSION_STRING; }

}  // namespace spawnpool
