#pragma once
// The task slots of the Slurm allocation a program runs in, over all of its nodes: what the
// default worker count and the oversubscription warning count in spawn mode (hydra places spawned
// workers on every node of the allocation, not only the manager's).

#include <optional>
#include <string_view>

namespace spawnpool::detail {

/// The CPUs a SLURM_JOB_CPUS_PER_NODE value adds up to: "2(x3)" is 6, "4,2(x2)" is 8, "16" is 16.
/// nullopt for anything else (empty, garbage, a count of 0). Never throws.
std::optional<long> total_cpus_per_node(std::string_view value) noexcept;

/// Task slots of this job's allocation: SLURM_NTASKS when the job was given a task count, else the
/// sum of SLURM_JOB_CPUS_PER_NODE; nullopt outside a Slurm job (no SLURM_JOB_ID) or when neither
/// variable holds a usable value. Never throws.
std::optional<long> slurm_allocation_slots() noexcept;

}  // namespace spawnpool::detail
