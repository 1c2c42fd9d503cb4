#pragma once
// Whether this process is a copy of the serving worker made by a task's fork().
//
// A task may fork() (to run a helper, say) and its child may come back into spawnpool's code
// instead of ending with exec or _exit. Such a copy shares the worker's MPI connection and its
// sentinel's pipes: anything it sent would corrupt the pool, so the worker loop and the sentinel
// ask here before they act. The question is asked on every call, so it must not cost a system
// call: a pthread_atfork child handler marks every fork() made since the worker began serving,
// and only then is getpid() compared (getpid() is a real system call since glibc 2.25; made for
// every call it cost a fifth of a static-mode round trip, bench/PROFILE.md "2026-12-04").
// A copy made with the raw clone or fork system call (not the C library's fork()) is not seen.

#include <sys/types.h>

namespace spawnpool::detail {

/// Records the calling process as the serving worker and starts watching for fork() (the handler
/// is registered once per process). Called when the worker starts serving and when its sentinel
/// is armed. Not thread-safe: call before the threads that ask is_forked_copy_of_worker start.
void remember_serving_worker();

/// The pid remember_serving_worker recorded, 0 before it was called. Async-signal-safe.
pid_t serving_worker_pid() noexcept;

/// True in a process made by fork() from the serving worker: a load of a flag, and a getpid()
/// only in a process that forked since the worker began serving. False before
/// remember_serving_worker. Thread-safe and async-signal-safe.
bool is_forked_copy_of_worker() noexcept;

}  // namespace spawnpool::detail
