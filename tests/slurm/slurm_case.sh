#!/usr/bin/env bash
# One case of the Slurm test suite, run by ctest (tests/slurm/CMakeLists.txt):
#   slurm_case.sh CASE SOURCE_DIR WORK_DIR PRIMES_BINARY [MPIEXEC [EXIT_STATUS_PROBE]]
# Cases: setup (start the local Slurm when enabled), stop (stop it if setup started it),
#   static_srun, static_sbatch, spawn_sbatch, spawn_oversubscribed, scancel_spawn, scancel_static,
#   static_too_many_workers, static_worker_dies, spawn_salloc, spawn_user_mpiexec,
#   spawn_srun_one_rank.
#
# Enabling: SPAWNPOOL_TEST_SLURM=1 makes the setup case install and start a single-node Slurm on
# this machine (needs root; scripts/slurm/start-local-slurm.sh) and every case run. Unset, the cases
# run when a Slurm whose node is this host already answers, and are skipped (exit 77) otherwise.
# SPAWNPOOL_TEST_SLURM=0 skips them always.
#
# Every process a case starts carries SPAWNPOOL_SLURM_TEST_TAG=<unique> in its environment (srun,
# sbatch, mpiexec and MPI_Comm_spawn pass the environment on), so the processes of this case, and
# only those, are found by PID through /proc/PID/environ, even when reparented to PID 1. After each
# case its jobs are cancelled and leftover processes are killed; a leftover is a failure.
# Every wait is bounded. Env: SLURM_CASE_TIMEOUT seconds for one job or srun (default 150).
set -uo pipefail

CASE=${1:?case}
SOURCE_DIR=$(realpath "${2:?source dir}")
WORK_ROOT=${3:?work dir}
PRIMES=$(realpath "${4:?primes binary}")
MPIEXEC=${5:-}             # the mpiexec of the MPI spawnpool was built with (spawn_user_mpiexec)
PROBE=${6:-}               # tests/programs/exit_status_probe (static_worker_dies)
HERE=$(cd "$(dirname "$0")" && pwd)
T=${SLURM_CASE_TIMEOUT:-150}
NODE=$(hostname -s)
T0=$(date +%s.%N)

log() { printf "[%6.1fs] %s\n" "$(elapsed "$T0")" "$*"; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
fail() { log "FAIL: $*"; FAILED=1; }
FAILED=0

ENABLE_HINT="Slurm tests are skipped: no usable local Slurm. To run them set SPAWNPOOL_TEST_SLURM=1 \
(needs root: it installs Debian's slurm-wlm and munge and starts slurmctld, slurmd and munged on this \
machine with scripts/slurm/start-local-slurm.sh), e.g. SPAWNPOOL_TEST_SLURM=1 ctest -R slurm"

# 0 when a Slurm answers and has this host as an idle/mixed/allocated node. (sinfo retries for
# ~10 s when no slurmctld answers, hence the shorter timeout and the status file below.)
slurm_usable() {
  command -v sinfo >/dev/null 2>&1 || return 1
  local st
  st=$(timeout 5 sinfo -h -n "$NODE" -o %t 2>/dev/null | head -n 1)
  case "$st" in idle*|mix*|alloc*|comp*) return 0 ;; *) return 1 ;; esac
}

mkdir -p "$WORK_ROOT"
MARKER=$WORK_ROOT/.slurm-started-by-tests
STATUS=$WORK_ROOT/.slurm-status   # written by the setup case: "skip" when it skipped

case "$CASE" in
  setup)
    rm -f "$STATUS"
    if [ "${SPAWNPOOL_TEST_SLURM:-}" = 0 ]; then
      echo skip > "$STATUS"; echo "SPAWNPOOL_TEST_SLURM=0: Slurm tests skipped"; exit 77
    fi
    if slurm_usable; then log "Slurm already running: node $NODE $(sinfo -h -n "$NODE" -o %t)"; exit 0; fi
    if [ "${SPAWNPOOL_TEST_SLURM:-}" != 1 ]; then echo skip > "$STATUS"; echo "$ENABLE_HINT"; exit 77; fi
    log "SPAWNPOOL_TEST_SLURM=1: starting a local Slurm"
    timeout 900 "$SOURCE_DIR/scripts/slurm/start-local-slurm.sh" || { log "FAIL: start-local-slurm.sh failed"; exit 1; }
    touch "$MARKER"
    slurm_usable || { log "FAIL: Slurm started but sinfo does not show node $NODE usable"; exit 1; }
    log "ok: $(sinfo -h -o '%P %a %D %t %c CPUs %N')"
    exit 0 ;;
  stop)
    if [ -e "$MARKER" ] && [ "${SPAWNPOOL_TEST_SLURM_KEEP:-0}" != 1 ]; then
      rm -f "$MARKER"
      timeout 120 "$SOURCE_DIR/scripts/slurm/stop-local-slurm.sh"; exit $?
    fi
    echo "Slurm left as it was (not started by these tests, or SPAWNPOOL_TEST_SLURM_KEEP=1)"
    exit 0 ;;
esac

if [ "${SPAWNPOOL_TEST_SLURM:-}" = 0 ]; then echo "SPAWNPOOL_TEST_SLURM=0: Slurm tests skipped"; exit 77; fi
if [ "${SPAWNPOOL_TEST_SLURM:-}" != 1 ] && [ "$(cat "$STATUS" 2>/dev/null)" = skip ]; then
  echo "$ENABLE_HINT"; exit 77   # the setup case of this run found no Slurm
fi
if ! slurm_usable; then
  if [ "${SPAWNPOOL_TEST_SLURM:-}" = 1 ]; then
    log "FAIL: SPAWNPOOL_TEST_SLURM=1 but Slurm does not answer with node $NODE (did slurm_setup fail?)"
    exit 1
  fi
  echo "$ENABLE_HINT"; exit 77
fi
[ -x "$PRIMES" ] || { log "FAIL: no executable $PRIMES"; exit 1; }

WORK=$WORK_ROOT/$CASE
rm -rf "$WORK"; mkdir -p "$WORK"
TAG="spawnpool-slurm-test-$CASE-$$-$(date +%s%N)"
JOB="sptest-$CASE-$$"      # job name of every job of this case
JOBS=()                    # job ids of this case

# The environment a case's commands see: what the library is tested to arrange by itself is unset.
unset SLURM_OVERLAP SLURM_EXACT SLURM_OVERCOMMIT SLURM_MPI_TYPE SLURM_JOB_ID SLURM_JOBID \
      SPAWNPOOL_MAX_WORKERS SPAWNPOOL_MODE SPAWNPOOL_NO_RELAUNCH SPAWNPOOL_RELAUNCHED SPAWNPOOL_QUIET \
      PMI_RANK PMI_FD PMI_PORT PMI_SIZE
tagged() { env SPAWNPOOL_SLURM_TEST_TAG="$TAG" "$@"; }

# PIDs of live processes of this case (by the tag in their environment), zombies excluded.
case_pids() {
  local d pid
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$pid" = "$$" ] && continue
    grep -qzx "SPAWNPOOL_SLURM_TEST_TAG=$TAG" "$d/environ" 2>/dev/null || continue
    [ "$(awk '{print $3}' "$d/stat" 2>/dev/null)" = Z ] && continue
    echo "$pid"
  done
}
show_pids() { [ -n "$1" ] && ps -o pid=,ppid=,etimes=,args= -p "$(echo $1 | tr ' ' ,)" | cut -c1-200 | sed 's/^/    /'; }
count_exe() { # count_exe PIDS EXE -> how many of PIDS run EXE
  local n=0 p
  for p in $1; do [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$2" ] && n=$((n + 1)); done
  echo "$n"
}

job_state() { timeout 10 scontrol show job "$1" 2>/dev/null | grep -oE '(JobState|ExitCode|RunTime)=[^ ]*' | tr '\n' ' '; }

# wait_job JOBID SECONDS: 0 once the job left squeue, 1 at the deadline
wait_job() {
  local i st
  for ((i = 0; i < $2 * 2; i++)); do
    st=$(timeout 10 squeue -h -j "$1" -o %T 2>/dev/null)
    [ -z "$st" ] && return 0
    sleep 0.5
  done
  log "job $1 still ${st} after $2 s ($(timeout 10 squeue -h -j "$1" -o 'reason %r'))"
  [ "$st" = PENDING ] && { log "jobs on the cluster (another job holding the CPUs?):"; timeout 10 squeue | sed 's/^/    /'; }
  return 1
}

# submit ARGS... : sbatch (tagged, named, parsable); sets JID
submit() {
  JID=$(cd "$WORK" && tagged sbatch --parsable -J "$JOB" --time=0-00:05 "$@") ||
    { fail "sbatch $* failed"; return 1; }
  JID=${JID%%;*}
  JOBS+=("$JID")
  log "submitted job $JID: sbatch $*"
}

# After every case, pass or fail: cancel this case's jobs, then end its processes by PID.
cleanup() {
  local ids pids i
  ids=$(timeout 10 squeue -h -n "$JOB" -o %i 2>/dev/null | tr '\n' ' ')
  if [ -n "${ids// /}" ]; then
    log "cleanup: cancelling jobs $ids"
    timeout 10 scancel $ids
  fi
  for ((i = 0; i < 60; i++)); do
    [ -z "$(timeout 10 squeue -h -n "$JOB" -o %i 2>/dev/null)" ] && [ -z "$(case_pids)" ] && break
    sleep 0.5
  done
  pids=$(case_pids)
  if [ -n "$pids" ]; then
    fail "processes of this case left behind 30 s after its jobs ended (killing them):"
    show_pids "$pids"
    kill -TERM $pids 2>/dev/null; sleep 2
    pids=$(case_pids); [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    sleep 0.5
    pids=$(case_pids); [ -n "$pids" ] && { log "still alive after SIGKILL:"; show_pids "$pids"; }
  fi
  if [ "$FAILED" = 0 ]; then log "PASS $CASE"; else log "FAILED $CASE (work dir $WORK)"; exit 1; fi
  exit 0
}
trap cleanup EXIT
trap 'log "interrupted"; FAILED=1; exit 1' INT TERM

PRIMES_LINE='primes below 10000000: 664579'
# expect FILE REGEX WHAT
expect() { if grep -qE -- "$2" "$1" 2>/dev/null; then log "ok: $3"; else fail "$3: no line matching /$2/ in $1"; fi; }
show_file() { log "--- $1"; sed 's/^/    | /' "$1" 2>/dev/null | head -n "${2:-40}"; }

# run_batch SBATCH_ARGS...: submit, wait (bounded), print output and state; sets JID, OUT, STATE
run_batch() {
  OUT=$WORK/job.out
  submit -o "$OUT" "$@" || return 1
  wait_job "$JID" "$T" || fail "job $JID did not end within $T s (hang?)"
  STATE=$(job_state "$JID")
  log "job $JID: $STATE"
  show_file "$OUT"
}

cpus=$(timeout 10 sinfo -h -n "$NODE" -o %c | head -n 1)
log "case $CASE: node $NODE with $cpus CPUs, binary $PRIMES"

case "$CASE" in
  static_srun)
    # Static mode: srun starts 3 ranks (more than the node's CPUs, hence --overcommit).
    OUT=$WORK/srun.out
    start=$(date +%s.%N)
    (cd "$WORK" && tagged timeout -k 5 "$T" srun -J "$JOB" --mpi=pmi2 --overcommit -n 3 "$PRIMES") \
      > "$OUT" 2>&1 < /dev/null
    rc=$?
    log "srun exited with $rc after $(elapsed "$start") s"
    show_file "$OUT"
    [ "$rc" = 0 ] || fail "srun exit code $rc (124/137: timeout, hang)"
    expect "$OUT" "^$PRIMES_LINE\$" "primes line"
    expect "$OUT" 'with 2 workers \(static mode\)' "static mode with 2 workers"
    ;;

  static_worker_dies)
    # Static mode: both worker ranks die in tasks (exit(3)): the manager gets WorkerLost and the
    # job's status is main's (7): the dying ranks report and exit 0, and no rank waits in
    # MPI_Finalize for a dead one. Then a job whose worker is SIGKILLed: main still runs to its end
    # (rank 0 exits 7), but srun's status is the highest of its tasks' (137 for the killed one).
    [ -n "$PROBE" ] || { fail "no exit_status_probe path given"; exit 1; }
    for verbs in "workers-exit:2" "workers-killed:1"; do
      OUT=$WORK/srun-${verbs%%:*}.out
      (cd "$WORK" && tagged timeout -k 5 "$T" srun -J "$JOB" --mpi=pmi2 --overcommit -n 3 \
         "$PROBE" "$verbs" return:7) > "$OUT" 2>&1 < /dev/null
      rc=$?
      log "srun $verbs exited with $rc"
      show_file "$OUT"
      expect "$OUT" "^lost ${verbs##*:}\$" "every death seen as WorkerLost"
      expect "$OUT" 'WorkerLost: .*(the task called exit\(3\)|ended without a report)' "WorkerLost with the cause"
      if [ "$verbs" = workers-exit:2 ]; then
        [ "$rc" = 7 ] || fail "$verbs: srun exit code $rc, not main's 7 (124/137: timeout, hang)"
      else
        [ "$rc" = 137 ] || fail "$verbs: srun exit code $rc, not 137 (srun's status for a killed task)"
        expect "$OUT" 'task 0: Exited with exit code 7' "main ran to its end (rank 0 exited 7)"
      fi
    done
    ;;

  static_too_many_workers)
    # Static mode asked for more workers than the job has ranks: a warning and a clamp (or a clear
    # error), never a hang.
    OUT=$WORK/srun.out
    (cd "$WORK" && tagged env SPAWNPOOL_MAX_WORKERS=5 timeout -k 5 "$T" \
       srun -J "$JOB" --mpi=pmi2 --overcommit -n 3 "$PRIMES") > "$OUT" 2>&1 < /dev/null
    rc=$?
    log "srun exited with $rc"
    show_file "$OUT"
    case "$rc" in 124|137) fail "srun killed by timeout (hang)" ;; esac
    if [ "$rc" = 0 ]; then
      expect "$OUT" "^$PRIMES_LINE\$" "primes line"
      expect "$OUT" 'spawnpool.*5 workers' "warning about the 5 workers asked for"
    else
      expect "$OUT" 'spawnpool: .*workers' "a clear error about the worker count"
    fi
    ;;

  static_sbatch)
    # examples/primes.sbatch as a user runs it; the binary's path comes through --export, the output
    # file (%x-%N-%j.out) lands in --chdir. More tasks than CPUs needs --overcommit.
    extra=(); [ "${cpus:-0}" -lt 3 ] && extra=(--overcommit)
    submit --chdir="$WORK" --export="ALL,PRIMES=$PRIMES" "${extra[@]}" \
      "$SOURCE_DIR/examples/primes.sbatch" || exit 1
    wait_job "$JID" "$T" || fail "job $JID did not end within $T s (hang?)"
    STATE=$(job_state "$JID")
    log "job $JID: $STATE"
    OUT=$(ls "$WORK/$JOB"-*-"$JID".out 2>/dev/null | head -n 1)
    [ -n "$OUT" ] || { fail "no output file $WORK/$JOB-<node>-$JID.out"; OUT=/dev/null; }
    show_file "$OUT"
    show_file "$(ls "$WORK/$JOB"-*-"$JID".err 2>/dev/null | head -n 1)"
    case "$STATE" in *JobState=COMPLETED*ExitCode=0:0*) log "ok: COMPLETED 0:0" ;; *) fail "job state: $STATE" ;; esac
    expect "$OUT" "^$PRIMES_LINE\$" "primes line in the output file"
    expect "$OUT" 'static mode' "static mode"
    ;;

  spawn_sbatch)
    # Spawn mode: the binary alone in a 2-CPU allocation relaunches itself under mpiexec and spawns
    # its workers inside the job (no SLURM_OVERLAP given: the library must arrange it).
    run_batch -n 2 --wrap "echo SLURM_CPUS_ON_NODE=\$SLURM_CPUS_ON_NODE; exec '$PRIMES'" || exit 1
    case "$STATE" in *JobState=COMPLETED*ExitCode=0:0*) log "ok: COMPLETED 0:0" ;; *) fail "job state: $STATE" ;; esac
    expect "$OUT" "^$PRIMES_LINE\$" "primes line"
    expect "$OUT" 'workers \(spawn mode\)' "spawn mode"
    workers=$(grep -oE 'with [0-9]+ workers' "$OUT" | grep -oE '[0-9]+')
    alloc=$(grep -oE 'SLURM_CPUS_ON_NODE=[0-9]+' "$OUT" | cut -d= -f2)
    if [ -n "$workers" ] && [ -n "$alloc" ]; then
      if [ "$workers" -le "$alloc" ]; then log "ok: $workers workers in a $alloc-CPU allocation"
      else fail "$workers workers by default in a $alloc-CPU allocation"; fi
    fi
    ;;

  spawn_oversubscribed)
    # More workers than the allocation's CPUs (4 workers + manager on 2 CPUs): a warning and a
    # result, or a clear error; a hang (job killed at the deadline) is a failure.
    run_batch -n 2 --export="ALL,SPAWNPOOL_MAX_WORKERS=4" --wrap "exec '$PRIMES'" || exit 1
    case "$STATE" in
      *JobState=COMPLETED*ExitCode=0:0*)
        expect "$OUT" "^$PRIMES_LINE\$" "primes line"
        expect "$OUT" 'with 4 workers' "4 workers"
        expect "$OUT" 'oversubscri' "oversubscription warning" ;;
      *JobState=FAILED*)
        if grep -qiE 'spawnpool.*(error|cannot|more workers|cpus)' "$OUT"; then
          log "ok: failed with a clear error: $(grep -m1 -iE 'spawnpool' "$OUT")"
        else fail "job failed without a spawnpool error message"; fi ;;
      *) fail "job state: $STATE" ;;
    esac
    ;;

  spawn_salloc)
    # Spawn mode from an interactive allocation: salloc runs the binary on this host with
    # SLURM_JOB_ID set; the relaunch under mpiexec must make the spawn's step fit (SLURM_OVERLAP).
    OUT=$WORK/salloc.out
    start=$(date +%s.%N)
    (cd "$WORK" && tagged timeout -k 5 "$T" salloc -J "$JOB" -n 2 "$PRIMES") > "$OUT" 2>&1 < /dev/null
    rc=$?
    log "salloc exited with $rc after $(elapsed "$start") s"
    show_file "$OUT"
    [ "$rc" = 0 ] || fail "salloc exit code $rc (124/137: timeout, hang)"
    expect "$OUT" "^$PRIMES_LINE\$" "primes line"
    expect "$OUT" 'workers \(spawn mode\)' "spawn mode"
    ;;

  spawn_user_mpiexec | spawn_srun_one_rank)
    # The user starts the binary as one MPI process inside a batch job without SLURM_OVERLAP:
    # `mpiexec -n 1 ./primes` (hydra launches the spawn's proxy with srun) or
    # `srun --mpi=pmi2 -n 1 ./primes` (Slurm's PMI2 spawn starts a new step). The step the spawn
    # needs cannot get CPUs. Wanted: the primes line, or a clear SpawnError within the spawn
    # timeout (20 s here); never a hang; and nothing left behind.
    if [ "$CASE" = spawn_user_mpiexec ]; then
      launch="'$MPIEXEC' -n 1 '$PRIMES'"
    else
      launch="srun --mpi=pmi2 -n 1 '$PRIMES'"
    fi
    run_batch -n 2 --export="ALL,SPAWNPOOL_SPAWN_TIMEOUT=20" \
      --wrap "timeout -k 5 $((T - 20)) $launch; echo \"launcher exit code \$?\"" || exit 1
    if grep -qE "^$PRIMES_LINE\$" "$OUT"; then
      log "ok: primes line (the spawn worked)"
    elif grep -qE 'SpawnError|spawnpool: .*(spawn|SLURM_OVERLAP)' "$OUT"; then
      log "ok: clear error: $(grep -m1 -E 'SpawnError|what\(\)' -A1 "$OUT" | grep -m1 -oE 'spawnpool: [^.]*')"
    else
      fail "neither the primes line nor a spawnpool error"
    fi
    grep -qE 'launcher exit code (124|137)' "$OUT" && fail "the launcher was killed by timeout (hang)"
    ;;

  scancel_spawn | scancel_static)
    # A long job (primes below 3*10^8, minutes of work), cancelled once all its processes run:
    # nothing of it may survive (a hung mpiexec would be reparented to PID 1).
    OUT=$WORK/job.out
    if [ "$CASE" = scancel_spawn ]; then
      submit -n 2 -o "$OUT" --wrap "exec '$PRIMES' 300000000" || exit 1
      want=5   # original process + job keeper + relaunched manager under mpiexec + 2 workers
    else
      extra=(); [ "${cpus:-0}" -lt 3 ] && extra=(--overcommit)
      submit -n 3 "${extra[@]}" -o "$OUT" --wrap "srun --mpi=pmi2 '$PRIMES' 300000000" || exit 1
      want=3   # manager + 2 workers
    fi
    n=0
    for ((i = 0; i < T * 2; i++)); do
      pids=$(case_pids); n=$(count_exe "$pids" "$PRIMES")
      [ "$n" -ge "$want" ] && break
      [ -z "$(timeout 10 squeue -h -j "$JID" -o %T)" ] && break
      sleep 0.5
    done
    if [ "$n" -lt "$want" ]; then
      fail "only $n of $want $PRIMES processes running before the deadline or the job's end"
      show_file "$OUT"; exit 1
    fi
    sleep 2   # let the workers get busy
    pids=$(case_pids)
    log "running: $(count_exe "$pids" "$PRIMES") x primes, $(echo $pids | wc -w) processes of this job:"
    show_pids "$pids"
    before=$pids
    log "scancel $JID"
    cancelled=$(date +%s.%N)
    timeout 10 scancel "$JID" || fail "scancel $JID failed"
    wait_job "$JID" 30 || fail "job $JID still listed 30 s after scancel"
    STATE=$(job_state "$JID")
    log "job $JID: $STATE"
    for ((i = 0; i < 40; i++)); do [ -z "$(case_pids)" ] && break; sleep 0.5; done
    left=$(case_pids)
    if [ -n "$left" ]; then
      fail "processes still alive $(elapsed "$cancelled") s after scancel:"
      show_pids "$left"
    else
      log "ok: all $(echo $before | wc -w) processes gone $(elapsed "$cancelled") s after scancel"
    fi
    case "$STATE" in *CANCELLED*) log "ok: job CANCELLED" ;; *) fail "job state after scancel: $STATE" ;; esac
    show_file "$OUT"
    ;;

  *) fail "unknown case $CASE" ;;
esac
