#!/usr/bin/env bash
# Runs spawnpool's benchmarks next to the raw-MPI limit (bench/raw_mpi.cpp, a hand-written
# master/worker loop) and mpi4py.futures (bench/mpi4py_bench.py), all in one run; prints the table
# with ratios and targets, and writes it as Markdown to bench/RESULTS.md.
#
#   scripts/bench.sh            full sizes (12-17 minutes on an idle 2-core machine)
#   scripts/bench.sh --quick    tiny sizes: checks that everything runs (writes build-bench/RESULTS.quick.md)
#
# It builds what it needs: spawnpool against MPICH 4.0.2 ch3 in build-bench/ (RelWithDebInfo, the
# project's default), and against Debian's Open MPI in build-bench-openmpi/ for the same-MPI
# comparison with mpi4py; it installs python3-mpi4py, python3-numpy and libopenmpi-dev when missing
# (as root). Environment: SPAWNPOOL_MPICH_PREFIX (default /opt/spawnpool/mpich-4.0.2-ch3),
# SPAWNPOOL_BENCH_REPEAT (runs of each measurement of rows 1-5, default 3; the table shows medians),
# SPAWNPOOL_BENCH_QUIET_WAIT (seconds to wait for an idle machine before each measurement, 120).
# Every row each program printed goes to build-bench/bench-rows.log, their stderr to bench-run.log.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1
COMMAND="scripts/bench.sh${1:+ $1}"

MPICH=${SPAWNPOOL_MPICH_PREFIX:-/opt/spawnpool/mpich-4.0.2-ch3}
MPIEXEC=$MPICH/bin/mpiexec
OMPI_MPIEXEC=/usr/bin/mpiexec.openmpi
PYTHON=/usr/bin/python3           # Debian's python, the one python3-mpi4py is installed for
BUILD=build-bench
BUILD_OMPI=build-bench-openmpi
REPEAT=${SPAWNPOOL_BENCH_REPEAT:-3}
ROWS=$ROOT/$BUILD/bench-rows.log
LOG=$ROOT/$BUILD/bench-run.log
OUT=bench/RESULTS.md
[[ $QUICK == 1 ]] && OUT=$BUILD/RESULTS.quick.md

export SPAWNPOOL_QUIET=1
# Open MPI (mpi4py and the Open MPI build): as root, and more processes than cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

say() { printf '\n== %s\n' "$*" >&2; }

# ---- prerequisites and builds -------------------------------------------------------------------
if [[ ! -x $MPIEXEC ]]; then
  say "MPICH with spawn support is missing: running scripts/setup.sh"
  bash scripts/setup.sh
fi
missing=()
$PYTHON -c 'import mpi4py.futures' 2>/dev/null || missing+=(python3-mpi4py)
$PYTHON -c 'import numpy' 2>/dev/null || missing+=(python3-numpy)
[[ -e /usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h ]] || missing+=(libopenmpi-dev)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    echo "bench.sh: please install ${missing[*]} (apt-get); continuing without what is missing" >&2
  fi
fi

BENCH_TARGETS=(latency submit_throughput map_throughput echo_bandwidth startup idle_cpu ranked_latency raw_mpi
  primes)
say "building spawnpool + benchmarks against MPICH in $BUILD/"
cmake -S . -B $BUILD -DSPAWNPOOL_MPI=mpich >"$ROOT/.bench-cmake.log" 2>&1 || {
  cat "$ROOT/.bench-cmake.log" >&2; exit 1; }
rm -f "$ROOT/.bench-cmake.log"
cmake --build $BUILD -j"$(nproc)" --target "${BENCH_TARGETS[@]}" >&2
# Sources edited while the build ran (another session working in the tree) can leave objects
# compiled against different versions of a header: run every program on a tiny size first, and
# rebuild from clean (once) if one fails.
tiny_runs() {
  local b=$BUILD/bench
  SPAWNPOOL_QUIET=1 timeout 120 $b/latency 20 &&
    SPAWNPOOL_QUIET=1 timeout 120 $b/submit_throughput 1 100 &&
    SPAWNPOOL_QUIET=1 timeout 120 $b/map_throughput 1 100 &&
    SPAWNPOOL_QUIET=1 timeout 120 $b/echo_bandwidth 1 1 &&
    SPAWNPOOL_QUIET=1 timeout 120 $b/startup 1 &&
    SPAWNPOOL_QUIET=1 timeout 120 $b/idle_cpu 1 0.1 &&
    SPAWNPOOL_QUIET=1 timeout 120 $b/ranked_latency 2 10 &&
    SPAWNPOOL_QUIET=1 timeout 120 $BUILD/examples/primes 1000 10
} >/dev/null 2>&1
if ! tiny_runs; then
  say "a tiny spawnpool run failed: rebuilding $BUILD/ from clean"
  cmake --build $BUILD -j"$(nproc)" --clean-first --target "${BENCH_TARGETS[@]}" >&2
  tiny_runs || echo "bench.sh: spawnpool programs still fail on a tiny size; see their rows below" >&2
fi
HAVE_OMPI=0
if [[ -e /usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h ]]; then
  say "building spawnpool + benchmarks against Debian's Open MPI in $BUILD_OMPI/"
  if cmake -S . -B $BUILD_OMPI -DSPAWNPOOL_MPI=openmpi -DSPAWNPOOL_BUILD_TESTS=OFF \
       -DSPAWNPOOL_BUILD_EXAMPLES=OFF >/dev/null 2>&1 &&
     cmake --build $BUILD_OMPI -j"$(nproc)" --target latency submit_throughput raw_mpi >&2; then
    HAVE_OMPI=1
  else
    echo "bench.sh: the Open MPI build failed; its rows will be missing" >&2
  fi
fi
# Issue 16's unchunked-submit row must be "no worse" than when the issue was filed (403 k/s,
# measured on another VM): that code, a42bf64, is built here too (only its submit_throughput, in
# build-bench-baseline/) and measured in the same rounds, so the two builds compare on one machine
# in one run. Skipped (its row stays empty) where the clone has no history.
BASELINE=a42bf64
BUILD_BASE=build-bench-baseline
HAVE_BASE=0
if git rev-parse -q --verify "$BASELINE^{commit}" >/dev/null 2>&1; then
  say "building $BASELINE's submit_throughput (the baseline of issue 16's submit row) in $BUILD_BASE/"
  if [[ ! -f $BUILD_BASE/src/CMakeLists.txt ]]; then
    rm -rf $BUILD_BASE/src && mkdir -p $BUILD_BASE/src
    git archive "$BASELINE" | tar -x -C $BUILD_BASE/src
  fi
  if cmake -S $BUILD_BASE/src -B $BUILD_BASE/build -DSPAWNPOOL_MPI=mpich -DSPAWNPOOL_BUILD_TESTS=OFF \
       -DSPAWNPOOL_BUILD_EXAMPLES=OFF >/dev/null 2>&1 &&
     cmake --build $BUILD_BASE/build -j"$(nproc)" --target submit_throughput >&2; then
    HAVE_BASE=1
  else
    echo "bench.sh: the baseline build of $BASELINE failed; its row will be missing" >&2
  fi
fi
HAVE_MPI4PY=0
$PYTHON -c 'import mpi4py.futures' 2>/dev/null && HAVE_MPI4PY=1

# ---- running ------------------------------------------------------------------------------------
: >"$ROWS"
: >"$LOG"
# This machine may be shared: before each measurement, wait (at most QUIET_WAIT s) until the CPUs
# are less than 15 % busy over half a second. Measurements that had to start on a busy machine are
# counted and reported.
QUIET_WAIT=${SPAWNPOOL_BENCH_QUIET_WAIT:-120}
MEASUREMENTS=0 BUSY_STARTS=0
wait_quiet() {
  local start=$SECONDS a b i total busy
  MEASUREMENTS=$((MEASUREMENTS + 1))
  while :; do
    read -ra a </proc/stat
    sleep 0.5
    read -ra b </proc/stat
    total=0
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    busy=$((total - (b[4] + b[5] - a[4] - a[5])))
    ((total > 0 && busy * 100 / total < 15)) && return 0
    if ((SECONDS - start >= QUIET_WAIT)); then
      BUSY_STARTS=$((BUSY_STARTS + 1))
      echo "bench.sh: machine still busy after ${QUIET_WAIT}s (other processes); measuring anyway" >&2
      return 0
    fi
  done
}
# run <timeout s> <command...>: runs one measurement; its rows go to $ROWS and the terminal.
run() {
  local limit=$1
  shift
  wait_quiet
  echo "\$ $*" >>"$LOG"
  local out status=0
  out=$(timeout --kill-after=10 "$limit" "$@" 2>>"$LOG") || status=$?
  if ((status != 0)); then
    echo "bench.sh: FAILED (exit $status): $*  (stderr in $LOG)" >&2
  fi
  grep '^row ' <<<"$out" | tee -a "$ROWS" >&2 || true
}
# Prefix variants that rename the impl of the rows a command prints.
run_as() {
  local impl=$1
  shift
  local before
  before=$(wc -l <"$ROWS")
  run "$@"
  sed -i "$((before + 1)),\$ s/ impl=[a-z_0-9]* / impl=$impl /" "$ROWS"
}

B=$ROOT/$BUILD/bench
RAW="$MPIEXEC -n 1 $B/raw_mpi"
PY="$PYTHON $ROOT/bench/mpi4py_bench.py"
PY_STATIC="$OMPI_MPIEXEC -n 2 $PYTHON -m mpi4py.futures $ROOT/bench/mpi4py_bench.py"

if [[ $QUICK == 1 ]]; then
  LAT=200 LAT_PY=50 SUBMIT=2000 SUBMIT_PY=200 MAP=20000 BATCH=100000 ECHO_SIZES="1 4" ECHO_REPS=2
  IDLE=1 PRIMES_N=200000 PRIMES_N_PY=100000 REPEAT=1
else
  LAT=20000 LAT_PY=2000 SUBMIT=200000 SUBMIT_PY=10000 MAP=1000000 BATCH=100000000
  ECHO_SIZES="1 64 256" ECHO_REPS=5
  IDLE=10 PRIMES_N=10000000 PRIMES_N_PY=10000000
fi
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# Rows 1-4 run REPEAT times, interleaved (spawnpool, raw, mpi4py, then again); the report takes
# the median of each measurement's runs.
for ((rep = 1; rep <= REPEAT; ++rep)); do
  say "round $rep of $REPEAT"
  say "1. trivial-task round trip (spawn and static mode, 1 worker)"
  run 300 $B/latency $LAT
  run 300 $RAW latency spawn 1 $LAT
  run 300 $MPIEXEC -n 2 $B/latency $LAT
  run 300 $MPIEXEC -n 2 $B/raw_mpi latency static 1 $((LAT * 5))
  if ((HAVE_MPI4PY)); then
    run 300 $PY latency spawn 1 $LAT_PY
    run 300 $PY_STATIC latency static 1 $LAT_PY
  fi

  say "2. unchunked submit throughput (1, 2, 4 workers)"
  for w in 1 2 4; do
    run 300 $B/submit_throughput $w $SUBMIT
    run 300 $RAW submit spawn $w $SUBMIT
    ((HAVE_MPI4PY)) && run 300 $PY submit spawn $w $SUBMIT_PY
  done
  ((HAVE_BASE)) && run_as spawnpool_baseline 300 $ROOT/$BUILD_BASE/build/bench/submit_throughput 1 $SUBMIT
  if ((HAVE_OMPI)); then  # spawnpool on the same MPI as mpi4py (started alone: Open MPI can spawn)
    run_as spawnpool_openmpi 300 $ROOT/$BUILD_OMPI/bench/submit_throughput 1 $SUBMIT
    run_as raw_mpi_openmpi 300 $ROOT/$BUILD_OMPI/bench/raw_mpi submit spawn 1 $SUBMIT
  fi

  say "3. chunked map of 10^6 trivial tasks (2 workers)"
  run 300 $B/map_throughput 2 $MAP
  run 300 $B/map_throughput 2 $BATCH 0 batch
  run_as spawnpool_tenth 300 $B/map_throughput 2 $((BATCH / 10)) 0 batch  # is memory flat?
  run 300 $B/map_throughput 2 $MAP 0 unordered
  run 300 $RAW map spawn 2 $MAP 1024
  ((HAVE_MPI4PY)) && run 300 $PY map spawn 2 $MAP 1024

  say "4. echo of a std::vector<double> (1 worker)"
  for mib in $ECHO_SIZES; do
    reps=$ECHO_REPS
    [[ $mib == 1 ]] && reps=20
    [[ $mib == 256 ]] && reps=3
    run 300 $B/echo_bandwidth $mib $reps
    run 300 $B/echo_bandwidth $mib $reps copy
    run 300 $RAW echo spawn 1 $mib $reps
    run 300 $RAW echo spawn 1 $mib $reps fresh
    ((HAVE_MPI4PY)) && run 300 $PY echo spawn 1 $mib $reps
  done
done

say "5. Executor construction to first result (1, 2, 4 workers; $REPEAT runs each)"
for w in 1 2 4; do
  for ((i = 0; i < REPEAT; ++i)); do
    run 120 $B/startup $w
    run 120 $RAW startup spawn $w 1
    ((HAVE_MPI4PY)) && run 120 $PY startup spawn $w 1
  done
done

say "6. idle pool of 4 workers over $IDLE s"
run 120 $B/idle_cpu 4 $IDLE
run 120 $RAW idle spawn 4 $IDLE
((HAVE_MPI4PY)) && run 120 $PY idle spawn 4 $IDLE

say "7. seed 001's primes (1000 sub-ranges, 1 and 2 workers)"
for w in 1 2; do
  # examples/primes prints "primes below N: C" and "elapsed S s with W workers (spawn mode)".
  wait_quiet
  echo "\$ SPAWNPOOL_MAX_WORKERS=$w $BUILD/examples/primes $PRIMES_N 1000" >>"$LOG"
  out=$(SPAWNPOOL_MAX_WORKERS=$w timeout 600 "$ROOT/$BUILD/examples/primes" $PRIMES_N 1000 2>>"$LOG") ||
    echo "bench.sh: FAILED: examples/primes with $w workers" >&2
  awk -v n=$PRIMES_N '/^primes below/ {count = $4} /^elapsed/ {secs = $2; workers = $5}
       END { if (secs != "") printf "row name=primes impl=spawnpool workers=%s n=%s pieces=1000 primes=%s seconds=%s\n", workers, n, count, secs }' \
    <<<"$out" | tee -a "$ROWS" >&2
  run 600 $RAW primes spawn $w $PRIMES_N 1000
  ((HAVE_MPI4PY)) && run 900 $PY primes spawn $w $PRIMES_N_PY 1000
done

say "8. k-rank tasks: a group of 2 processes (spawn + first task, then trivial round trips)"
for ((i = 0; i < REPEAT; ++i)); do
  run 300 $B/ranked_latency 2 $((LAT / 10))
  run 300 $RAW ranked spawn 2 $((LAT / 10))
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report ---------------------------------------------------------------------------------
MACHINE=$ROOT/$BUILD/bench-machine.md
{
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- command: \`$COMMAND\` (commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include spawn || echo ', with uncommitted library changes'))"
  echo "- machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, Linux $(uname -r)"
  echo "- load average before / after the run: $LOAD_BEFORE / $LOAD_AFTER"
  echo "- measurements that started while other processes kept the CPUs busy (after waiting ${QUIET_WAIT} s for quiet): $BUSY_STARTS of $MEASUREMENTS"
  echo "- spawnpool and raw MPI: MPICH $($MPICH/bin/mpichversion 2>/dev/null | sed -n 's/^MPICH Version:[[:space:]]*//p') ($($MPICH/bin/mpichversion 2>/dev/null | sed -n 's/^MPICH Device:[[:space:]]*//p')), $MPICH; $(c++ --version | head -1); build type RelWithDebInfo"
  if ((HAVE_MPI4PY)); then
    echo "- mpi4py.futures: mpi4py $($PYTHON -c 'import mpi4py; print(mpi4py.__version__)') on $($OMPI_MPIEXEC --version 2>/dev/null | head -1 | sed 's/.*(OpenRTE)/Open MPI/'), Python $($PYTHON -c 'import sys; print(sys.version.split()[0])'), numpy $($PYTHON -c 'import numpy; print(numpy.__version__)' 2>/dev/null || echo missing)"
  else
    echo "- mpi4py.futures: not installed (its column is empty)"
  fi
  if [[ $QUICK == 1 ]]; then echo "- **quick run: tiny sizes, the numbers mean nothing**"; fi
} >"$MACHINE"
echo >&2
$PYTHON bench/report.py "$ROWS" "$OUT" "$MACHINE"
echo
echo "written to $OUT (rows: $ROWS, stderr of the programs: $LOG)"
