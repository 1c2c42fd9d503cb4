#include "slurm_allocation.hpp"

#include "environment.hpp"

#include <cctype>
#include <limits>

namespace spawnpool::detail {

namespace {

/// Reads the decimal number at value[pos...], advancing pos; nullopt when there is none or it is
/// too large.
std::optional<long> read_number(std::string_view value, std::size_t& pos) {
  const std::size_t start = pos;
  long n = 0;
  while (pos < value.size() && std::isdigit(static_cast<unsigned char>(value[pos]))) {
    if (n > (std::numeric_limits<int>::max() - 9) / 10) return std::nullopt;
    n = n * 10 + (value[pos] - '0');
    ++pos;
  }
  if (pos == start) return std::nullopt;
  return n;
}

}  // namespace

std::optional<long> total_cpus_per_node(std::string_view value) noexcept {
  long total = 0;
  std::size_t pos = 0;
  while (pos < value.size()) {
    const auto cpus = read_number(value, pos);
    if (!cpus) return std::nullopt;
    long nodes = 1;
    if (value.substr(pos, 2) == "(x") {
      pos += 2;
      const auto repeat = read_number(value, pos);
      if (!repeat || pos >= value.size() || value[pos] != ')') return std::nullopt;
      ++pos;
      nodes = *repeat;
    }
    if (*cpus > 0 && nodes > (std::numeric_limits<int>::max() - total) / *cpus) return std::nullopt;
    total += *cpus * nodes;
    if (pos == value.size()) break;
    if (value[pos] != ',' || pos + 1 == value.size()) return std::nullopt;
    ++pos;
  }
  if (total <= 0) return std::nullopt;
  return total;
}

std::optional<long> slurm_allocation_slots() noexcept {
  try {
    if (!env_string("SLURM_JOB_ID")) return std::nullopt;
    // Slurm's variables, not spawnpool's: a value that is not a count is ignored.
    constexpr IntegerVariable kTasks{"SLURM_NTASKS", 1, 2147483647, "tasks"};
    if (const auto tasks = env_integer_or_default(kTasks)) return *tasks;
    if (const auto cpus = env_string("SLURM_JOB_CPUS_PER_NODE")) return total_cpus_per_node(*cpus);
  } catch (...) {
  }
  return std::nullopt;
}

}  // namespace spawnpool::detail
