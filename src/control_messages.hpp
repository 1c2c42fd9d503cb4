#pragma once
// The control messages of the protocol: each is a struct, serialized with cereal under a class
// version, and the manager's half of each exchange stands beside the worker's half.
//
//   manager                                   worker
//   send_hello   -- Hello ------------------>  read_hello: settings, set-up, its id in the pool
//   read_ready   <-- Ready -----------------  send_ready (identity; set-up outcome)
//                -- Tasks / Results --------   (entries: wire.hpp / wire_format.hpp)
//   send_signal  -- Shutdown --------------->  finishes queued messages
//                <-- Bye -------------------  send_signal: the session is over
//   send_signal  -- Exit (static, session 0)   leaves the serve loop
//   Heartbeat    <-- control tag ----------->  Heartbeat (spawned workers)
//   read_loss    <-- LossReport (control) ---  send_loss_report: the worker is about to die
//
// Hello, Ready and LossReport travel as cereal binary in the message body; the other kinds have no
// body. A body that does not decode is a wire::ProtocolError. The send_* functions take any
// transport with Transport's send() (transport.hpp); reading needs no MPI (the decoder fuzzer
// reads these messages too).

#include "wire.hpp"

#include <spawnpool/detail/bytes.hpp>
#include <spawnpool/detail/wire_format.hpp>

#include <cereal/cereal.hpp>
#include <cereal/types/common.hpp>   // enums
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>  // std::pair
#include <cereal/types/vector.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace spawnpool::detail {

/// manager -> worker, first message of a session: the manager's identity, settings, worker set-up,
/// and the worker's id in the pool (worker_roster.hpp says how ids are given).
struct Hello {
  std::int64_t poll_spin_us = 0;
  std::int64_t poll_max_sleep_us = 0;
  std::int64_t manager_pid = 0;
  std::string manager_host;
  std::int64_t task_timeout_ms = 0;       // 0: no limit
  std::int64_t heartbeat_timeout_ms = 0;  // silence after which either side gives the other up
  std::string working_directory;          // "" : stay
  std::string initializer;                // an encoded call entry (wire_format.hpp), or ""
  std::vector<std::pair<std::string, std::string>> environment;
  std::int64_t worker_id = -1;  // since version 2 (protocol 5); -1: not given
  /// Since version 3: how long the rank 0 of a group for k-rank tasks may wait for the other ranks
  /// to apply this set-up, and how long a static rank's own set-up may run before the rank reports
  /// it and ends, from when it reads this Hello (what the manager's start deadline leaves, less a
  /// margin for the answer: greeting.hpp); 0: no limit.
  std::int64_t setup_limit_ms = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(poll_spin_us, poll_max_sleep_us, manager_pid, manager_host, task_timeout_ms,
       heartbeat_timeout_ms, working_directory, initializer, environment);
    if (version >= 2) ar(worker_id);
    if (version >= 3) ar(setup_limit_ms);
  }
};

/// worker -> manager, the answer to Hello: who the worker is, and whether its set-up worked.
struct Ready {
  std::int64_t pid = 0;
  std::string host;
  std::string program;
  std::string setup_error;  // "": the set-up (working directory, initializer) worked

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(pid, host, program, setup_error);
  }
};

/// After one rank of a k-rank task failed, how long the group's other ranks may take to finish
/// their part before the group is taken as stuck (ranks waiting in a collective the failed rank
/// never reaches) and ended (rank_group.hpp).
inline constexpr std::chrono::seconds kRankStuckLimit{5};

/// worker -> manager on the control tag: the worker is about to die, and why.
struct LossReport {
  enum class Cause : std::uint8_t {
    kSignal = 0, kExit = 1, kTimeout = 2, kMpiAbort = 3, kMpiFinalize = 4,
    kRankLost = 5,  // a group's rank 0: another rank of the group ended (rank_group.hpp)
    kRankStuck = 6,  // a group's rank 0: a rank's task failed and the others did not finish
    kRankSetUpStuck = 7,  // a group's rank 0: a rank did not apply the worker set-up in time
  };
  Cause cause = Cause::kSignal;
  std::int64_t number = 0;     // the signal, the exit status, the task timeout in ms, MPI_Abort's
                               // code, the group rank that ended or did not finish its set-up
  std::uint64_t call_id = 0;   // the call that was running, 0: none
  std::string task_name;       // its task ("" : none)

  /// "killed by signal 11 (SIGSEGV)", "the task called exit(3)", "the task ran longer than ...".
  /// `subject`: what ran when the worker ended ("the initializer \"init\"" for a set-up).
  std::string describe(const std::string& subject = "the task") const;
  /// For a timeout, what the task did, without a subject ("ran longer than the task timeout (500
  /// ms)"), for a message that names the task; otherwise "".
  std::string timeout_predicate() const;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(cause, number, call_id, task_name);
  }
};

/// manager -> each of k static or communicator-mode ranks (kGroup, on the session's tag): form the
/// group of a k-rank call (rank_group.hpp, join_static_group). The first of `ranks` leads: the call
/// follows as kTasks, answered as usual; the others answer kResults with no entries when done.
struct StaticGroup {
  std::int32_t tag = 0;            // MPI_Comm_create_group's tag, unique per group
  std::vector<std::int32_t> ranks;  // the members' ranks in the pool's communicator, leader first
  std::vector<std::int64_t> pids;   // the members' pids, by rank (from their Ready)
  std::vector<std::string> hosts;   // the members' hosts, by rank

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(tag, ranks, pids, hosts);
  }
};

/// A message of `kind` with `body` (a Hello, Ready or LossReport) encoded after the header space.
template <class Body>
std::shared_ptr<Buffer> encode_control(const Body& body);

// ---- Hello: the manager greets, the worker reads ----------------------------------------------
/// @throws MpiError when MPI fails starting the send
template <class Transport>
void send_hello(Transport& transport, int rank, int tag, const Hello& hello) {
  transport.send(rank, tag, wire::Kind::kHello, 0, encode_control(hello));
}
/// Reads a whole message (header included).
/// @throws wire::ProtocolError for a message that is not a Hello of this protocol version
Hello read_hello(ByteSpan message);

// ---- Ready: the worker answers, the manager reads ---------------------------------------------
template <class Transport>
void send_ready(Transport& transport, int rank, int tag, const Ready& ready) {
  transport.send(rank, tag, wire::Kind::kReady, 0, encode_control(ready));
}
/// @throws wire::ProtocolError as read_hello
Ready read_ready(ByteSpan message);

// ---- LossReport: the dying worker's sentinel reports, the manager reads ------------------------
/// On the control tag (a spawned worker), or on a session's tag (a static or communicator-mode
/// worker, whose communicator the manager shares among its executors).
template <class Transport>
void send_loss_report(Transport& transport, int rank, const LossReport& report,
                      int tag = wire::kControlTag) {
  transport.send(rank, tag, wire::Kind::kLost, 0, encode_control(report));
}
/// @throws wire::ProtocolError as read_hello
LossReport read_loss_report(ByteSpan message);

// ---- StaticGroup: the manager forms a group, each member reads --------------------------------
template <class Transport>
void send_static_group(Transport& transport, int rank, int tag, const StaticGroup& group) {
  transport.send(rank, tag, wire::Kind::kGroup, 0, encode_control(group));
}
/// @throws wire::ProtocolError as read_hello
StaticGroup read_static_group(ByteSpan message);

// ---- Messages without a body: Shutdown, Bye, Exit, Heartbeat -----------------------------------
/// Sends a bare header of `kind` (one of the body-less kinds).
template <class Transport>
void send_signal(Transport& transport, int rank, int tag, wire::Kind kind) {
  transport.send(rank, tag, kind, 0, std::make_shared<Buffer>(wire::kHeaderSize));
}

/// True when `message` (a received message, with its header) is of `kind`.
template <class Incoming>
bool is(const Incoming& message, wire::Kind kind) {
  return message.header.kind == static_cast<std::uint16_t>(kind);
}

}  // namespace spawnpool::detail

// Each message carries its class version (cereal writes it once per message): a later version may
// add fields and read either.
CEREAL_CLASS_VERSION(spawnpool::detail::Hello, 3)
CEREAL_CLASS_VERSION(spawnpool::detail::Ready, 1)
CEREAL_CLASS_VERSION(spawnpool::detail::LossReport, 1)
CEREAL_CLASS_VERSION(spawnpool::detail::StaticGroup, 1)
