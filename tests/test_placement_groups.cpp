// Where the ranks of a k-rank task go across hosts (TaskOptions::spread): a spawned group's
// processes in the HostPlan (src/placement.hpp, packed on one host or spread over the hosts), and
// the idle ranks that form a static group (src/group_ranks.hpp). No MPI.
#include "src/group_ranks.hpp"
#include "src/placement.hpp"
#include "tests/placement_hosts.hpp"

#include <spawnpool/errors.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using spawnpool::Placement;
using spawnpool::detail::choose_group_ranks;
using spawnpool::detail::HostPlan;
using spawnpool::detail::most_ranks_on_one_host;
using spawnpool::detail::PlacementHost;

using spawnpool_test::hosts;

/// The hosts of the next group's processes, "a+b", or "-" when it does not fit.
std::string place_group(HostPlan& plan, std::vector<std::size_t>* placed = nullptr) {
  const auto where = plan.place_processes();
  if (!where) return "-";
  if (placed != nullptr) *placed = *where;
  std::string out;
  for (std::size_t h : *where) out += (out.empty() ? "" : "+") + plan.name(h);
  return out;
}

TEST(GroupPlacement, ASpreadGroupPutsEachProcessOnAnotherHost) {
  HostPlan plan(hosts({{"a", 0}, {"b", 0}, {"c", 0}}), Placement::spread, std::nullopt);
  plan.place_groups_of(2, true);
  EXPECT_TRUE(plan.spreads_groups());
  EXPECT_EQ(place_group(plan), "a+b");
  EXPECT_EQ(place_group(plan), "c+a");  // round robin: the fewest processes next
  EXPECT_EQ(place_group(plan), "b+c");
}

TEST(GroupPlacement, ASpreadGroupLargerThanTheHostsWrapsAround) {
  HostPlan plan(hosts({{"a", 0}, {"b", 0}}), Placement::spread, std::nullopt);
  plan.place_groups_of(3, true);
  EXPECT_EQ(place_group(plan), "a+b+a");
}

TEST(GroupPlacement, ASpreadGroupCountsEachProcessAgainstTheLimitAndSlots) {
  // At most 2 per host: 3 hosts hold 6 processes = 3 spread groups of 2, where packed groups of
  // 3 would not fit at all.
  HostPlan plan(hosts({{"a", 0}, {"b", 0}, {"c", 0}}), Placement::spread, 2);
  plan.place_groups_of(3, true);
  EXPECT_NO_THROW(plan.check_room(2));
  EXPECT_THROW(plan.check_room(3), spawnpool::ConfigError);
  std::vector<std::size_t> first;
  EXPECT_EQ(place_group(plan, &first), "a+b+c");
  EXPECT_EQ(place_group(plan), "a+b+c");
  EXPECT_EQ(place_group(plan), "-");  // every host at its limit: nothing counted
  plan.release_processes(first);      // the first group ended: its room is free again
  EXPECT_EQ(place_group(plan), "a+b+c");

  // Slots: free slots first (b has 2), then oversubscribed evenly.
  HostPlan slots(hosts({{"a", 1}, {"b", 2}}), Placement::spread, std::nullopt);
  slots.place_groups_of(2, true);
  EXPECT_EQ(place_group(slots), "a+b");
  EXPECT_EQ(place_group(slots), "b+a");  // b's last slot, then a (fewer processes) oversubscribed
}

TEST(GroupPlacement, APackedGroupThatFitsNoHostNamesTheSpreadOption) {
  HostPlan plan(hosts({{"a", 0}, {"b", 0}}), Placement::spread, 2);
  plan.place_groups_of(3);
  EXPECT_FALSE(plan.spreads_groups());
  try {
    plan.check_room(1);
    FAIL() << "no ConfigError";
  } catch (const spawnpool::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("TaskOptions::spread"), std::string::npos) << e.what();
  }
  // Spread, the same group fits: 2 hosts x 2.
  HostPlan spread(hosts({{"a", 0}, {"b", 0}}), Placement::spread, 2);
  spread.place_groups_of(3, true);
  EXPECT_NO_THROW(spread.check_room(1));
  EXPECT_EQ(place_group(spread), "a+b+a");
}

TEST(GroupPlacement, APackedGroupsProcessesShareOneHost) {
  HostPlan plan(hosts({{"a", 0}, {"b", 0}}), Placement::spread, std::nullopt);
  plan.place_groups_of(2);
  std::vector<std::size_t> first;
  EXPECT_EQ(place_group(plan, &first), "a+a");
  EXPECT_EQ(place_group(plan), "b+b");
  plan.release_processes(first);
  EXPECT_EQ(place_group(plan), "a+a");
}

std::string chosen(const std::vector<std::string>& hosts, const std::vector<bool>& free,
                   std::size_t k, bool spread, std::size_t spread_hosts = 1) {
  std::string out;
  for (std::size_t i : choose_group_ranks(hosts, free, k, spread, spread_hosts)) {
    out += (out.empty() ? "" : " ") + std::to_string(i);
  }
  return out.empty() ? "-" : out;
}

TEST(StaticGroupRanks, PackedTakesIdleRanksOfOneHost) {
  const std::vector<std::string> hosts{"n1", "n2", "n3", "n1", "n2", "n3"};
  EXPECT_EQ(chosen(hosts, {true, true, true, true, true, true}, 2, false), "0 3");
  // n1 has only one idle rank: n2's two.
  EXPECT_EQ(chosen(hosts, {true, true, true, false, true, true}, 2, false), "1 4");
  // No host has 2 idle ranks: the call waits.
  EXPECT_EQ(chosen(hosts, {true, true, true, false, false, false}, 2, false), "-");
  EXPECT_EQ(chosen(hosts, {true, true, true, true, true, true}, 3, false), "-");
}

TEST(StaticGroupRanks, SpreadTakesOneIdleRankPerHostInTurn) {
  const std::vector<std::string> hosts{"n1", "n1", "n2", "n2", "n3"};
  EXPECT_EQ(chosen(hosts, {true, true, true, true, true}, 2, true), "0 2");
  EXPECT_EQ(chosen(hosts, {true, true, true, true, true}, 3, true), "0 2 4");
  EXPECT_EQ(chosen(hosts, {true, true, true, true, true}, 4, true), "0 2 4 1");  // second round
  EXPECT_EQ(chosen(hosts, {false, true, false, false, true}, 2, true), "1 4");
  EXPECT_EQ(chosen(hosts, {false, false, true, true, false}, 2, true), "2 3");  // one host left
  EXPECT_EQ(chosen(hosts, {false, false, true, false, false}, 2, true), "-");
  // On at least 2 hosts (the live ranks span 3): two idle ranks of one host do not do; it waits.
  EXPECT_EQ(chosen(hosts, {false, false, true, true, false}, 2, true, 2), "-");
  EXPECT_EQ(chosen(hosts, {false, true, true, true, false}, 3, true, 2), "1 2 3");
  EXPECT_EQ(chosen(hosts, {false, true, true, true, false}, 3, true, 3), "-");
}

TEST(StaticGroupRanks, MostRanksOnOneHostAndDistinctHosts) {
  EXPECT_EQ(spawnpool::detail::distinct_hosts({"n1", "n2", "n1", "n3"}), 3u);
  EXPECT_EQ(most_ranks_on_one_host({"n1", "n2", "n1", "n3"}), 2u);
  EXPECT_EQ(most_ranks_on_one_host({"n1", "n2", "n3"}), 1u);
  EXPECT_EQ(most_ranks_on_one_host({}), 0u);
}

}  // namespace
