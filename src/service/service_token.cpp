#include "service_token.hpp"

#include "src/abandoned_sends.hpp"

#include <spawnpool/detail/seconds_text.hpp>
#include <spawnpool/detail/wire_format.hpp>
#include <spawnpool/errors.hpp>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <memory>
#include <thread>

namespace spawnpool::detail {

namespace {

using clock = std::chrono::steady_clock;

/// Polls `request` until it completes or `deadline` passes, sleeping between tests (a waiting
/// service or client must not burn a core). True when done; false when the deadline passed or MPI
/// failed the request.
bool poll_until(MPI_Request& request, clock::time_point deadline, MPI_Status* status) {
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    int done = 0;
    if (MPI_Test(&request, &done, status) != MPI_SUCCESS) return false;
    if (done) return true;
    if (clock::now() >= deadline) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

/// A receive, waited for until `deadline`; cancelled when it has not arrived by then.
bool receive_by(MPI_Request& request, clock::time_point deadline, MPI_Status* status) {
  if (poll_until(request, deadline, status)) return true;
  if (request != MPI_REQUEST_NULL) {
    MPI_Cancel(&request);
    MPI_Wait(&request, MPI_STATUS_IGNORE);
  }
  return false;
}

/// A send from memory `owner` owns, waited for until `deadline`; given up on when it has not
/// completed by then, with `owner` kept until MPI is done with it (abandoned_sends.hpp).
bool send_by(MPI_Request& request, clock::time_point deadline, std::shared_ptr<const void> owner) {
  if (poll_until(request, deadline, MPI_STATUS_IGNORE)) return true;
  abandon_send({request}, std::move(owner));
  request = MPI_REQUEST_NULL;
  return false;
}

}  // namespace

bool token_matches(const std::string& presented, const std::string& token) {
  if (presented.size() != token.size()) return false;
  unsigned char differ = 0;
  for (std::size_t i = 0; i < presented.size(); ++i) {
    differ |= static_cast<unsigned char>(presented[i] ^ token[i]);
  }
  return differ == 0;
}

std::string make_service_token() {
  unsigned char bytes[32];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(std::string("spawnpool service: no random bytes for its token: ") +
                  std::strerror(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

std::string service_token_file(const std::string& port_file, const std::string& name) {
  if (!port_file.empty()) return port_file + ".token";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.spawnpool/" + name + ".token";
}

void write_service_token(const std::string& path, const std::string& token) {
  const auto slash = path.rfind('/');
  const std::string directory = slash == std::string::npos ? "" : path.substr(0, slash);
  const std::string own_directory = "/.spawnpool";
  if (directory.size() >= own_directory.size() &&
      directory.compare(directory.size() - own_directory.size(), own_directory.size(),
                        own_directory) == 0) {
    ::mkdir(directory.c_str(), 0700);  // exists already: fine
  }
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw Error("spawnpool service: cannot create the token file " + tmp + ": " +
                std::strerror(errno));
  }
  const std::string line = token + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!written || std::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw Error("spawnpool service: cannot write the token file " + path + ": " +
                std::strerror(errno));
  }
}

std::string client_token(const std::string& path, std::string& source) {
  if (const char* given = std::getenv("SPAWNPOOL_SERVICE_TOKEN"); given && *given) {
    source = "its token from SPAWNPOOL_SERVICE_TOKEN";
    return given;
  }
  std::ifstream in(path);
  std::string token;
  if (in && std::getline(in, token) && !token.empty()) {
    source = "its token from " + path;
    return token;
  }
  source = "it has no token: SPAWNPOOL_SERVICE_TOKEN is not set and " + path + " cannot be read";
  return "";
}

bool admit_client(MPI_Comm client, const std::string& token) {
  char received[kMaxTokenBytes] = {};
  MPI_Request request = MPI_REQUEST_NULL;
  if (MPI_Irecv(received, kMaxTokenBytes, MPI_CHAR, 0, wire::kAdmissionTag, client, &request) !=
      MPI_SUCCESS) {
    return false;
  }
  MPI_Status status{};
  int count = -1;
  const bool arrived = receive_by(request, clock::now() + kAdmissionLimit, &status) &&
                       status.MPI_ERROR == MPI_SUCCESS &&
                       MPI_Get_count(&status, MPI_CHAR, &count) == MPI_SUCCESS;
  const bool admitted =
      arrived && count > 0 && token_matches(std::string(received, static_cast<std::size_t>(count)), token);
  const auto answer = std::make_shared<int>(admitted ? 1 : 0);
  MPI_Request reply = MPI_REQUEST_NULL;
  if (MPI_Isend(answer.get(), 1, MPI_INT, 0, wire::kAdmissionTag, client, &reply) == MPI_SUCCESS) {
    send_by(reply, clock::now() + std::chrono::seconds(2), answer);
  }
  return admitted;
}

std::string present_token(MPI_Comm service, const std::string& token,
                          std::chrono::milliseconds limit) {
  const auto deadline = clock::now() + limit;
  MPI_Request sent = MPI_REQUEST_NULL;
  const auto presented =
      std::make_shared<const std::string>(token.substr(0, static_cast<std::size_t>(kMaxTokenBytes)));
  if (MPI_Isend(presented->data(), static_cast<int>(presented->size()), MPI_CHAR, 0,
                wire::kAdmissionTag, service, &sent) != MPI_SUCCESS) {
    return "the token could not be sent";
  }
  int answer = 0;
  MPI_Request reply = MPI_REQUEST_NULL;
  if (MPI_Irecv(&answer, 1, MPI_INT, 0, wire::kAdmissionTag, service, &reply) != MPI_SUCCESS) {
    return "no answer could be received";
  }
  const bool answered = receive_by(reply, deadline, MPI_STATUS_IGNORE);
  if (!send_by(sent, deadline, presented) && !answered) {
    return "the service did not take the token within " + seconds_text(limit);
  }
  if (!answered) {
    return "the service did not answer within " + seconds_text(limit);
  }
  return answer == 1 ? "" : "the service refused the token";
}

}  // namespace spawnpool::detail
