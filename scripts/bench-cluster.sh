#!/usr/bin/env bash
# Cross-node benchmarks on the project's test cluster (scripts/cluster/: Slurm nodes that are Linux
# namespaces on this machine, joined by a virtual bridge, so MPICH talks TCP between them as
# between hosts): a trivial task's round trip to a worker on another node, and a 64 MiB echo to
# it, each next to raw MPI (bench/raw_mpi.cpp) between the same two nodes, measured in the same
# run, in static mode (srun -N 2 -n 2: manager node1, worker node2) and in spawn mode (a 2-node
# allocation of one task slot per node: the manager on node1, its one spawned worker on node2).
# Starts its own 2-node cluster, prints the ratios as Markdown rows for bench/RESULTS.md, stops
# the cluster (also on failure or Ctrl-C). Not part of the test suite. Root; ~5 minutes.
#
#   scripts/bench-cluster.sh [BUILD_DIR=build]    needs its latency, echo_bandwidth, raw_mpi and
#                                                 cluster_probe targets (built if missing)
# Environment: SPAWNPOOL_BENCH_REPEAT (runs of each measurement, default 3; medians are shown),
# SPAWNPOOL_BENCH_LATENCY_ITERATIONS (round trips per run, default 5000).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=$(realpath -m "${1:-build}")
REPEAT=${SPAWNPOOL_BENCH_REPEAT:-3}
LAT=${SPAWNPOOL_BENCH_LATENCY_ITERATIONS:-5000}
say() { printf '== %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { echo "bench-cluster.sh: must run as root (network namespaces)" >&2; exit 1; }
cmake --build "$BUILD" -j"$(nproc)" --target latency echo_bandwidth raw_mpi cluster_probe >&2
MPIEXEC=$(sed -n 's/^MPIEXEC_EXECUTABLE:FILEPATH=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
[ -x "${MPIEXEC:-}" ] || MPIEXEC=${SPAWNPOOL_MPICH_PREFIX:-/opt/spawnpool/mpich-4.0.2-ch3}/bin/mpiexec

export SPAWNPOOL_CLUSTER_DIR=/run/spawnpool-cluster-bench-$$
export SPAWNPOOL_CLUSTER_PREFIX=spb$$
export SPAWNPOOL_CLUSTER_LOGS=$SPAWNPOOL_CLUSTER_DIR/log
ON=$ROOT/scripts/cluster/on
WORK=$(mktemp -d /tmp/spawnpool-bench-cluster.XXXXXX)
stop() { say "stopping the cluster"; timeout 60 "$ROOT/scripts/cluster/stop-cluster.sh" >&2 || true; }
trap stop EXIT
trap 'exit 130' INT TERM
say "starting a 2-node cluster ($SPAWNPOOL_CLUSTER_DIR)"
timeout 120 "$ROOT/scripts/cluster/start-cluster.sh" 2 2 >&2

B=$BUILD/bench
# One measuring job: sbatch on the cluster's login node, waits (bounded) for it to end.
run_job() {  # run_job NAME SBATCH-ARGS... -- SCRIPT
  local name=$1 script jid i st; shift
  local args=(); while [ "$1" != -- ]; do args+=("$1"); shift; done; shift; script=$1
  printf '#!/bin/bash\nexport SPAWNPOOL_QUIET=1\n%s\n' "$script" > "$WORK/$name.sh"
  jid=$("$ON" ctl sbatch --parsable -J "bench-$name" --time=0-00:15 --chdir="$WORK" \
          -o "$WORK/$name.out" "${args[@]}" "$WORK/$name.sh")
  jid=${jid%%;*}
  for ((i = 0; i < 1200; i++)); do
    st=$("$ON" ctl squeue -h -j "$jid" -o %T 2>/dev/null || true)
    [ -z "$st" ] && break
    sleep 0.5
  done
  [ -z "$st" ] || { "$ON" ctl scancel "$jid"; echo "bench-cluster.sh: job $name still $st after 10 min" >&2; exit 1; }
  cat "$WORK/$name.out" >&2
  grep '^row ' "$WORK/$name.out" >> "$WORK/rows" || true
}

say "where a spawned worker lands in a 2-node allocation of 1 slot per node"
run_job where -N 2 --ntasks-per-node=1 -- "SPAWNPOOL_MAX_WORKERS=1 $BUILD/tests/cluster/cluster_probe hosts 0"
grep -E '^(manager|worker) ' "$WORK/where.out" >&2
grep -qE '^worker [0-9]+ host node2 ' "$WORK/where.out" ||
  { echo "bench-cluster.sh: the spawned worker is not on node2: not a cross-node measurement" >&2; exit 1; }

for ((rep = 1; rep <= REPEAT; ++rep)); do
  say "round $rep of $REPEAT"
  run_job static -N 2 -n 2 -- "
srun --mpi=pmi2 -N 2 -n 2 $B/latency $LAT
srun --mpi=pmi2 -N 2 -n 2 $B/raw_mpi latency static 1 $LAT
srun --mpi=pmi2 -N 2 -n 2 $B/echo_bandwidth 64 5
srun --mpi=pmi2 -N 2 -n 2 $B/raw_mpi echo static 1 64 5"
  # SLURM_OVERLAP: raw MPI's spawn under mpiexec needs what spawnpool's relaunch sets by itself.
  run_job spawn -N 2 --ntasks-per-node=1 -- "
$B/latency $LAT
SLURM_OVERLAP=1 $MPIEXEC -n 1 $B/raw_mpi latency spawn 1 $LAT
$B/echo_bandwidth 64 5
SLURM_OVERLAP=1 $MPIEXEC -n 1 $B/raw_mpi echo spawn 1 64 5"
done

# median VALUES...
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# field NAME IMPL KEY: that key's value in every row of that measurement
field() { grep -E "^row name=$1 impl=$2 " "$WORK/rows" | grep -oE " $3=[0-9.e+-]+" | cut -d= -f2; }
# echo rows carry no mode: the static job's come first in each round, then the spawn job's
echo_values() {  # echo_values IMPL static|spawn
  grep -E "^row name=echo impl=$1 " "$WORK/rows" | grep -oE ' gib_per_s=[0-9.e+-]+' | cut -d= -f2 |
    awk -v want="$2" '{ if ((NR % 2 == 1) == (want == "static")) print }'
}
row() {  # row LABEL UNIT SPAWNPOOL RAW BETTER
  awk -v l="$1" -v u="$2" -v s="$3" -v r="$4" -v b="$5" 'BEGIN {
    printf "| %s | %s | %.3g | %.3g | %.3gx | %s |\n", l, u, s, r, s / r, b }'
}
lat_sp_static=$(median $(field latency_static spawnpool median_us))
lat_raw_static=$(median $(field latency_static raw_mpi median_us))
lat_sp_spawn=$(median $(field latency_spawn spawnpool median_us))
lat_raw_spawn=$(median $(field latency_spawn raw_mpi median_us))
echo_sp_static=$(median $(echo_values spawnpool static))
echo_raw_static=$(median $(echo_values raw_mpi static))
echo_sp_spawn=$(median $(echo_values spawnpool spawn))
echo_raw_spawn=$(median $(echo_values raw_mpi spawn))

echo
echo "Across two nodes of the test cluster (scripts/bench-cluster.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD), median of $REPEAT runs; load average before the last run: $(cut -d' ' -f1-3 /proc/loadavg)):"
echo
echo "| measurement | unit | spawnpool | raw MPI | spawnpool ÷ raw | better |"
echo "|---|---|---|---|---|---|"
row "8. trivial task round trip to a worker on another node, static mode (srun -N 2), median" µs "$lat_sp_static" "$lat_raw_static" lower
row "8. trivial task round trip to a worker on another node, spawn mode, median" µs "$lat_sp_spawn" "$lat_raw_spawn" lower
row "8. echo of a 64 MiB vector<double> to a worker on another node, static mode" GiB/s "$echo_sp_static" "$echo_raw_static" higher
row "8. echo of a 64 MiB vector<double> to a worker on another node, spawn mode" GiB/s "$echo_sp_spawn" "$echo_raw_spawn" higher
