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

namespace spawnpool::detail {

std::optional<std::vector<int>> counts_per_node(std::string_view value) noexcept {
  try {
    std::vector<int> counts;
    std::size_t pos = 0;
    while (pos < value.size()) {
      const auto count = read_number(value, pos);
      if (!count || *count == 0) return std::nullopt;
      long nodes = 1;
      if (value.substr(pos, 2) == "(x") {
        pos += 2;
        const auto repeat = read_number(value, pos);
        if (!repeat || *repeat == 0 || *repeat > 1000000 || pos >= value.size() || value[pos] != ')') {
          return std::nullopt;
        }
        ++pos;
        nodes = *repeat;
      }
      counts.insert(counts.end(), static_cast<std::size_t>(nodes), static_cast<int>(*count));
      if (pos == value.size()) break;
      if (value[pos] != ',' || pos + 1 == value.size()) return std::nullopt;
      ++pos;
    }
    if (counts.empty()) return std::nullopt;
    return counts;
  } catch (...) {
    return std::nullopt;
  }
}

namespace {

/// Expands one name of a host list (no comma outside brackets), appending to `out`.
bool expand_name(std::string_view name, std::vector<std::string>& out) {
  const std::size_t open = name.find('[');
  if (open == std::string_view::npos) {
    if (name.empty() || name.find(']') != std::string_view::npos) return false;
    out.emplace_back(name);
    return true;
  }
  const std::size_t close = name.find(']', open);
  if (close == std::string_view::npos) return false;
  const std::string_view prefix = name.substr(0, open);
  const std::string_view ranges = name.substr(open + 1, close - open - 1);
  const std::string_view rest = name.substr(close + 1);
  std::vector<std::string> tails;
  if (rest.empty()) {
    tails.emplace_back();
  } else if (!expand_name(rest, tails)) {
    return false;
  }
  std::size_t pos = 0;
  while (pos <= ranges.size()) {
    std::size_t end = ranges.find(',', pos);
    if (end == std::string_view::npos) end = ranges.size();
    const std::string_view range = ranges.substr(pos, end - pos);
    const std::size_t dash = range.find('-');
    const std::string_view first = range.substr(0, dash);
    const std::string_view last = dash == std::string_view::npos ? first : range.substr(dash + 1);
    std::size_t a = 0, b = 0;
    const auto lo = read_number(first, a), hi = read_number(last, b);
    if (!lo || !hi || a != first.size() || b != last.size() || *hi < *lo || *hi - *lo > 100000) {
      return false;
    }
    const std::size_t width = first.size();  // "01-10": zero padded to the first bound's width
    for (long n = *lo; n <= *hi; ++n) {
      std::string digits = std::to_string(n);
      if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
      for (const std::string& tail : tails) {
        out.push_back(std::string(prefix) + digits + tail);
      }
    }
    pos = end + 1;
  }
  return true;
}

}  // namespace

std::optional<std::vector<std::string>> expand_hostlist(std::string_view list) noexcept {
  try {
    std::vector<std::string> hosts;
    std::size_t start = 0;
    int depth = 0;
    for (std::size_t i = 0; i <= list.size(); ++i) {
      if (i < list.size() && list[i] == '[') ++depth;
      if (i < list.size() && list[i] == ']') --depth;
      if (depth < 0) return std::nullopt;
      if (i == list.size() || (list[i] == ',' && depth == 0)) {
        if (!expand_name(list.substr(start, i - start), hosts)) return std::nullopt;
        start = i + 1;
      }
    }
    if (depth != 0 || hosts.empty()) return std::nullopt;
    return hosts;
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace spawnpool::detail
