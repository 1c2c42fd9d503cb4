#!/usr/bin/env bash
# The second supported configuration: spawnpool against Debian's Open MPI 4.1 (mpicxx.openmpi,
# mpiexec.openmpi, named explicitly). Installs what is missing (scripts/setup.sh --openmpi), builds
# in build-openmpi/ (or $SPAWNPOOL_OPENMPI_BUILD_DIR), runs the whole test suite there.
# Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --openmpi
BUILD_DIR=${SPAWNPOOL_OPENMPI_BUILD_DIR:-build-openmpi}
# Open MPI refuses to run as root without these (mpiexec in static-mode tests, the singleton's orted).
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
cmake -S . -B "$BUILD_DIR" -DSPAWNPOOL_MPI=openmpi
cmake --build "$BUILD_DIR" -j"$(nproc)"
# Known gaps of this configuration (README, tests/openmpi/FINDINGS.md), not run here:
#   executor_w4     Open MPI 4.1.4 with Debian's external PMIx 4.2.2 hangs intermittently in
#                   MPI_Comm_spawn (PMIx_Lookup, or the child's PMIx_Init) when it spawns while
#                   other spawned children are alive (openpmix/openpmix#2735); the more children
#                   alive, the likelier (tests/openmpi/spawn_loop.c); 1 and 2 workers run
#   valgrind_spawn  its suppressions cover MPICH's uninitialised socket writes only
#   ranks           k-rank groups are spawned while the pool's workers are alive, which is when
#                   the PMIx race below hits: 3 of 5 runs had a group spawn hang (SpawnError after
#                   SPAWNPOOL_SPAWN_TIMEOUT), too often for the retries; example_parallel_pi runs
#   worker_start.*  the start watch is MPICH's: Open MPI 4.1.4 also waits in MPI_Comm_spawn for a
#                   worker program that ends before MPI_Init, so such a worker costs the spawn
#                   timeout there (README, "Dedicated worker programs")
# (service runs: tests/service_test.sh starts Open MPI's ompi-server for it.)
KNOWN_GAPS='^(executor_w4|ranks|valgrind_spawn|worker_start\..*)$'
# The same PMIx race also hits the 1- and 2-worker pools most tests start. Its rate depends on the
# machine: about 1 spawn-mode test run in 3 on this project's AMD EPYC VM (executor_w1: 2 of 6 runs
# of the code before the engine split, 1 of 5 after), rarely on the Intel VM before. A hung spawn
# is a SpawnError after SPAWNPOOL_SPAWN_TIMEOUT (a healthy one takes well under a second here, the
# slowest a test makes, SlowReplacement, 12 s), leaves nothing running, and a test that fails is
# run up to three times more; a fourth failure fails the suite.
export SPAWNPOOL_SPAWN_TIMEOUT=${SPAWNPOOL_SPAWN_TIMEOUT:-30}
ctest --test-dir "$BUILD_DIR" --output-on-failure -E "$KNOWN_GAPS" --repeat until-pass:4 "$@"
