#!/usr/bin/env bash
# valgrind memcheck of one spawn-mode run: the manager (started by mpiexec under valgrind) and the
# two workers it spawns (each started through valgrind: tests/programs/valgrind_pool.cpp). Fails on
# a definite leak or any other memcheck error in any of the processes; what MPICH itself does is
# suppressed (mpich.supp beside this script, MPICH only). Exit 77 (skipped) without valgrind.
#   run_valgrind.sh MPIEXEC PROGRAM OUT_DIR
# SPAWNPOOL_VALGRIND_EXTRA: more valgrind options for every process, e.g. --track-origins=yes.
set -u
mpiexec=$1 program=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
vg=$(command -v valgrind) || {
  echo "SKIPPED: valgrind is not installed (scripts/setup.sh installs it)"
  exit 77
}
rm -rf "$out"
mkdir -p "$out"
memcheck=(--tool=memcheck --leak-check=full --show-leak-kinds=definite
          --errors-for-leak-kinds=definite --error-exitcode=42 --num-callers=40 ${SPAWNPOOL_VALGRIND_EXTRA:-}
          --suppressions="$here/mpich.supp" --gen-suppressions=all)
start=$(date +%s)
"$mpiexec" -n 1 "$vg" "${memcheck[@]}" --log-file="$out/manager.%p.log" \
  "$program" "$vg" "${memcheck[@]}" --log-file="$out/worker.%p.log" </dev/null
code=$?
echo "run_valgrind: exit status $code after $(( $(date +%s) - start )) s; logs in $out"

fail=0
[ "$code" -eq 0 ] || { echo "FAIL: the run ended with status $code"; fail=1; }
managers=$(ls "$out"/manager.*.log 2>/dev/null | wc -l)
# A worker forks its launcher guard (through a middle process: spawn/launcher_guard.hpp), and
# valgrind follows forks: a log whose parent is another worker is a guard's or a middle's. They are
# checked for errors below like the rest, but are not workers.
worker_pids=" $(ls "$out"/worker.*.log 2>/dev/null | sed 's/.*worker\.\([0-9]*\)\.log/\1/' | tr '\n' ' ')"
workers=0
forks=0
for log in "$out"/worker.*.log; do
  [ -e "$log" ] || continue
  parent=$(sed -n 's/.*Parent PID: \([0-9]*\).*/\1/p' "$log" | head -n 1)
  case "$worker_pids" in
    *" $parent "*) forks=$((forks + 1)) ;;
    *) workers=$((workers + 1)) ;;
  esac
done
[ "$managers" -eq 1 ] || { echo "FAIL: $managers manager logs, expected 1"; fail=1; }
# Two workers in the first executor, one in the second.
[ "$workers" -eq 3 ] || { echo "FAIL: $workers worker logs, expected 3 (workers under valgrind)"; fail=1; }
for log in "$out"/*.log; do
  summary=$(grep -h "ERROR SUMMARY" "$log" | tail -1)
  lost=$(grep -h "definitely lost:" "$log" | tail -1)
  echo "$(basename "$log"): ${summary#*== } | ${lost#*== }"
  case "$summary" in
    *"ERROR SUMMARY: 0 errors"*) ;;
    *) echo "FAIL: memcheck errors in $log:"; cat "$log"; fail=1 ;;
  esac
done
[ "$fail" -eq 0 ] && echo "PASS: no definite leaks and no memcheck errors in $((managers + workers)) processes (and $forks forked guard processes)"
exit "$fail"
