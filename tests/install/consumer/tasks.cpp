#include "tasks.hpp"

#include <spawnpool/spawnpool.hpp>

int triple(int x) { return 3 * x; }
std::string greet(const std::string& name) { return "hello " + name; }

SPAWNPOOL_TASK(triple);
SPAWNPOOL_TASK(greet);
