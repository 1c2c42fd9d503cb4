#include "one_line_reason.hpp"

#include <spawnpool/errors.hpp>

#include <cctype>

namespace spawnpool::detail {

namespace {

constexpr const char* kBlanks = " \t\r";

std::string trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(kBlanks);
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(kBlanks);
  return text.substr(first, last - first + 1);
}

/// The length of "name(123)....: " at the start of `line`, or 0 when it does not start so.
std::size_t stack_prefix_length(const std::string& line) {
  std::size_t i = 0;
  auto identifier = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  while (i < line.size() && identifier(line[i])) ++i;
  if (i == 0 || i >= line.size() || line[i] != '(') return 0;
  const std::size_t digits = ++i;
  while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
  if (i == digits || i >= line.size() || line[i] != ')') return 0;
  ++i;
  while (i < line.size() && line[i] == '.') ++i;
  if (line.compare(i, 2, ": ") != 0) return 0;
  return i + 2;
}

}  // namespace

std::string one_line_mpi_message(const std::string& mpi_message) {
  // The last non-empty line: the innermost layer of MPICH's stack, or the only line.
  std::string line;
  std::size_t end = mpi_message.size();
  while (line.empty() && end > 0) {
    const auto newline = mpi_message.rfind('\n', end - 1);
    const std::size_t begin = newline == std::string::npos ? 0 : newline + 1;
    line = trimmed(mpi_message.substr(begin, end - begin));
    end = newline == std::string::npos ? 0 : newline;
  }
  // "MPIDI_CH3_iSendv(28)...........: Communication error with rank 0": a stack line starts with
  // the function, its source line in parentheses, dots to align, and ": ".
  const std::size_t cause = stack_prefix_length(line);
  if (cause > 0) return trimmed(line.substr(cause));
  // A message without a stack: "Other MPI error, error stack:" has nothing after it.
  const std::string suffix = ", error stack:";
  if (line.size() > suffix.size() && line.compare(line.size() - suffix.size(), suffix.size(), suffix) == 0)
    line.erase(line.size() - suffix.size());
  return line;
}

std::string one_line_reason(const std::exception& e) noexcept {
  try {
    if (const auto* mpi = dynamic_cast<const MpiError*>(&e)) {
      return mpi->routine() + " failed: " + one_line_mpi_message(mpi->mpi_message());
    }
    const std::string what = e.what();
    return trimmed(what.substr(0, what.find('\n')));
  } catch (...) {
    return "";
  }
}

}  // namespace spawnpool::detail
