// Test helper for the placement tests: PlacementHost values from {name, slots} pairs (slots 0:
// unknown, as for a host named without a slot count).
#pragma once

#include "src/placement.hpp"

#include <string>
#include <utility>
#include <vector>

namespace spawnpool_test {

inline std::vector<spawnpool::detail::PlacementHost> hosts(
    std::vector<std::pair<std::string, int>> names_and_slots) {
  std::vector<spawnpool::detail::PlacementHost> out;
  for (auto& [name, slots] : names_and_slots) {
    spawnpool::detail::PlacementHost h;
    h.name = name;
    if (slots > 0) h.slots = slots;
    out.push_back(h);
  }
  return out;
}

}  // namespace spawnpool_test
