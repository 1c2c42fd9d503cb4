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
#   executor_w4     MPI_Comm_spawn of Open MPI 4.1 stops returning after some forty spawns in one
#                   process (also reported as open-mpi/ompi#12307); 1 and 2 workers run
#   valgrind_spawn  its suppressions cover MPICH's uninitialised socket writes only
# (service runs: tests/service_test.sh starts Open MPI's ompi-server for it.)
KNOWN_GAPS='^(executor_w4|valgrind_spawn)$'
ctest --test-dir "$BUILD_DIR" --output-on-failure -E "$KNOWN_GAPS" "$@"
