#pragma once
// Tasks of the lean worker program built by spawnpool_add_worker(test_lean_worker worker_tasks.cpp);
// the manager (test_worker_program) links worker_tasks.cpp too, so both register them.

#include <string>
#include <vector>

namespace lean {
int triple(int x);
std::string shout(const std::string& text);
std::vector<double> scale(const std::vector<double>& values, double factor);
}  // namespace lean
