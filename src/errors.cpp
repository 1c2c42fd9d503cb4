#include <spawnpool/errors.hpp>

#include <spawnpool/detail/mpi_call.hpp>

namespace spawnpool {

namespace {
std::string routine_name(const std::string& call) {
  const auto paren = call.find('(');
  return paren == std::string::npos ? call : call.substr(0, paren);
}
}  // namespace

MpiError::MpiError(std::string routine, int code, std::string mpi_message)
    : Error(routine_name(routine) + " failed (MPI error " + std::to_string(code) + "): " +
            mpi_message),
      routine_(routine_name(routine)),
      code_(code),
      mpi_message_(std::move(mpi_message)) {}

RemoteError::RemoteError(std::string type_name, std::string message, int worker_id,
                         long worker_pid, std::string host, std::string task_name)
    : Error(type_name + ": " + message + " (task \"" + task_name + "\" on worker " +
            std::to_string(worker_id) + ", pid " + std::to_string(worker_pid) + ", host " + host +
            ")"),
      type_name_(std::move(type_name)),
      message_(std::move(message)),
      worker_id_(worker_id),
      worker_pid_(worker_pid),
      host_(std::move(host)),
      task_name_(std::move(task_name)) {}

namespace detail {
std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "unknown MPI error";
  return std::string(text, static_cast<std::size_t>(length));
}
}  // namespace detail

}  // namespace spawnpool
