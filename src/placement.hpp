#pragma once
// Where spawned workers go: the hosts a pool may use, how many workers each may take, and which
// host the next worker (or a replacement) starts on. The pool spawns one worker per
// MPI_Comm_spawn, so it decides each worker's host itself and names it in the "host" info key.
//
// The hosts come from Options::hosts, else Options::hostfile (read here: hydra's `host[:n]`
// lines, Open MPI's `host slots=n`), else the Slurm allocation (SLURM_JOB_NODELIST with
// SLURM_TASKS_PER_NODE or SLURM_JOB_CPUS_PER_NODE); with none of them the launcher places the
// workers. A host's slots, when known, are what it should run; the manager takes one on its own
// host. Options::max_workers_per_host is a hard limit.
//
// Lost hosts: a host on which a worker went silent past the heartbeat timeout, while no other
// worker there was heard from lately, is lost for the rest of the pool's life: no replacement goes
// there. A worker that crashed, was killed or exited is not a lost host (its host's kernel closed
// the connection, or the worker reported its own end: the host is up).

#include <spawnpool/options.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spawnpool::detail {

/// One host a pool may place workers on.
struct PlacementHost {
  std::string name;          // as the launcher knows it (the "host" info value)
  std::optional<int> slots;  // processes it should run (host:n, Slurm's tasks per node); unknown
  int reserved = 0;          // slots taken by something else: the manager on its own host
  int workers = 0;           // live workers placed there
  bool lost = false;

  /// Slots left for workers; nullopt when the slots are unknown (no bound but the limit).
  std::optional<int> free_slots() const {
    if (!slots) return std::nullopt;
    return *slots - reserved - workers;
  }
};

/// The host for the next worker (`processes` > 1: a group of that many processes that must share
/// one host): an index into `hosts`, or nullopt when no host that is not lost has room for
/// `processes` under `per_host_limit` (nullopt: no limit). A pure function.
///   spread: among the usable hosts with a free slot (or unknown slots), the one with the fewest
///           processes (workers, and the manager where it holds a slot), the first on a tie: round robin when the pool starts; when every
///           slot is taken, the same over every usable host (oversubscribed evenly).
///   pack:   the first usable host in the list with a free slot (or unknown slots, then it takes
///           every worker up to the limit); when every slot is taken, as spread.
std::optional<std::size_t> next_host(const std::vector<PlacementHost>& hosts, Placement policy,
                                     std::optional<int> per_host_limit, int processes = 1);

/// Parses one host entry, "name" or "name:n" (n slots, >= 1).
/// @throws ConfigError for an empty name or a slot count that is not a positive number
PlacementHost parse_host_entry(std::string_view entry, std::string_view where);

/// The hosts of a hostfile's text: one per line, "name", "name:n" (hydra) or "name slots=n"
/// (Open MPI); blank lines and text after '#' ignored; a host listed twice adds up its slots.
/// @throws ConfigError for a line that is none of these, or a file without hosts
std::vector<PlacementHost> parse_hostfile(std::string_view text, std::string_view path);

/// The hosts of the Slurm allocation this program runs in, with their task slots, the manager's
/// (SLURMD_NODENAME) taking one; nullopt outside a job or when the variables cannot be read.
/// Never throws.
std::optional<std::vector<PlacementHost>> slurm_allocation_hosts() noexcept;

/// The engine's view of placement: the hosts, the policy, the limit, where each worker went.
/// Not thread-safe: owned by the engine.
class HostPlan {
 public:
  HostPlan() = default;  // no hosts: the launcher places every worker
  HostPlan(std::vector<PlacementHost> hosts, Placement policy, std::optional<int> per_host_limit);

  /// False when the launcher places the workers.
  bool placing() const noexcept { return !hosts_.empty(); }
  /// Every "worker" of this plan is a group of `processes` (k-rank tasks), packed on one host or
  /// `spread` over the hosts (TaskOptions::spread): place() and place_processes() need that much
  /// room (on one host, or in all), release() gives it back, check_room() counts groups.
  void place_groups_of(int processes, bool spread = false);
  /// Whether a group's processes are placed one by one over the hosts (place_groups_of).
  bool spreads_groups() const noexcept { return spread_groups_; }
  /// Chooses the next worker's (packed group's) host and counts the worker there; nullopt when
  /// none is usable. Not for spread groups (place_processes).
  std::optional<std::size_t> place();
  /// The host of each process of the next worker or group, counted there: one entry for a
  /// worker, k equal ones for a packed group, and for a spread group one process after the other
  /// on the usable host with a free slot (else any usable host) that holds the fewest processes
  /// of this group, then the fewest processes, the first listed on a tie: round robin over the
  /// hosts with room. nullopt (nothing counted) when they do not fit.
  std::optional<std::vector<std::size_t>> place_processes();
  /// A worker placed on `host` is gone (lost, or never started).
  void release(std::size_t host);
  /// The processes place_processes placed are gone.
  void release_processes(const std::vector<std::size_t>& hosts);
  /// Marks `host` lost (true the first time).
  bool mark_lost(std::size_t host);
  const std::string& name(std::size_t host) const { return hosts_[host].name; }
  std::optional<int> per_host_limit() const noexcept { return limit_; }
  const std::vector<PlacementHost>& hosts() const noexcept { return hosts_; }
  /// Where the hosts came from, for messages ("Options::hosts", "the hostfile F", ...).
  const std::string& source() const noexcept { return source_; }
  /// The slots of every host, the manager's taken, when each host's slots are known.
  std::optional<int> free_slots() const;
  /// @throws ConfigError when `workers` (groups, see place_groups_of) do not fit on the hosts
  ///         under the per-host limit
  void check_room(int workers) const;

 private:
  friend HostPlan plan_placement(const Options& options);
  std::vector<PlacementHost> hosts_;
  std::string source_;
  Placement policy_ = Placement::spread;
  std::optional<int> limit_;
  int processes_per_worker_ = 1;
  bool spread_groups_ = false;
};

/// The hosts and policy `options` ask for (spawn mode); check_room() then checks the worker count.
/// @throws ConfigError when max_workers_per_host is below 1 or given without known hosts, a host
///         name is empty, or the hostfile cannot be read
HostPlan plan_placement(const Options& options);

}  // namespace spawnpool::detail
