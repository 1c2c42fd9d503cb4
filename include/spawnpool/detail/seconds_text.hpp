#pragma once
// A duration in messages: "3 s", "2.5 s", "0.001 s". Settings are taken in milliseconds (Options;
// the SPAWNPOOL_* variables in seconds with a fraction), so a message that said "within 0 s" for a
// timeout of 1 ms would name a limit nobody set. Header-only: the launch layer (spawn/) and the
// engine (src/) both use it.

#include <chrono>
#include <cstdlib>
#include <string>

namespace spawnpool::detail {

/// `ms` in seconds, with as many decimals as it needs (none for whole seconds, at most 3).
/// Thread-safe.
inline std::string seconds_text(std::chrono::milliseconds ms) {
  const long long count = ms.count();
  std::string text = (count < 0 ? "-" : "") + std::to_string(std::llabs(count) / 1000);
  if (const long long rest = std::llabs(count) % 1000; rest != 0) {
    std::string fraction = std::to_string(1000 + rest).substr(1);
    while (fraction.back() == '0') fraction.pop_back();
    text += "." + fraction;
  }
  return text + " s";
}

}  // namespace spawnpool::detail
