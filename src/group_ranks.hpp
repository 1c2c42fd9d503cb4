#pragma once
// Static and communicator mode: which worker ranks form the group of a k-rank call
// (TaskOptions::ranks, TaskOptions::spread). Packed (the default): k ranks of one host, so that the
// task's ranks talk over shared memory; spread: k ranks on as many hosts as there are. No MPI: the
// pool engine (PoolCore::dispatch_group) asks with its roster's hosts, and at submit whether a
// packed call can ever run. Pure functions, thread-safe.

#include <cstddef>
#include <string>
#include <vector>

namespace spawnpool::detail {

/// The members of a k-rank call's group among a pool's ranks: `hosts[i]` is rank i's host,
/// `free[i]` whether it can take the call now. Packed: the first `k` free ranks of the first
/// host (in the order of `hosts`) that has k free ones; spread: one free rank of each host in turn
/// (hosts in the order they first appear), round after round, until there are k, on at least
/// `spread_hosts` hosts (the most the live ranks allow: min(k, their hosts)). Returns their
/// indices, leader first, or an empty vector while there are not such free ones (the call waits).
std::vector<std::size_t> choose_group_ranks(const std::vector<std::string>& hosts,
                                            const std::vector<bool>& free, std::size_t k,
                                            bool spread, std::size_t spread_hosts = 1);

/// How many different hosts `hosts` name.
std::size_t distinct_hosts(const std::vector<std::string>& hosts);

/// The most ranks that one host has in `hosts` (a packed call of more ranks can never run).
std::size_t most_ranks_on_one_host(const std::vector<std::string>& hosts);

}  // namespace spawnpool::detail
