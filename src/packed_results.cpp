#include <spawnpool/detail/packed_results.hpp>

#include <spawnpool/errors.hpp>

#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace spawnpool::detail {

std::string plain_task_name(const std::string& packed_name) {
  const std::string suffix = packed_task_name("");
  if (packed_name.size() >= suffix.size() &&
      packed_name.compare(packed_name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return packed_name.substr(0, packed_name.size() - suffix.size());
  }
  return packed_name;
}

ByteSpan read_packed_state(const TaskState& state, std::size_t count, std::size_t value_size,
                           const std::string& task_name, std::vector<PackedError>& errors) {
  ByteSpan payload = state.result().span;  // rethrows the packed call's own error
  const PackedOrigin* origin = static_cast<const PackedOrigin*>(state.decoded().get());
  if (origin != nullptr) payload = origin->payload.span;
  std::vector<PackedFailure> failures;
  ByteSpan values;
  try {
    values = read_packed_results(payload, count, value_size, failures);
  } catch (const std::exception& e) {
    throw Error("spawnpool: could not decode the results of a chunk of task \"" + task_name +
                "\": " + e.what());
  }
  errors.clear();
  errors.reserve(failures.size());
  for (PackedFailure& f : failures) {
    errors.push_back(
        {static_cast<std::size_t>(f.index),
         std::make_exception_ptr(RemoteError(
             std::move(f.type_name), std::move(f.message), origin ? origin->worker_id : -1,
             origin ? origin->worker_pid : 0L, origin ? origin->host : std::string(), task_name))});
  }
  return values;
}

}  // namespace spawnpool::detail
