#!/usr/bin/env bash
# The README's second command: install what is missing, build everything, run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
BUILD_DIR=${SPAWNPOOL_BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure
