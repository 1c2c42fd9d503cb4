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
# (service runs: tests/service_test.sh starts Open MPI's ompi-server for it.)
KNOWN_GAPS='^(executor_w4|valgrind_spawn)$'
# The same PMIx race can also hit the pools of 2 workers that most tests start: seen once in about
# ten suite runs (executor_w2: a spawn that did not return in 59 s, reported by spawnpool as a
# SpawnError, nothing left running). On a loaded machine it is likelier: a clean-clone run while
# other builds ran beside it hit executor_w1 twice in a row, worker_setup and reliability once
# (each passed 3 of 3 afterwards on a quiet machine). A test that fails here is run up to twice
# more; a third failure fails the suite.
ctest --test-dir "$BUILD_DIR" --output-on-failure -E "$KNOWN_GAPS" --repeat until-pass:3 "$@"
