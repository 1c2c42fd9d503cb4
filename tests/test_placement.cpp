// Where spawned workers go (src/placement.hpp): the choice of the next worker's host from the
// hosts, their slots, the per-host limit, the policy and the lost hosts; reading host lists from
// Options, a hostfile and a Slurm allocation. No MPI.
#include "src/placement.hpp"
#include "src/slurm_allocation.hpp"

#include "tests/placement_hosts.hpp"
#include "tests/scoped_env.hpp"

#include <spawnpool/errors.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

using spawnpool::Placement;
using spawnpool::detail::HostPlan;
using spawnpool::detail::PlacementHost;

using spawnpool_test::hosts;

/// The hosts `n` workers land on, in order, as a plan places them one by one.
std::string place(HostPlan& plan, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    const auto host = plan.place();
    out += (out.empty() ? "" : " ") + (host ? plan.name(*host) : std::string("-"));
  }
  return out;
}

TEST(Placement, SpreadIsRoundRobinOverTheHosts) {
  HostPlan plan(hosts({{"a", 0}, {"b", 0}, {"c", 0}}), Placement::spread, std::nullopt);
  EXPECT_EQ(place(plan, 7), "a b c a b c a");
}

TEST(Placement, PackFillsEachHostToItsLimitBeforeTheNext) {
  HostPlan plan(hosts({{"a", 0}, {"b", 0}, {"c", 0}}), Placement::pack, 2);
  EXPECT_EQ(place(plan, 7), "a a b b c c -");  // the seventh has no room: 3 hosts x 2
}

TEST(Placement, PackFillsSlotsThenOversubscribesEvenly) {
  HostPlan plan(hosts({{"a", 2}, {"b", 3}}), Placement::pack, std::nullopt);
  EXPECT_EQ(place(plan, 8), "a a b b b a a b");  // then the fewest workers first
}

TEST(Placement, AGroupOfRanksNeedsRoomForAllOfThemOnOneHost) {
  // k-rank tasks: each "worker" of the plan is a group of 2 processes on one host.
  HostPlan plan(hosts({{"a", 0}, {"b", 0}}), Placement::spread, 3);
  plan.place_groups_of(2);
  EXPECT_NO_THROW(plan.check_room(2));
  EXPECT_THROW(plan.check_room(3), spawnpool::ConfigError);  // 3 // 2 = one group per host
  EXPECT_EQ(place(plan, 3), "a b -");
  plan.release(0);  // the group on a ended: its 2 processes' room is free again
  EXPECT_EQ(place(plan, 1), "a");
  // Slots: a group goes where 2 slots are free, then spreads evenly when none has 2.
  HostPlan slots(hosts({{"a", 1}, {"b", 3}}), Placement::pack, std::nullopt);
  slots.place_groups_of(2);
  EXPECT_EQ(place(slots, 3), "b a a");  // then the fewest processes, the first on a tie
  HostPlan too_small(hosts({{"a", 0}}), Placement::spread, 1);
  too_small.place_groups_of(2);
  EXPECT_THROW(too_small.check_room(1), spawnpool::ConfigError);
}

TEST(Placement, WithoutSlotsOrLimitPackPutsEveryWorkerOnTheFirstHost) {
  HostPlan plan(hosts({{"a", 0}, {"b", 0}}), Placement::pack, std::nullopt);
  EXPECT_EQ(place(plan, 3), "a a a");
}

TEST(Placement, SpreadPrefersFreeSlotsAndTheManagersSlotCounts) {
  // sbatch -N 3 -n 6: 2 task slots per node, the manager on the first: what hydra does too.
  auto allocation = hosts({{"node1", 2}, {"node2", 2}, {"node3", 2}});
  allocation[0].reserved = 1;
  HostPlan plan(allocation, Placement::spread, std::nullopt);
  EXPECT_EQ(place(plan, 5), "node2 node3 node1 node2 node3");
  EXPECT_EQ(place(plan, 3), "node1 node2 node3");  // every slot taken: evenly over all
}

TEST(Placement, TheLimitHoldsAndNothingGoesToALostHost) {
  HostPlan plan(hosts({{"a", 0}, {"b", 0}, {"c", 0}}), Placement::spread, 2);
  EXPECT_EQ(place(plan, 5), "a b c a b");  // a:2 b:2 c:1
  // b is lost with its two workers: the first replacement goes to c (a is full), the second
  // has nowhere to go.
  plan.mark_lost(1);
  plan.release(1);
  plan.release(1);
  EXPECT_EQ(place(plan, 2), "c -");
  // A worker on a ends: a has room again; b stays lost.
  plan.release(0);
  EXPECT_EQ(place(plan, 2), "a -");
}

TEST(Placement, NextHostIsAPureFunctionOfTheHosts) {
  auto h = hosts({{"a", 0}, {"b", 0}});
  h[0].workers = 3;
  h[1].workers = 1;
  EXPECT_EQ(spawnpool::detail::next_host(h, Placement::spread, std::nullopt), 1u);
  EXPECT_EQ(spawnpool::detail::next_host(h, Placement::pack, std::nullopt), 0u);
  EXPECT_EQ(spawnpool::detail::next_host(h, Placement::pack, 3), 1u);
  h[1].lost = true;
  EXPECT_EQ(spawnpool::detail::next_host(h, Placement::spread, std::nullopt), 0u);
  EXPECT_EQ(spawnpool::detail::next_host(h, Placement::spread, 3), std::nullopt);
  EXPECT_EQ(spawnpool::detail::next_host({}, Placement::spread, std::nullopt), std::nullopt);
}

TEST(Placement, HostEntriesAndHostfiles) {
  const PlacementHost h = spawnpool::detail::parse_host_entry("node7:4", "test");
  EXPECT_EQ(h.name, "node7");
  EXPECT_EQ(h.slots, 4);
  EXPECT_EQ(spawnpool::detail::parse_host_entry(" node8 ", "test").slots, std::nullopt);
  for (const char* bad : {"", ":2", "node:", "node:0", "node:x", "node:-1"}) {
    EXPECT_THROW(spawnpool::detail::parse_host_entry(bad, "test"), spawnpool::ConfigError) << bad;
  }
  const auto file = spawnpool::detail::parse_hostfile(
      "# the cluster\nnode1:2\n\nnode2   # no count\nnode3 slots=4 max_slots=8\nnode1:1\n", "f");
  ASSERT_EQ(file.size(), 3u);
  EXPECT_EQ(file[0].name, "node1");
  EXPECT_EQ(file[0].slots, 3);  // listed twice: 2 + 1
  EXPECT_EQ(file[1].name, "node2");
  EXPECT_EQ(file[1].slots, std::nullopt);
  EXPECT_EQ(file[2].slots, 4);
  EXPECT_THROW(spawnpool::detail::parse_hostfile("# nothing\n\n", "f"), spawnpool::ConfigError);
  EXPECT_THROW(spawnpool::detail::parse_hostfile("node1 slots=0\n", "f"), spawnpool::ConfigError);
}

TEST(Placement, OptionsAreCheckedBeforeAnythingStarts) {
  using spawnpool::Options;
  using spawnpool::detail::plan_placement;
  ScopedEnv no_job("SLURM_JOB_ID", nullptr);
  EXPECT_THROW(plan_placement(Options{}.hosts({"a"}).max_workers_per_host(0)),
               spawnpool::ConfigError);
  EXPECT_THROW(plan_placement(Options{}.hosts({"a", ""})), spawnpool::ConfigError);
  try {
    plan_placement(Options{}.hosts({"a", "b", "c"}).max_workers_per_host(2)).check_room(7);
    ADD_FAILURE() << "no ConfigError for 7 workers on 3 hosts x 2";
  } catch (const spawnpool::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("7 workers do not fit on 3 host(s)"), std::string::npos)
        << e.what();
  }
  const HostPlan fits = plan_placement(Options{}.hosts({"a", "b", "c"}).max_workers_per_host(2));
  EXPECT_NO_THROW(fits.check_room(6));
  EXPECT_TRUE(fits.placing());
  EXPECT_EQ(fits.free_slots(), std::nullopt);  // slots unknown
  // A limit needs hosts; without any, the launcher places the workers.
  EXPECT_THROW(plan_placement(Options{}.max_workers_per_host(1)), spawnpool::ConfigError);
  EXPECT_FALSE(plan_placement(Options{}).placing());
  EXPECT_THROW(plan_placement(Options{}.hostfile("/nonexistent/hosts")), spawnpool::ConfigError);
  const std::string path = testing::TempDir() + "spawnpool-test-hosts";
  std::ofstream(path) << "x1:1\nx2:2\n";
  HostPlan plan = plan_placement(Options{}.hostfile(path).placement(Placement::pack));
  EXPECT_EQ(plan.free_slots(), 3);  // the default worker count (the manager is on neither host)
  EXPECT_EQ(place(plan, 4), "x1 x2 x2 x1");
  std::remove(path.c_str());
}

TEST(Placement, TheSlurmAllocationsNodesAndTaskSlots) {
  ScopedEnv job("SLURM_JOB_ID", "12");
  ScopedEnv nodes("SLURM_JOB_NODELIST", "node[1-3]");
  ScopedEnv tasks("SLURM_NTASKS", "6");
  ScopedEnv per_node("SLURM_TASKS_PER_NODE", "2(x3)");
  ScopedEnv cpus("SLURM_JOB_CPUS_PER_NODE", "4(x3)");
  ScopedEnv me("SLURMD_NODENAME", "node2");
  auto allocation = spawnpool::detail::slurm_allocation_hosts();
  ASSERT_TRUE(allocation);
  ASSERT_EQ(allocation->size(), 3u);
  EXPECT_EQ((*allocation)[2].name, "node3");
  EXPECT_EQ((*allocation)[0].slots, 2);
  EXPECT_EQ((*allocation)[1].reserved, 1);  // the manager's node
  EXPECT_EQ((*allocation)[0].reserved, 0);
  {
    // Inside the job step hydra's srun starts (the relaunched manager's): the step's layout.
    ScopedEnv step("SLURM_TASKS_PER_NODE", "1");
    EXPECT_EQ((*spawnpool::detail::slurm_allocation_hosts())[0].slots, 4);  // the job's CPUs
  }
  ScopedEnv no_tasks("SLURM_NTASKS", nullptr);  // no task count: the CPUs
  EXPECT_EQ((*spawnpool::detail::slurm_allocation_hosts())[0].slots, 4);
  // By default the allocation's nodes are the placement's hosts.
  HostPlan plan = spawnpool::detail::plan_placement(spawnpool::Options{});
  EXPECT_EQ(plan.free_slots(), 11);  // 3 x 4 CPUs, one the manager's
  EXPECT_EQ(place(plan, 5), "node1 node3 node1 node2 node3");  // node2 holds the manager
  ScopedEnv garbage("SLURM_JOB_NODELIST", "node[1-");
  EXPECT_EQ(spawnpool::detail::slurm_allocation_hosts(), std::nullopt);
}

TEST(SlurmHostlist, ExpandsLikeScontrolShowHostnames) {
  using spawnpool::detail::expand_hostlist;
  using V = std::vector<std::string>;
  EXPECT_EQ(expand_hostlist("node[1-3,7],gpu[08-10],login"),
            (V{"node1", "node2", "node3", "node7", "gpu08", "gpu09", "gpu10", "login"}));
  EXPECT_EQ(expand_hostlist("n1"), (V{"n1"}));
  EXPECT_EQ(expand_hostlist("r[1-2]-n[1-2]"), (V{"r1-n1", "r1-n2", "r2-n1", "r2-n2"}));
  for (const char* bad : {"", "node[", "node[3-1]", "node[a]", "node]1", "a,,b", "node[1-2"}) {
    EXPECT_EQ(expand_hostlist(bad), std::nullopt) << bad;
  }
  using spawnpool::detail::counts_per_node;
  EXPECT_EQ(counts_per_node("2(x3),1"), (std::vector<int>{2, 2, 2, 1}));
  EXPECT_EQ(counts_per_node("0"), std::nullopt);
  EXPECT_EQ(counts_per_node("2(x0)"), std::nullopt);
}

}  // namespace
