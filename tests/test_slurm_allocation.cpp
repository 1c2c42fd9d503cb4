// The Slurm allocation's task slots (src/slurm_allocation.hpp): what the default worker count and
// the oversubscription warning count in spawn mode inside an allocation. No MPI.
#include "src/slurm_allocation.hpp"

#include "tests/scoped_env.hpp"

#include <gtest/gtest.h>

using spawnpool::detail::slurm_allocation_slots;
using spawnpool::detail::total_cpus_per_node;

TEST(SlurmAllocation, CpusPerNodeAddsUpEveryNode) {
  EXPECT_EQ(total_cpus_per_node("16"), 16);
  EXPECT_EQ(total_cpus_per_node("2(x3)"), 6);
  EXPECT_EQ(total_cpus_per_node("4,2(x2)"), 8);
  EXPECT_EQ(total_cpus_per_node("2(x3),1"), 7);
}

TEST(SlurmAllocation, CpusPerNodeRefusesWhatIsNotACount) {
  for (const char* bad : {"", "x", "2(x", "2(x3", "2(3)", "2,", ",2", "0", "0(x4)", "2 ,3", "-2",
                          "99999999999"}) {
    EXPECT_EQ(total_cpus_per_node(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(SlurmAllocation, TasksFirstThenCpusOfEveryNodeOnlyInsideAJob) {
  ScopedEnv job("SLURM_JOB_ID", nullptr);
  ScopedEnv tasks("SLURM_NTASKS", "6");
  ScopedEnv cpus("SLURM_JOB_CPUS_PER_NODE", "2(x4)");
  EXPECT_EQ(slurm_allocation_slots(), std::nullopt);  // not inside a job
  ScopedEnv in_job("SLURM_JOB_ID", "17");
  EXPECT_EQ(slurm_allocation_slots(), 6);
  ScopedEnv no_tasks("SLURM_NTASKS", nullptr);
  EXPECT_EQ(slurm_allocation_slots(), 8);
  ScopedEnv bad_tasks("SLURM_NTASKS", "many");
  EXPECT_EQ(slurm_allocation_slots(), 8);  // not a count: ignored
  ScopedEnv no_cpus("SLURM_JOB_CPUS_PER_NODE", nullptr);
  EXPECT_EQ(slurm_allocation_slots(), std::nullopt);
}
