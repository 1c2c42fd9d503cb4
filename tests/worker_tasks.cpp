#include "worker_tasks.hpp"

#include <spawnpool/spawnpool.hpp>

#include <cctype>

namespace lean {
int triple(int x) { return 3 * x; }

std::string shout(const std::string& text) {
  std::string out = text;
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out + "!";
}

std::vector<double> scale(const std::vector<double>& values, double factor) {
  std::vector<double> out(values);
  for (double& v : out) v *= factor;
  return out;
}

#ifndef LEAN_PARAMS_OTHER_LAYOUT
double sum_params(const Params& p) { return p.x + p.y; }
#else
double sum_params(const Params& p) { return p.x + static_cast<double>(p.y) + static_cast<double>(p.z); }
#endif
}  // namespace lean

SPAWNPOOL_TASK_AS(lean::triple, "lean::triple");
SPAWNPOOL_TASK_AS(lean::shout, "lean::shout");
SPAWNPOOL_TASK_AS(lean::scale, "lean::scale");
SPAWNPOOL_TASK_AS(lean::sum_params, "lean::sum_params");
