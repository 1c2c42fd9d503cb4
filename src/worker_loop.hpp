#pragma once
// The worker side: receive task messages from the manager, run them, send the results back.

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>

namespace spawnpool::detail {

/// How long a worker serves.
enum class ServeUntil {
  kSessionEnds,  // spawn mode: one executor; leave when it shuts down (kShutdown)
  kExit,         // static / communicator mode: serve any number of executors, leave on kExit
  kClientLeaves, // pool service: one client; leave when it shuts down; no watch on the client
};

/// Serves the manager at `manager_rank` of `comm`. Each executor (session, identified by its tag)
/// greets the worker with kHello, sends kTasks messages, and ends with kShutdown. Every call of a
/// message runs in order and each message is answered with one kResults message. Returns the exit
/// status for the process (0 after a normal end). Never throws: problems are reported on stderr.
int serve_as_worker(MPI_Comm comm, int manager_rank, ServeUntil until);

/// serve_as_worker's status for a pool service's client that was dropped: silent (a client sends
/// a heartbeat every second) for longer than set_client_silence_limit, or its process gone (same
/// host). Its pending calls are abandoned; the service goes on with the next client.
inline constexpr int kClientDropped = 3;

/// How long a pool service's rank waits for word from its client (ServiceOptions::client_timeout).
void set_client_silence_limit(std::chrono::milliseconds limit);

/// The most bytes one message from a pool service's client may announce
/// (ServiceOptions::max_message_size); a client that announces more is dropped. 0: no limit.
void set_client_message_limit(std::uint64_t bytes);

/// What a pool service's rank asks every 100 ms while it serves a client: true when another rank
/// has dropped that client (src/service/client_drop_notice.hpp); the rank then drops it too
/// (kClientDropped). Empty: nobody is asked. Set before serving, from the serving thread.
void set_client_dropped_elsewhere(std::function<bool()> check);

/// Whether the library's built-in tasks (TaskEntry::builtin) may run here; true unless a pool
/// service turned them off (ServiceOptions::allow_builtin_tasks). Call before serving.
void set_builtin_tasks_allowed(bool allowed);

/// True while the calling thread runs a task for a manager (between a call's start and its end),
/// and its name in `task_name` when given. A thread a task started is not running a task.
bool running_task(std::string* task_name = nullptr);

/// Manager side of ServeUntil::kExit: tells every other rank of `comm` but those in `lost` to leave
/// its serve loop and waits (bounded, 30 s) until they took the message. When `lost` is not empty
/// the ranks are told so, and leave without MPI_Finalize (RuntimeState::job_lost_a_rank).
void release_workers(MPI_Comm comm, int manager_rank, const std::set<int>& lost = {});

}  // namespace spawnpool::detail
