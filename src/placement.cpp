#include "placement.hpp"

#include "environment.hpp"
#include "slurm_allocation.hpp"

#include <spawnpool/errors.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <limits>
#include <sstream>

namespace spawnpool::detail {

namespace {

/// Not lost, and room under the limit for `processes` more.
bool usable(const PlacementHost& h, std::optional<int> limit, int processes) {
  return !h.lost && (!limit || h.workers + processes <= *limit);
}

bool has_free_slots(const PlacementHost& h, int processes) {
  const auto free = h.free_slots();
  return !free || *free >= processes;
}

/// Processes on a host that count for spreading: its workers and the manager.
int load(const PlacementHost& h) { return h.workers + h.reserved; }

/// The usable host with the fewest workers (first on a tie), among those with `processes` free
/// slots when `free_slot_only`.
std::optional<std::size_t> fewest_workers(const std::vector<PlacementHost>& hosts,
                                          std::optional<int> limit, int processes,
                                          bool free_slot_only) {
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (!usable(hosts[i], limit, processes) ||
        (free_slot_only && !has_free_slots(hosts[i], processes))) {
      continue;
    }
    if (!best || load(hosts[i]) < load(hosts[*best])) best = i;
  }
  return best;
}

std::optional<int> positive_number(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  int n = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n < 1) return std::nullopt;
  return n;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

/// "node1.cluster" and "node1" name the same host.
std::string short_name(std::string_view name) { return std::string(name.substr(0, name.find('.'))); }

/// The manager takes one slot on its own host (when that host is listed and its slots known).
void reserve_manager_slot(std::vector<PlacementHost>& hosts, const std::string& manager) {
  for (PlacementHost& h : hosts) {
    if (h.slots && (h.name == manager || short_name(h.name) == short_name(manager))) {
      h.reserved = 1;
      return;
    }
  }
}

/// Adds `host` to `hosts`, adding up the slots of a host listed twice.
void add_host(std::vector<PlacementHost>& hosts, PlacementHost host) {
  for (PlacementHost& h : hosts) {
    if (h.name != host.name) continue;
    if (h.slots && host.slots) {
      h.slots = *h.slots + *host.slots;
    } else if (!host.slots) {
      h.slots.reset();
    }
    return;
  }
  hosts.push_back(std::move(host));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw ConfigError("spawnpool::Options::hostfile: cannot read the hostfile '" + path + "'");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::optional<std::size_t> next_host(const std::vector<PlacementHost>& hosts, Placement policy,
                                     std::optional<int> per_host_limit, int processes) {
  if (policy == Placement::pack) {
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      if (usable(hosts[i], per_host_limit, processes) && has_free_slots(hosts[i], processes)) {
        return i;
      }
    }
  } else if (auto host = fewest_workers(hosts, per_host_limit, processes, true)) {
    return host;
  }
  // every slot taken: oversubscribe evenly
  return fewest_workers(hosts, per_host_limit, processes, false);
}

PlacementHost parse_host_entry(std::string_view entry, std::string_view where) {
  const std::string_view text = trim(entry);
  const std::size_t colon = text.rfind(':');
  PlacementHost host;
  host.name = std::string(trim(text.substr(0, colon)));
  if (colon != std::string_view::npos) {
    host.slots = positive_number(trim(text.substr(colon + 1)));
    if (!host.slots) {
      throw ConfigError("spawnpool: " + std::string(where) + ": '" + std::string(entry) +
                        "': the slot count after ':' must be a number of at least 1");
    }
  }
  if (host.name.empty()) {
    throw ConfigError("spawnpool: " + std::string(where) + ": an empty host name" +
                      (entry.empty() ? std::string() : " in '" + std::string(entry) + "'"));
  }
  return host;
}

std::vector<PlacementHost> parse_hostfile(std::string_view text, std::string_view path) {
  std::vector<PlacementHost> hosts;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const std::string where = "hostfile " + std::string(path) + " line " + std::to_string(line_no);
    // Open MPI: "name slots=n [max_slots=m]"; hydra: "name[:n]" (its further options ignored).
    std::size_t space = line.find_first_of(" \t");
    const std::string_view first = line.substr(0, space);
    PlacementHost host = parse_host_entry(first, where);
    while (space != std::string_view::npos) {
      const std::size_t start = line.find_first_not_of(" \t", space);
      if (start == std::string_view::npos) break;
      space = line.find_first_of(" \t", start);
      const std::string_view word = line.substr(start, space - start);
      if (word.substr(0, 6) == "slots=") {
        host.slots = positive_number(word.substr(6));
        if (!host.slots) {
          throw ConfigError("spawnpool: " + where + ": '" + std::string(word) +
                            "': slots must be a number of at least 1");
        }
      }
    }
    add_host(hosts, std::move(host));
  }
  if (hosts.empty()) {
    throw ConfigError("spawnpool::Options::hostfile: no host in '" + std::string(path) + "'");
  }
  return hosts;
}

std::optional<std::vector<PlacementHost>> slurm_allocation_hosts() noexcept {
  try {
    if (!env_string("SLURM_JOB_ID")) return std::nullopt;
    auto list = env_string("SLURM_JOB_NODELIST");
    if (!list) list = env_string("SLURM_NODELIST");
    if (!list) return std::nullopt;
    const auto names = expand_hostlist(*list);
    if (!names) return std::nullopt;
    // The job's task layout when it has one, else its CPUs (slurm_allocation_slots counts alike).
    // Inside a job step (the relaunched manager runs in the one hydra's srun starts)
    // SLURM_TASKS_PER_NODE is the step's ("1"): only a layout of every node is the job's.
    std::optional<std::vector<int>> slots;
    if (const auto tasks = env_string("SLURM_TASKS_PER_NODE"); tasks && env_string("SLURM_NTASKS")) {
      slots = counts_per_node(*tasks);
      if (slots && slots->size() != names->size()) slots.reset();
    }
    if (!slots) {
      if (const auto cpus = env_string("SLURM_JOB_CPUS_PER_NODE")) slots = counts_per_node(*cpus);
    }
    std::vector<PlacementHost> hosts;
    for (std::size_t i = 0; i < names->size(); ++i) {
      PlacementHost h;
      h.name = (*names)[i];
      if (slots && slots->size() == names->size()) h.slots = (*slots)[i];
      hosts.push_back(std::move(h));
    }
    reserve_manager_slot(hosts, env_string("SLURMD_NODENAME").value_or(host_name()));
    return hosts;
  } catch (...) {
    return std::nullopt;
  }
}

HostPlan::HostPlan(std::vector<PlacementHost> hosts, Placement policy,
                   std::optional<int> per_host_limit)
    : hosts_(std::move(hosts)), policy_(policy), limit_(per_host_limit) {}

std::optional<std::size_t> HostPlan::place() {
  const auto host = next_host(hosts_, policy_, limit_, processes_per_worker_);
  if (host) hosts_[*host].workers += processes_per_worker_;
  return host;
}

void HostPlan::release(std::size_t host) {
  hosts_[host].workers = std::max(0, hosts_[host].workers - processes_per_worker_);
}

void HostPlan::place_groups_of(int processes, bool spread) {
  processes_per_worker_ = std::max(1, processes);
  spread_groups_ = spread && processes_per_worker_ > 1;
}

std::optional<std::vector<std::size_t>> HostPlan::place_processes() {
  if (!spread_groups_) {
    const auto host = place();
    if (!host) return std::nullopt;
    return std::vector<std::size_t>(static_cast<std::size_t>(processes_per_worker_), *host);
  }
  std::vector<std::size_t> placed;
  std::vector<int> of_group(hosts_.size(), 0);  // processes of this group on each host
  for (int p = 0; p < processes_per_worker_; ++p) {
    std::optional<std::size_t> best;
    for (const bool free_slot_only : {true, false}) {
      for (std::size_t i = 0; i < hosts_.size(); ++i) {
        if (!usable(hosts_[i], limit_, 1) || (free_slot_only && !has_free_slots(hosts_[i], 1))) {
          continue;
        }
        if (!best || of_group[i] < of_group[*best] ||
            (of_group[i] == of_group[*best] && load(hosts_[i]) < load(hosts_[*best]))) {
          best = i;
        }
      }
      if (best) break;
    }
    if (!best) {
      release_processes(placed);
      return std::nullopt;
    }
    ++hosts_[*best].workers;
    ++of_group[*best];
    placed.push_back(*best);
  }
  return placed;
}

void HostPlan::release_processes(const std::vector<std::size_t>& hosts) {
  for (std::size_t host : hosts) hosts_[host].workers = std::max(0, hosts_[host].workers - 1);
}

bool HostPlan::mark_lost(std::size_t host) {
  if (hosts_[host].lost) return false;
  hosts_[host].lost = true;
  return true;
}

std::optional<int> HostPlan::free_slots() const {
  if (hosts_.empty()) return std::nullopt;
  long total = 0;
  for (const PlacementHost& h : hosts_) {
    if (!h.slots) return std::nullopt;
    total += *h.slots - h.reserved;
  }
  if (total < 1 || total > std::numeric_limits<int>::max()) return std::nullopt;
  return static_cast<int>(total);
}

void HostPlan::check_room(int workers) const {
  if (!limit_ || hosts_.empty()) return;
  const long room =
      spread_groups_ ? static_cast<long>(hosts_.size()) * *limit_ / processes_per_worker_
                     : static_cast<long>(hosts_.size()) * (*limit_ / processes_per_worker_);
  if (workers <= room) return;
  if (spread_groups_) {
    throw ConfigError("spawnpool: " + std::to_string(workers) + " groups of " +
                      std::to_string(processes_per_worker_) + " ranks (spread over the hosts) do " +
                      "not fit on " + std::to_string(hosts_.size()) + " host(s) of " + source_ +
                      " with max_workers_per_host " + std::to_string(*limit_) + " (room for " +
                      std::to_string(room) + "); lower Options::rank_groups or the ranks");
  }
  if (processes_per_worker_ > 1) {
    throw ConfigError("spawnpool: " + std::to_string(workers) + " groups of " +
                      std::to_string(processes_per_worker_) + " ranks (each group on one host) do " +
                      "not fit on " + std::to_string(hosts_.size()) + " host(s) of " + source_ +
                      " with max_workers_per_host " + std::to_string(*limit_) + " (room for " +
                      std::to_string(room) + "); lower Options::rank_groups or the ranks, or " +
                      "spread each task's ranks over the hosts (TaskOptions::spread)");
  }
  throw ConfigError("spawnpool::Executor: " + std::to_string(workers) + " workers do not fit on " +
                    std::to_string(hosts_.size()) + " host(s) of " + source_ +
                    " with max_workers_per_host " + std::to_string(*limit_) + " (room for " +
                    std::to_string(room) + ")");
}

HostPlan plan_placement(const Options& options) {
  const std::optional<int> limit = options.max_workers_per_host();
  if (limit && *limit < 1) {
    throw ConfigError("spawnpool::Options::max_workers_per_host must be at least 1, got " +
                      std::to_string(*limit));
  }
  std::vector<PlacementHost> hosts;
  std::string source;
  if (!options.hosts().empty()) {
    for (const std::string& entry : options.hosts()) {
      add_host(hosts, parse_host_entry(entry, "Options::hosts"));
    }
    source = "Options::hosts";
    reserve_manager_slot(hosts, host_name());
  } else if (!options.hostfile().empty()) {
    hosts = parse_hostfile(read_file(options.hostfile()), options.hostfile());
    source = "the hostfile " + options.hostfile();
    reserve_manager_slot(hosts, host_name());
  } else if (auto allocation = slurm_allocation_hosts()) {
    // On one node there is nothing to choose (and the launcher's own placement keeps the start
    // watch of a dedicated worker program: spawn/start_watch.hpp); a limit still counts.
    if (allocation->size() > 1 || limit) hosts = std::move(*allocation);
    source = "the Slurm allocation";
  }
  if (hosts.empty()) {
    if (limit) {
      throw ConfigError(
          "spawnpool::Options::max_workers_per_host needs to know the hosts: give "
          "Options::hosts or Options::hostfile, or run inside a Slurm allocation");
    }
    return HostPlan();
  }
  HostPlan plan(std::move(hosts), options.placement(), limit);
  plan.source_ = std::move(source);
  return plan;
}

}  // namespace spawnpool::detail
