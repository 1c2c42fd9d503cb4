#!/usr/bin/env bash
# The test suite built with AddressSanitizer + UndefinedBehaviorSanitizer (SPAWNPOOL_SANITIZE) in
# build-asan/. Any ASan/UBSan report or leak of spawnpool's fails the test it occurs in. MPICH's own
# never-freed allocations are suppressed (tests/lsan.supp, MPICH only).
#   scripts/test-sanitizers.sh [extra ctest arguments]
# Environment: SPAWNPOOL_SANITIZE (default address,undefined), SPAWNPOOL_ASAN_BUILD_DIR (build-asan).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${SPAWNPOOL_ASAN_BUILD_DIR:-build-asan}
SANITIZE=${SPAWNPOOL_SANITIZE:-address,undefined}
start=$(date +%s)
cmake -S . -B "$BUILD_DIR" -DSPAWNPOOL_SANITIZE="$SANITIZE" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD_DIR" -j"${SPAWNPOOL_BUILD_JOBS:-$(nproc)}"
echo "test-sanitizers: built in $(( $(date +%s) - start )) s"

# Passed through mpiexec to every worker (hydra forwards the environment).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The soak test at a tenth of its size: the full one is run by the normal suite.
export SPAWNPOOL_SOAK_TASKS=${SPAWNPOOL_SOAK_TASKS:-100000} SPAWNPOOL_SOAK_CYCLES=${SPAWNPOOL_SOAK_CYCLES:-20}
# fuzz_decoder builds its own ASan+UBSan fuzzer with clang: the normal suite runs it.
ctest --test-dir "$BUILD_DIR" --output-on-failure -E '^fuzz_decoder$' "$@"
echo "test-sanitizers: build and tests took $(( $(date +%s) - start )) s"
