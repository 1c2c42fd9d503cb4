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
# No install rules: the install test would link the instrumented static library into an
# uninstrumented consumer (packaging is tested by the normal suite).
cmake -S . -B "$BUILD_DIR" -DSPAWNPOOL_SANITIZE="$SANITIZE" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSPAWNPOOL_INSTALL=OFF
cmake --build "$BUILD_DIR" -j"${SPAWNPOOL_BUILD_JOBS:-$(nproc)}"
echo "test-sanitizers: built in $(( $(date +%s) - start )) s"

# Passed through mpiexec to every worker (hydra forwards the environment).
# handle_*=0: fatal signals reach spawnpool's own handlers (the worker sentinel reports a crashed
# task's signal to the manager, which the reliability tests check), as in a normal build.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_abort=0:handle_sigill=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# hwloc's PCI plugin (Debian's libhwloc-plugins, which Open MPI's packages pull in) leaks ~1 KiB in
# MPICH's MPI_Init and is unloaded before LeakSanitizer reports, so no suppression can name it
# ("<unknown module>"): MPICH loads the topology without that plugin here.
export HWLOC_PLUGINS_BLACKLIST=${HWLOC_PLUGINS_BLACKLIST:-hwloc_pci}
# fuzz_decoder builds its own ASan+UBSan fuzzer with clang: the normal suite runs it.
ctest --test-dir "$BUILD_DIR" --output-on-failure -E '^fuzz_decoder$' "$@"
echo "test-sanitizers: build and tests took $(( $(date +%s) - start )) s"
