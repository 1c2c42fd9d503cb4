#include "group_ranks.hpp"

#include <algorithm>
#include <map>

namespace spawnpool::detail {

namespace {

/// The distinct hosts in the order they first appear, each with the indices of its ranks.
std::vector<std::vector<std::size_t>> ranks_by_host(const std::vector<std::string>& hosts) {
  std::vector<std::vector<std::size_t>> by_host;
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    const auto [it, added] = index.emplace(hosts[i], by_host.size());
    if (added) by_host.emplace_back();
    by_host[it->second].push_back(i);
  }
  return by_host;
}

}  // namespace

std::vector<std::size_t> choose_group_ranks(const std::vector<std::string>& hosts,
                                            const std::vector<bool>& free, std::size_t k,
                                            bool spread, std::size_t spread_hosts) {
  const auto by_host = ranks_by_host(hosts);
  std::vector<std::size_t> chosen;
  if (!spread) {
    for (const auto& ranks : by_host) {
      chosen.clear();
      for (std::size_t i : ranks) {
        if (free[i]) chosen.push_back(i);
        if (chosen.size() == k) return chosen;
      }
    }
    return {};
  }
  std::vector<std::size_t> next(by_host.size(), 0);  // per host: the next of its ranks to look at
  for (bool took = true; took && chosen.size() < k;) {
    took = false;
    for (std::size_t h = 0; h < by_host.size() && chosen.size() < k; ++h) {
      while (next[h] < by_host[h].size() && !free[by_host[h][next[h]]]) ++next[h];
      if (next[h] == by_host[h].size()) continue;
      chosen.push_back(by_host[h][next[h]++]);
      took = true;
    }
  }
  std::vector<std::string> chosen_hosts;
  for (std::size_t i : chosen) chosen_hosts.push_back(hosts[i]);
  if (chosen.size() < k || distinct_hosts(chosen_hosts) < spread_hosts) return {};
  return chosen;
}

std::size_t distinct_hosts(const std::vector<std::string>& hosts) {
  return ranks_by_host(hosts).size();
}

std::size_t most_ranks_on_one_host(const std::vector<std::string>& hosts) {
  std::size_t most = 0;
  for (const auto& ranks : ranks_by_host(hosts)) most = std::max(most, ranks.size());
  return most;
}

}  // namespace spawnpool::detail
