#!/usr/bin/env bash
# Installs spawnpool from a build tree into a fresh prefix, builds the consumer project against it
# with find_package(spawnpool) and runs it (it spawns MPI workers).
#   install_test.sh CMAKE BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR
# WORK_DIR is emptied first; it should lie inside the build tree so that the orphan check sees the
# consumer's processes.
set -eu
cmake_cmd=$1
build_dir=$2
consumer_src=$3
work=$4

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix

echo "== install into $prefix"
"$cmake_cmd" --install "$build_dir" --prefix "$prefix" >"$work/install.log" || {
  cat "$work/install.log"; exit 1; }
for f in include/spawnpool/spawnpool.hpp include/spawnpool/command.hpp \
         include/spawnpool/version.hpp include/spawnpool/detail/wire_format.hpp \
         lib/libspawnpool.a bin/spawnpool-worker \
         share/spawnpool/worker_main.cpp lib/cmake/spawnpool/spawnpoolConfig.cmake \
         lib/cmake/spawnpool/SpawnpoolWorker.cmake; do
  [ -e "$prefix/$f" ] || { echo "FAIL: $f was not installed"; exit 1; }
done

# Only the prefix: no hint about MPI, cereal or the source tree. PATH without the MPI tools, so
# that the package config has to name the MPI it was built with.
echo "== configure the consumer"
env PATH=/usr/local/bin:/usr/bin:/bin "$cmake_cmd" -S "$consumer_src" -B "$work/build" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
recorded=$(sed -n 's/^set(SPAWNPOOL_MPI_CXX_COMPILER "\(.*\)")$/\1/p' \
  "$prefix/lib/cmake/spawnpool/spawnpoolConfig.cmake")
used=$(sed -n 's/^MPI_CXX_COMPILER:[A-Z]*=//p' "$work/build/CMakeCache.txt")
echo "spawnpool was built with $recorded; the consumer uses $used"
[ -n "$recorded" ] && [ "$recorded" = "$used" ] || { echo "FAIL: not the same MPI"; exit 1; }

echo "== build the consumer"
"$cmake_cmd" --build "$work/build" -j2

echo "== run the consumer"
out=$(cd "$work" && SPAWNPOOL_QUIET=1 "$work/build/consumer" </dev/null)
printf '%s\n' "$out"
case "$out" in
  *"consumer: ok"*) echo "PASS" ;;
  *) echo "FAIL: the consumer did not report ok"; exit 1 ;;
esac
