#pragma once
// Tasks of the lean worker program built by spawnpool_add_worker(test_lean_worker worker_tasks.cpp);
// the manager (test_worker_program) links worker_tasks.cpp too, so both register them.

#include <cstdint>
#include <string>
#include <vector>

namespace lean {
/// A user struct whose definition differs between the manager (test_worker_program) and the lean
/// worker (built with LEAN_PARAMS_OTHER_LAYOUT): both put 16 bytes on the wire, so without the
/// layout in the task signature the worker decodes the manager's y as two floats, silently.
#ifndef LEAN_PARAMS_OTHER_LAYOUT
struct Params {
  double x = 0;
  double y = 0;
  template <class Archive>
  void serialize(Archive& archive) { archive(x, y); }
};
#else
struct Params {
  double x = 0;
  float y = 0;
  float z = 0;
  std::int64_t tag = 0;  // not sent
  template <class Archive>
  void serialize(Archive& archive) { archive(x, y, z); }
};
#endif
double sum_params(const Params& p);

int triple(int x);
std::string shout(const std::string& text);
std::vector<double> scale(const std::vector<double>& values, double factor);
}  // namespace lean
