#include "launcher_noise_filter.hpp"

#include <array>
#include <optional>

namespace spawnpool::detail {

namespace {

// hydra's texts (MPICH 4.0.2: src/pm/hydra/ui/mpich/mpiexec.c). Its Ctrl-C lines carry the prefix
// "[mpiexec@HOST] " (HYDU_dump).
constexpr std::string_view kMpiexecPrefix = "[mpiexec@";
// A proxy's lines: "[proxy:PGID:PROXY@HOST] ...".
constexpr std::string_view kProxyPrefix = "[proxy:";
constexpr std::array<std::string_view, 2> kCtrlCMessages = {
    "Sending Ctrl-C to processes as requested", "Press Ctrl-C again to force abort"};
constexpr std::string_view kTerminated = "YOUR APPLICATION TERMINATED WITH THE EXIT STRING: ";
constexpr std::string_view kTypically = "This typically refers to a problem with your application.";
constexpr std::string_view kFaq = "Please see the FAQ page for debugging suggestions";

// Longest host name part we wait for before deciding a line is not hydra's (HOST_NAME_MAX: 64;
// hydra's own limit is 256).
constexpr std::size_t kMaxHostLength = 256;
// Longest "... EXIT STRING: <strsignal text> (signal N)" line we wait for.
constexpr std::size_t kMaxTerminatedLength = 512;

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// `start` is the beginning of `whole` (or all of it).
bool is_start_of(std::string_view start, std::string_view whole) {
  return start.size() <= whole.size() && starts_with(whole, start);
}

bool host_name_like(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostLength) return false;
  for (char c : host)
    if (c == ' ' || c == '[' || c == ']' || c == '\t' || c == '\r') return false;
  return true;
}

// "[mpiexec@HOST] ..." or "[proxy:...@HOST] ...": any line hydra writes under its own name.
bool is_named_launcher_line(std::string_view line) {
  const bool mpiexec = starts_with(line, kMpiexecPrefix);
  if (!mpiexec && !starts_with(line, kProxyPrefix)) return false;
  const auto close = line.find("] ");
  if (close == std::string_view::npos) return false;
  const std::size_t from = mpiexec ? kMpiexecPrefix.size() : kProxyPrefix.size();
  return host_name_like(line.substr(from, close - from));
}

// `start`, the beginning of a line, begins with `prefix` ("[mpiexec@", "[proxy:"): nullopt when it
// can no longer become "PREFIX...HOST] message"; else the message so far ("" while "HOST] " is
// not complete yet).
std::optional<std::string_view> named_line_message(std::string_view start, std::string_view prefix) {
  const auto close = start.find("] ");
  if (close == std::string_view::npos) {
    std::string_view host = start.substr(prefix.size());
    if (!host.empty() && host.back() == ']') host.remove_suffix(1);  // its "] " half there
    if (host.empty() || host_name_like(host)) return std::string_view{};
    return std::nullopt;
  }
  if (!host_name_like(start.substr(prefix.size(), close - prefix.size()))) return std::nullopt;
  return start.substr(close + 2);
}

}  // namespace

bool LauncherNoiseFilter::is_launcher_line(std::string_view line) {
  if (starts_with(line, kMpiexecPrefix)) {
    const auto close = line.find("] ");
    if (close == std::string_view::npos) return false;
    if (!host_name_like(line.substr(kMpiexecPrefix.size(), close - kMpiexecPrefix.size())))
      return false;
    const std::string_view message = line.substr(close + 2);
    for (std::string_view known : kCtrlCMessages)
      if (message == known) return true;
    return false;
  }
  if (starts_with(line, kTerminated)) {
    // "...: Aborted (signal 6)"
    return line.size() <= kMaxTerminatedLength && line.back() == ')' &&
           line.find(" (signal ", kTerminated.size()) != std::string_view::npos;
  }
  return false;
}

bool LauncherNoiseFilter::could_become_dropped(std::string_view start) const {
  for (std::string_view prefix : {kMpiexecPrefix, kProxyPrefix}) {
    // A proxy's lines are dropped only once spawnpool ends mpiexec; mpiexec's Ctrl-C lines always.
    const bool droppable = launcher_ending_ || prefix == kMpiexecPrefix;
    if (is_start_of(start, prefix)) return droppable;
    if (!starts_with(start, prefix)) continue;
    const auto message = named_line_message(start, prefix);
    if (!droppable || !message) return false;
    if (launcher_ending_) return true;
    for (std::string_view known : kCtrlCMessages)
      if (is_start_of(*message, known)) return true;
    return false;
  }
  if (is_start_of(start, kTerminated)) return true;
  if (starts_with(start, kTerminated)) return start.size() < kMaxTerminatedLength;
  if (after_ == After::kTerminated) return is_start_of(start, kTypically);
  if (after_ == After::kTypically) return is_start_of(start, kFaq);
  return false;
}

bool LauncherNoiseFilter::drop(std::string_view line) {
  const After before = after_;
  after_ = After::kOther;
  if (launcher_ending_ && is_named_launcher_line(line)) return true;
  if (is_launcher_line(line)) {
    if (starts_with(line, kTerminated)) after_ = After::kTerminated;
    return true;
  }
  if (before == After::kTerminated && line == kTypically) {
    after_ = After::kTypically;
    return true;
  }
  return before == After::kTypically && line == kFaq;
}

std::string LauncherNoiseFilter::feed(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  while (!bytes.empty()) {
    const auto newline = bytes.find('\n');
    const std::size_t take = newline == std::string_view::npos ? bytes.size() : newline + 1;
    const std::string_view piece = bytes.substr(0, take);
    bytes.remove_prefix(take);
    const bool line_ends = newline != std::string_view::npos;
    if (line_passing_) {
      out.append(piece);
      if (line_ends) line_passing_ = false;
      continue;
    }
    pending_.append(piece);
    if (line_ends) {
      const std::string_view line(pending_.data(), pending_.size() - 1);
      if (!drop(line)) out.append(pending_);
      pending_.clear();
    } else if (!could_become_dropped(pending_)) {
      out.append(pending_);
      pending_.clear();
      line_passing_ = true;
      after_ = After::kOther;
    }
  }
  return out;
}

std::string LauncherNoiseFilter::release() {
  std::string held;
  held.swap(pending_);
  if (!held.empty()) {
    line_passing_ = true;
    after_ = After::kOther;
  }
  return held;
}

}  // namespace spawnpool::detail
