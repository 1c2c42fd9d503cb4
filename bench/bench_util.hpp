#pragma once
// Helpers shared by the benchmarks (spawnpool ones and the raw-MPI one): the clock, percentiles,
// the row format every benchmark prints, and per-process CPU time read from /proc.
//
// Row format, one line per measurement, parsed by bench/report.py and checked by the smoke tests:
//   row name=<measurement> impl=<spawnpool|raw_mpi|mpi4py> key=value key=value ...
// Values never contain spaces.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

inline double micros_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

/// The q-quantile (0..1) of `samples` (nearest rank; sorts a copy).
inline double quantile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const auto rank = static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[std::min(rank, samples.size() - 1)];
}

/// One output row: `row name=... impl=... k=v ...`, printed (and flushed) by print().
class Row {
 public:
  Row(std::string name, std::string impl) {
    add("name", std::move(name));
    add("impl", std::move(impl));
  }
  Row& add(const std::string& key, std::string value) {
    fields_.emplace_back(key, std::move(value));
    return *this;
  }
  Row& add(const std::string& key, double value, int decimals = 3) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return add(key, std::string(text));
  }
  Row& add(const std::string& key, long value) { return add(key, std::to_string(value)); }
  Row& add(const std::string& key, int value) { return add(key, std::to_string(value)); }
  void print() const {
    std::string line = "row";
    for (const auto& [key, value] : fields_) line += " " + key + "=" + value;
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// ---- /proc ------------------------------------------------------------------------------------

/// Fields after the ")" that closes the command name in /proc/<pid>/stat (field 3 first).
inline std::vector<std::string> stat_fields(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> fields;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream rest(line.substr(close + 2));
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

inline long parent_of(long pid) {
  const auto f = stat_fields(pid);
  return f.size() > 1 ? std::stol(f[1]) : 0;
}

/// utime + stime of a process (all its threads), in seconds; 0 when it is gone.
inline double cpu_seconds(long pid) {
  const auto f = stat_fields(pid);
  if (f.size() < 13) return 0;
  return (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

inline std::string name_of(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

template <class Pids>
double cpu_seconds_sum(const Pids& pids) {
  double total = 0;
  for (long pid : pids) total += cpu_seconds(pid);
  return total;
}

}  // namespace bench
