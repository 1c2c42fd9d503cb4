#pragma once
// The task slots of the Slurm allocation a program runs in, over all of its nodes: what the
// default worker count and the oversubscription warning count in spawn mode (hydra places spawned
// workers on every node of the allocation, not only the manager's).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spawnpool::detail {

/// The CPUs a SLURM_JOB_CPUS_PER_NODE value adds up to: "2(x3)" is 6, "4,2(x2)" is 8, "16" is 16.
/// nullopt for anything else (empty, garbage, a count of 0). Never throws.
std::optional<long> total_cpus_per_node(std::string_view value) noexcept;

/// Each node's count of a per-node value in Slurm's compressed form, in node order: "2(x3),1" is
/// {2, 2, 2, 1}. nullopt for anything else (empty, garbage, a count of 0). Never throws.
std::optional<std::vector<int>> counts_per_node(std::string_view value) noexcept;

/// The host names of a Slurm host list, in order, as `scontrol show hostnames` prints them:
/// "node[1-3,7],gpu[01-02],login" is node1 node2 node3 node7 gpu01 gpu02 login (zero padding
/// kept; several bracket groups in one name multiply out). nullopt when it cannot be read.
/// Never throws.
std::optional<std::vector<std::string>> expand_hostlist(std::string_view list) noexcept;

/// Task slots of this job's allocation: SLURM_NTASKS when the job was given a task count, else the
/// sum of SLURM_JOB_CPUS_PER_NODE; nullopt outside a Slurm job (no SLURM_JOB_ID) or when neither
/// variable holds a usable value. Never throws.
std::optional<long> slurm_allocation_slots() noexcept;

}  // namespace spawnpool::detail
