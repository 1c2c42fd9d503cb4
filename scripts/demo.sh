#!/usr/bin/env bash
# The README's first command: install what is missing, build everything, and run the primes demo
# in spawn mode (the program starts alone and spawns its workers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
BUILD_DIR=${SPAWNPOOL_BUILD_DIR:-build}
echo "+ $BUILD_DIR/examples/primes"
"$BUILD_DIR/examples/primes"
