#!/usr/bin/env bash
# Fails if any process of this build's tests is still running: a program from the build tree, or
# any process carrying this build's SPAWNPOOL_TEST_TAG (every test sets it, and mpiexec, the hydra
# proxies and spawned workers inherit it). Processes of other builds and other users are never
# touched. Gives ours a grace period to exit, then kills what is left (so one failure does not
# poison later runs) and reports it.
#   check_orphans.sh BUILD_DIR [GRACE_SECONDS]
set -u
build_dir=$(realpath "$1")
grace=${2:-10}
tag="SPAWNPOOL_TEST_TAG=$build_dir"

ours() {
  local pid exe ancestors=" "
  # Our own ancestors (ctest, the shell running this) are not orphans.
  pid=$$
  while [ "$pid" -gt 1 ] 2>/dev/null; do
    ancestors+="$pid "
    pid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) || break
  done
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    case "$ancestors" in *" $pid "*) continue ;; esac
    exe=$(readlink "$dir/exe" 2>/dev/null) || continue   # zombies and kernel threads have none
    case "$exe" in "$build_dir"/*) echo "$pid"; continue ;; esac
    if tr '\0' '\n' 2>/dev/null < "$dir/environ" | grep -qxF "$tag"; then echo "$pid"; fi
  done
}

for ((i = 0; i < grace * 4; i++)); do
  left=$(ours)
  [ -z "$left" ] && { echo "no leftover processes"; exit 0; }
  sleep 0.25
done
echo "LEFTOVER PROCESSES after ${grace}s:"
for pid in $left; do ps -o pid=,ppid=,etimes=,args= -p "$pid"; done
for pid in $left; do kill -KILL "$pid" 2>/dev/null; done
exit 1
