#!/usr/bin/env bash
# Installs what is missing (scripts/setup.sh), then configures and builds spawnpool in build/
# (or $SPAWNPOOL_BUILD_DIR). Extra arguments go to the CMake configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${SPAWNPOOL_BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" "$@"
cmake --build "$BUILD_DIR" -j"$(nproc)"
