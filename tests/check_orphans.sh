#!/usr/bin/env bash
# Fails if any process of ours is still running: a program from the build tree, or an mpiexec /
# hydra_pmi_proxy of the MPI spawnpool was built with. Gives them a grace period to exit first,
# then kills what is left (so one failure does not poison later runs) and reports it.
#   check_orphans.sh BUILD_DIR MPIEXEC [GRACE_SECONDS]
set -u
build_dir=$(realpath "$1")
mpi_bin=$(dirname "$(realpath "$2")")
grace=${3:-10}

ours() {
  local me=$$ pid exe ancestors=" "
  # Our own ancestors (ctest, the shell running this) are not orphans.
  pid=$me
  while [ "$pid" -gt 1 ] 2>/dev/null; do
    ancestors+="$pid "
    pid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) || break
  done
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    case "$ancestors" in *" $pid "*) continue ;; esac
    exe=$(readlink "$dir/exe" 2>/dev/null) || continue
    case "$exe" in
      "$build_dir"/*|"$mpi_bin"/mpiexec*|"$mpi_bin"/hydra_pmi_proxy|"$mpi_bin"/orted|"$mpi_bin"/prterun)
        echo "$pid" ;;
    esac
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
