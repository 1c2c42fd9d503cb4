#pragma once
// What spawnpool does differently under MPICH and Open MPI, in one place. Every special case the
// library makes for an MPI implementation is a name here with the reason next to it; the library's
// code (src/, spawn/) uses these names and never tests MPICH_VERSION or OMPI_MAJOR_VERSION itself.
// Everything here is a compile-time constant: reading it is thread-safe and cannot throw.

#include <mpi.h>  // defines MPICH_VERSION or OMPI_MAJOR_VERSION

#include <array>

namespace spawnpool::detail {

/// A name and its value: an environment variable, or an MPI_Info key.
struct NameValue {
  const char* name;
  const char* value;
};

/// Open MPI 4.1 (ob1) loses messages on an intercommunicator when two threads of one process send
/// on it, even one at a time and at MPI_THREAD_SERIALIZED (measured: tests/openmpi/FINDINGS.md).
/// With Open MPI each process therefore sends from one thread only: the manager's progress thread
/// (no caller-driven progress) and the worker's serve loop (heartbeats included; the sentinel
/// thread only sends its last report when the process dies).
#if defined(OMPI_MAJOR_VERSION)
inline constexpr bool kOneSendingThread = true;
#else
inline constexpr bool kOneSendingThread = false;
#endif

/// Whether a process started without mpiexec (a singleton) can call MPI_Comm_spawn. MPICH 4.0's
/// hydra cannot start a process manager for a singleton (MPICH runs `mpiexec -pmi_args ...`, which
/// hydra rejects), so under MPICH such a process relaunches itself under `mpiexec -n 1`
/// (spawn/relaunch.hpp). Open MPI starts its runtime daemon for a singleton.
#if defined(MPICH_VERSION)
inline constexpr bool kCanSpawnFromSingleton = false;
#else
inline constexpr bool kCanSpawnFromSingleton = true;
#endif

/// The mpiexec option of a relaunch that keeps the job alive when a spawned worker dies: without
/// it hydra kills the whole job, manager included, while spawnpool detects the loss itself and
/// replaces the worker. It is hydra's (MPICH's mpiexec): the relaunch only happens where
/// kCanSpawnFromSingleton is false, and Open MPI's mpiexec does not know the option.
inline constexpr const char* kRelaunchKeepJobOption = "-disable-auto-cleanup";

/// Environment variables set before MPI_Init (so before a relaunch too), each only when not set
/// already. Open MPI's runtime aborts every spawned job when one process dies or exits non-zero;
/// a pool must outlive a crashed worker (it replaces it). Read by the mpiexec of a relaunch, or
/// the daemon a singleton starts, and inherited by the workers. MPICH needs none.
#if defined(OMPI_MAJOR_VERSION)
inline constexpr std::array<NameValue, 2> kEnvironmentBeforeInit = {{
    {"OMPI_MCA_orte_abort_on_non_zero_status", "0"},
    {"OMPI_MCA_orte_enable_recovery", "1"},
}};
#else
inline constexpr std::array<NameValue, 0> kEnvironmentBeforeInit = {};
#endif

/// MPI_Info keys given to every MPI_Comm_spawn, besides the caller's placement (host, hostfile).
/// Open MPI refuses to start more processes than the node has free "slots" (cores), and in 4.1 the
/// slots of workers that have already ended stay counted as in use, so without oversubscription a
/// second pool fails with MPI_ERR_SPAWN (spawnpool warns itself when workers exceed the cores).
/// Workers are not bound: Open MPI would pin the first one to core 0, beside an unbound manager.
/// MPICH needs none (and passes MPI_INFO_NULL when there is no placement either).
#if defined(OMPI_MAJOR_VERSION)
inline constexpr std::array<NameValue, 2> kSpawnInfo = {{
    {"map_by", ":OVERSUBSCRIBE"},
    {"bind_to", "none"},
}};
#else
inline constexpr std::array<NameValue, 0> kSpawnInfo = {};
#endif

/// Whether a spawn starts each worker under a start watch (spawn/start_watch.hpp). MPICH's
/// MPI_Comm_spawn waits forever for a spawned process that ends before MPI_Init (hydra launches it,
/// sees it exit, and tells no one), so the manager learns of such an end only from a watcher of its
/// own. Open MPI 4.1.4 waits forever too (measured: MPI_Comm_spawn of /bin/true had not returned
/// after 40 s, from a singleton or under mpirun, with or without kEnvironmentBeforeInit), but the
/// watch has not been tried there: with Open MPI such a worker still costs the spawn timeout.
#if defined(MPICH_VERSION)
inline constexpr bool kWatchWorkerStart = true;
#else
inline constexpr bool kWatchWorkerStart = false;
#endif

/// How many spawns of workers run side by side in one process, all pools together (each
/// MPI_Comm_spawn on its own thread and its own copy of MPI_COMM_SELF). Under MPICH, 4 workers
/// start in 0.25 s side by side against 0.55-0.67 s one after the other (measured here). Not more:
/// with three pools of 8 starting at once (24 spawns) and one starting process killed, hydra's
/// mpiexec died in 3 of 5 runs (a write to the dead process's proxy: SIGPIPE, or with SIGPIPE
/// ignored an error it does not survive), taking the program with it and leaving its proxies
/// behind. Open MPI 4.1.4 with Debian's PMIx 4.2.2 hangs now and then in MPI_Comm_spawn while
/// spawned children are alive (openpmix/openpmix#2735, tests/openmpi/FINDINGS.md); side by side, a
/// 2-worker executor test hit it in 1 of 3 runs, so there the spawns stay one after the other.
#if defined(MPICH_VERSION)
inline constexpr int kSpawnsAtOnce = 4;
#else
inline constexpr int kSpawnsAtOnce = 1;
#endif

/// Added to the message when a client cannot connect to a pool service (MPI_Comm_connect failed).
/// Open MPI connects processes of different mpiruns only through one shared ompi-server; MPICH's
/// hydra needs nothing more, so there it is empty.
#if defined(OMPI_MAJOR_VERSION)
inline constexpr const char* kServiceConnectHint =
    " With Open MPI the service and its clients need one ompi-server: start the"
    " service with `mpiexec --ompi-server file:URI_FILE` and set"
    " OMPI_MCA_pmix_server_uri=file:URI_FILE for the clients (README)";
#else
inline constexpr const char* kServiceConnectHint = "";
#endif

/// Whether MPI_Comm_disconnect returns only once the peer has called it too. Open MPI's does (a
/// pool service disconnects a refused connection on a helper thread, or its own client, refused,
/// would wait for ever). MPICH's returns once the peer's progress engine has answered the close,
/// whether or not the peer disconnects; but it polls a core meanwhile, for ever when the peer
/// never answers (a stranger that stays connected, stopped or not calling MPI), so a service
/// under MPICH keeps a refused connection instead, as it keeps a dropped client's.
#if defined(OMPI_MAJOR_VERSION)
inline constexpr bool kDisconnectWaitsForThePeer = true;
#else
inline constexpr bool kDisconnectWaitsForThePeer = false;
#endif

/// Whether MPI fails a pending call with a peer once the connection to it closes, so that a pool
/// service can end its ranks' join with a client stopped in the middle of it by shutting down that
/// client's socket (src/service/join_deadline.hpp). MPICH's ch3 does (as when the client dies);
/// Open MPI 4.1 waits on in MPI_Intercomm_merge even with a dead client (tests/openmpi/FINDINGS.md).
#if defined(MPICH_VERSION)
inline constexpr bool kClosedConnectionFailsCalls = true;
#else
inline constexpr bool kClosedConnectionFailsCalls = false;
#endif

}  // namespace spawnpool::detail
