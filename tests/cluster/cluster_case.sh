#!/usr/bin/env bash
# One case of the multi-node test suite, run by ctest (tests/cluster/CMakeLists.txt):
#   cluster_case.sh CASE SOURCE_DIR WORK_DIR CLUSTER_PROBE PRIMES
# Cases: setup (start the cluster when enabled), stop (stop it), static_three_nodes,
#   spawn_placement, worker_killed_remote, node_cut, node_cut_no_kill, placement,
#   node_cut_placement, manager_killed, manager_cut, static_node_cut, static_node_cut_no_kill,
#   primes_sbatch, primes_spawn, ranks_spawn, ranks_killed_remote, ranks_spread,
#   ranks_spread_static, ranks_static, ranks_static_one_per_node, ranks_spread_killed,
#   ranks_spread_killed_in_collective, service_remote_clients
#   (each described below); ssh_setup (start an sshd in every node),
#   ssh_static, ssh_spawn_mpiexec, ssh_spawn_env.
#
# The cluster: 3 nodes x 2 CPUs of Slurm 22.05, each node a set of namespaces on this machine
# (scripts/cluster/start-cluster.sh), jobs submitted from its node `ctl`. Its directory and the
# names of its namespaces derive from WORK_DIR, so two builds' suites never share a cluster.
# Enabled by SPAWNPOOL_TEST_CLUSTER=1 (root); otherwise every case exits 77 (skipped).
#
# Every process a case starts carries SPAWNPOOL_CLUSTER_TEST_TAG=<unique> in its environment
# (sbatch, srun, mpiexec and MPI_Comm_spawn pass it on), so its processes, and only those, are
# found by PID on every node (the nodes share this machine's PIDs), even when reparented. After
# each case, pass or fail: its jobs are cancelled, every node's link is up again, its leftover
# processes are killed (a leftover is a failure) and every node is idle again. Every wait is bounded.
set -uo pipefail

CASE=${1:?case}
SOURCE_DIR=$(realpath "${2:?source dir}")
WORK_ROOT=$(realpath -m "${3:?work dir}")
PROBE=$(realpath "${4:?cluster_probe binary}")
PRIMES=$(realpath "${5:?primes binary}")
T0=$(date +%s.%N)

log() { printf "[%6.1fs] %s\n" "$(elapsed "$T0")" "$*"; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
now_ms() { date +%s%3N; }
fail() { log "FAIL: $*"; FAILED=1; }
FAILED=0

ENABLE_HINT="multi-node cluster tests are skipped: set SPAWNPOOL_TEST_CLUSTER=1 to run them (needs \
root, slurm-wlm, munge, iproute2: scripts/cluster/start-cluster.sh starts 3 Slurm nodes in Linux \
namespaces on this machine and stop-cluster.sh removes them), e.g. SPAWNPOOL_TEST_CLUSTER=1 ctest -L cluster"

mkdir -p "$WORK_ROOT"
STATUS=$WORK_ROOT/.cluster-status   # "skip" when the setup case skipped, "up" when it started one
SSH_STATUS=$WORK_ROOT/.cluster-ssh-status   # "up" once ssh_setup started the nodes' sshds
id=$(printf %s "$WORK_ROOT" | md5sum | cut -c1-6)
export SPAWNPOOL_CLUSTER_DIR=/run/spawnpool-cluster-$id
export SPAWNPOOL_CLUSTER_PREFIX=spc$id
export SPAWNPOOL_CLUSTER_LOGS=$WORK_ROOT/logs
NODES=3
CPUS=2
ON=$SOURCE_DIR/scripts/cluster/on

case "$CASE" in
  setup)
    rm -f "$STATUS"
    if [ "${SPAWNPOOL_TEST_CLUSTER:-}" != 1 ]; then echo skip > "$STATUS"; echo "$ENABLE_HINT"; exit 77; fi
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v ip >/dev/null; then
      log "installing slurm-wlm, munge and iproute2 (apt-get)"
      export DEBIAN_FRONTEND=noninteractive
      timeout 300 apt-get update -qq; timeout 600 apt-get install -y -qq slurm-wlm munge iproute2 >/dev/null ||
        { log "FAIL: apt-get install -y slurm-wlm munge iproute2 failed"; exit 1; }
    fi
    # A cluster of this build left by an interrupted run: stop it first.
    [ -d "$SPAWNPOOL_CLUSTER_DIR" ] && timeout 60 "$SOURCE_DIR/scripts/cluster/stop-cluster.sh"
    log "starting a $NODES-node cluster in $SPAWNPOOL_CLUSTER_DIR (namespaces $SPAWNPOOL_CLUSTER_PREFIX-*)"
    timeout 100 "$SOURCE_DIR/scripts/cluster/start-cluster.sh" "$NODES" "$CPUS" ||
      { log "FAIL: start-cluster.sh failed"; timeout 60 "$SOURCE_DIR/scripts/cluster/stop-cluster.sh"; exit 1; }
    echo up > "$STATUS"
    log "ok: $("$ON" ctl sinfo -h -o '%P %D nodes %t %c CPUs %N')"
    exit 0 ;;
  ssh_setup)
    # --- ssh cases (issue 15, item 4): an sshd in every node, started only for them ---
    rm -f "$SSH_STATUS"
    [ "$(cat "$STATUS" 2>/dev/null)" = up ] || { echo "$ENABLE_HINT"; exit 77; }
    if [ ! -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null || ! command -v ssh-keygen >/dev/null; then
      log "installing openssh-server and openssh-client (apt-get; the package's own sshd is not started)"
      export DEBIAN_FRONTEND=noninteractive
      # Debian's postinst starts the machine's sshd unless a policy-rc.d forbids it
      policy=/usr/sbin/policy-rc.d; own_policy=
      [ -e "$policy" ] || { printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; own_policy=1; }
      timeout 300 apt-get update -qq; timeout 600 apt-get install -y -qq openssh-server openssh-client >/dev/null
      rc=$?; [ -n "$own_policy" ] && rm -f "$policy"
      [ "$rc" = 0 ] || { log "FAIL: apt-get install -y openssh-server openssh-client failed"; exit 1; }
    fi
    timeout 60 "$SOURCE_DIR/scripts/cluster/start-sshd.sh" || { log "FAIL: start-sshd.sh failed"; exit 1; }
    echo up > "$SSH_STATUS"
    exit 0 ;;
  stop)
    rm -f "$STATUS" "$SSH_STATUS"
    [ -d "$SPAWNPOOL_CLUSTER_DIR" ] || { echo "no cluster to stop"; exit 0; }
    timeout 50 "$SOURCE_DIR/scripts/cluster/stop-cluster.sh" || exit 1
    left=$(ip netns list | awk -v p="$SPAWNPOOL_CLUSTER_PREFIX-" 'index($1, p) == 1')
    [ -z "$left" ] || { log "FAIL: namespaces left: $left"; exit 1; }
    exit 0 ;;
esac

[ "$(cat "$STATUS" 2>/dev/null)" = up ] || { echo "$ENABLE_HINT"; exit 77; }
case "$CASE" in ssh_*) [ "$(cat "$SSH_STATUS" 2>/dev/null)" = up ] ||
  { echo "the nodes' sshds are not up (cluster_ssh_setup skipped or failed)"; exit 77; } ;; esac
WORK=$WORK_ROOT/$CASE
rm -rf "$WORK"; mkdir -p "$WORK"
TAG="spawnpool-cluster-test-$CASE-$$-$(date +%s%N)"
JOB="spc-$CASE-$$"         # job name of every job of this case

# What the library must arrange by itself is not inherited from the caller.
unset SLURM_OVERLAP SLURM_EXACT SLURM_OVERCOMMIT SLURM_MPI_TYPE SLURM_JOB_ID SLURM_JOBID \
      SPAWNPOOL_MAX_WORKERS SPAWNPOOL_MODE SPAWNPOOL_NO_RELAUNCH SPAWNPOOL_RELAUNCHED \
      PMI_RANK PMI_FD PMI_PORT PMI_SIZE
on_ctl() { "$ON" ctl env SPAWNPOOL_CLUSTER_TEST_TAG="$TAG" "$@"; }

# PIDs of live processes of this case (by the tag in their environment), zombies excluded. One
# grep over every process (a fork per process costs 10-20 s per scan on a busy 2-core machine).
case_pids() {
  local f pid stat
  for f in $(grep -lzx "SPAWNPOOL_CLUSTER_TEST_TAG=$TAG" /proc/[0-9]*/environ 2>/dev/null); do
    pid=${f#/proc/}; pid=${pid%/environ}
    [ "$pid" = "$$" ] && continue
    read -r stat < "/proc/$pid/stat" 2>/dev/null || continue
    stat=${stat##*) }   # the state follows the command name, which may hold spaces
    [ "${stat%% *}" = Z ] && continue
    echo "$pid"
  done
}
show_pids() { [ -n "$1" ] && ps -o pid=,ppid=,etimes=,args= -p "$(echo $1 | tr ' ' ,)" | cut -c1-160 | sed 's/^/    /'; }
node_states() { "$ON" ctl timeout 10 sinfo -h -N -o '%N %t' 2>/dev/null | tr '\n' ' '; }

# wait_job JOBID SECONDS: 0 once the job left squeue or completed, 1 at the deadline
wait_job() {
  local i st
  for ((i = 0; i < $2 * 4; i++)); do
    st=$("$ON" ctl timeout 10 squeue -h -j "$1" -o %T 2>/dev/null)
    case "$st" in ""|COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) return 0 ;; esac
    sleep 0.25
  done
  log "job $1 still $st after $2 s"
  return 1
}
job_state() { "$ON" ctl timeout 10 scontrol show job "$1" 2>/dev/null | grep -oE '(JobState|ExitCode|RunTime|NodeList)=[^ ]*' | tr '\n' ' '; }

# submit ARGS...: sbatch on ctl (tagged, named, bounded); sets JID and OUT
submit() {
  OUT=$WORK/job.out
  JID=$(on_ctl sbatch --parsable -J "$JOB" --time=0-00:04 --chdir="$WORK" -o "$OUT" "$@") ||
    { fail "sbatch $* failed"; exit 1; }
  JID=${JID%%;*}
  log "submitted job $JID: sbatch $*"
}
show_file() { log "--- $1"; sed 's/^/    | /' "$1" 2>/dev/null | head -n "${2:-60}"; }
# expect FILE REGEX WHAT
expect() { if grep -qE -- "$2" "$1" 2>/dev/null; then log "ok: $3"; else fail "$3: no line matching /$2/ in $1"; fi; }
# wait_line FILE REGEX SECONDS: 0 once a line matches (printed), 1 at the deadline
wait_line() {
  local i
  for ((i = 0; i < $3 * 10; i++)); do grep -qE -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

# After every case, pass or fail.
cleanup() {
  local ids pids i n st
  ids=$("$ON" ctl timeout 10 squeue -h -n "$JOB" -o %i 2>/dev/null | tr '\n' ' ')
  [ -n "${ids// /}" ] && { log "cleanup: cancelling jobs $ids"; "$ON" ctl timeout 10 scancel $ids; }
  for ((n = 1; n <= NODES; n++)); do   # a node cut off by the case comes back
    ip -n "$SPAWNPOOL_CLUSTER_PREFIX-node$n" link set eth0 up 2>/dev/null
  done
  for ((i = 0; i < 60; i++)); do [ -z "$(case_pids)" ] && break; sleep 0.5; done
  pids=$(case_pids)
  [ -z "$pids" ] && log "cleanup: no process of this case left"
  if [ -n "$pids" ]; then
    fail "processes of this case left behind 30 s after it ended (killing them):"
    show_pids "$pids"
    kill -KILL $pids 2>/dev/null; sleep 0.5
  fi
  # The next case needs every node idle: a node that was cut off comes back (ReturnToService=2).
  for ((i = 0; i < 120; i++)); do
    st=$(node_states)
    [ "$(echo "$st" | grep -o idle | wc -l)" = "$NODES" ] && break
    case "$st" in *down*|*drain*) for ((n = 1; n <= NODES; n++)); do
      "$ON" ctl timeout 10 scontrol update NodeName="node$n" State=RESUME >/dev/null 2>&1; done ;; esac
    sleep 0.5
  done
  if [ "$(echo "$st" | grep -o idle | wc -l)" = "$NODES" ]; then log "cleanup: nodes idle"
  else fail "nodes not idle after the case: $st"; fi
  if [ "$FAILED" = 0 ]; then log "PASS $CASE"; else log "FAILED $CASE (work dir $WORK, logs $SPAWNPOOL_CLUSTER_LOGS)"; exit 1; fi
  exit 0
}
trap cleanup EXIT
trap 'log "interrupted"; FAILED=1; exit 1' INT TERM

st=$(node_states)
[ "$(echo "$st" | grep -o idle | wc -l)" = "$NODES" ] || { fail "cluster not ready: '$st'"; exit 1; }

# worker_hosts FILE: the distinct hosts of the workers the probe printed, "node1:2 node3:1 ..."
worker_hosts() { grep -oE '^worker [0-9]+ host [^ ]+' "$1" | awk '{print $4}' | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}'; }
manager_host() { grep -m1 -oE '^manager [^ ]+' "$1" | awk '{print $2}'; }
# check_tasks_ran_where_reported FILE: the hosts the probe's tasks ran on are the hosts workers()
# reported.
check_tasks_ran_where_reported() {
  local reported ran
  reported=$(grep -oE '^worker [0-9]+ host [^ ]+' "$1" | awk '{print $4}' | sort -u | tr '\n' ' ')
  ran=$(grep -oE '^task host [^ ]+' "$1" | awk '{print $3}' | sort -u | tr '\n' ' ')
  [ "$reported" = "$ran" ] && log "ok: tasks ran on the hosts workers() reports ($ran)" ||
    fail "workers() reports hosts '$reported', tasks ran on '$ran'"
}
check_placement() { # check_placement FILE WORKERS: that many workers, on >= 2 hosts, some not the manager's
  local hosts mgr
  hosts=$(worker_hosts "$1"); mgr=$(manager_host "$1")
  log "manager on ${mgr:-?}, workers on: ${hosts:-none}"
  expect "$1" "^workers $2\$" "$2 workers"
  [ "$(echo $hosts | wc -w)" -ge 2 ] || fail "workers on fewer than 2 hosts: $hosts"
  grep -qE "^worker [0-9]+ host " "$1" && ! grep -E '^worker [0-9]+ host ' "$1" | grep -vq " host $mgr " &&
    fail "every worker on the manager's host $mgr"
}

case "$CASE" in
  static_three_nodes)
    # Static mode across nodes: srun starts 3 ranks, one per node; rank 0 (the manager) gets
    # workers on the two other nodes; the job's status is main's (5).
    OUT=$WORK/srun.out
    (cd "$WORK" && on_ctl timeout -k 5 60 srun -J "$JOB" --mpi=pmi2 -N 3 -n 3 "$PROBE" hosts 5) \
      > "$OUT" 2>&1 < /dev/null
    rc=$?
    show_file "$OUT"
    [ "$rc" = 5 ] || fail "srun exit code $rc, not main's 5 (124/137: timeout, hang)"
    expect "$OUT" '^mode static$' "static mode"
    check_placement "$OUT" 2
    expect "$OUT" '^sum ok$' "the pool computed the right squares"
    expect "$OUT" '^main returns 5 ' "main ran to its end"
    ;;

  spawn_placement)
    # Spawn mode in a 3-node allocation of 6 task slots, no worker count given: 5 workers (the
    # slots minus the manager's), no oversubscription warning; hydra places them on the
    # allocation's nodes; Executor::workers() says where, and the tasks ran there.
    submit -N 3 -n 6 --wrap "'$PROBE' hosts 0; echo \"program exit code \$?\""
    wait_job "$JID" 60 || fail "job $JID did not end within 60 s (hang?)"
    log "job $JID: $(job_state "$JID")"
    show_file "$OUT"
    expect "$OUT" '^mode spawn$' "spawn mode"
    check_placement "$OUT" 5
    check_tasks_ran_where_reported "$OUT"
    if grep -q oversubscri "$OUT"; then fail "an oversubscription warning for 5 workers in 6 slots"
    else log "ok: no oversubscription warning"; fi
    expect "$OUT" '^sum ok$' "the pool computed the right squares"
    expect "$OUT" '^program exit code 0$' "the program ended with main's status"
    ;;

  ranks_killed_remote)
    # A rank of a 2-rank task on another node is SIGKILLed mid-task: the task fails with
    # WorkerLost naming that rank (spawn/group_reaper.hpp) within the heartbeat bound, the group's
    # other process ends, a new group serves, main's status is 0.
    submit -N 3 -n 6 --wrap "'$PROBE' ranks-kill 0; echo \"program exit code \$?\""
    wait_job "$JID" 90 || fail "job $JID did not end within 90 s (hang?)"
    log "job $JID: $(job_state "$JID")"
    show_file "$OUT"
    expect "$OUT" '^killed rank 1 at ' "rank 1 was killed"
    expect "$OUT" '^lost after [0-9]+ ms: .*rank 1 of its group' "the task failed with WorkerLost naming rank 1"
    ms=$(grep -oE '^lost after [0-9]+' "$OUT" | awk '{print $3}')
    [ -n "$ms" ] && [ "$ms" -lt 35000 ] && log "ok: lost after $ms ms" || fail "lost after '${ms:-?}' ms"
    expect "$OUT" '^regrouped on ([^,]+),\1$' "a new group serves, on one node"
    expect "$OUT" '^served 100$' "ordinary tasks go on"
    expect "$OUT" '^program exit code 0$' "the program ended with main's status"
    ;;

  worker_killed_remote)
    # A worker on another node than the manager is SIGKILLed during a task: WorkerLost within
    # 5 s (no /proc of the manager's host can see it), the pool goes on.
    submit -N 3 -n 6 --export="ALL,SPAWNPOOL_MAX_WORKERS=5" \
      --wrap "'$PROBE' kill-remote 0; echo \"program exit code \$?\""
    wait_job "$JID" 70 || fail "job $JID did not end within 70 s (hang?)"
    log "job $JID: $(job_state "$JID")"
    show_file "$OUT"
    ms=$(grep -m1 -oE '^lost [0-9]+ after [0-9]+ ms' "$OUT" | awk '{print $4}')
    if [ -z "$ms" ]; then fail "no WorkerLost for the killed worker"
    elif [ "$ms" -le 5000 ]; then log "ok: WorkerLost $ms ms after the kill (limit 5000)"
    else fail "WorkerLost $ms ms after the kill (limit 5000)"; fi
    expect "$OUT" '^killed [0-9]+ host node' "a worker on another node was killed"
    expect "$OUT" '^served 20$' "the pool served on"
    expect "$OUT" '^program exit code 0$' "the program ended with main's status"
    ;;

  node_cut | node_cut_no_kill)
    # A node's network goes down under running tasks: its workers' tasks end in WorkerLost within
    # 30 s, the pool serves 100 more tasks on the other nodes, and the program ends with main's
    # status (7) soon after main returns, with sbatch --no-kill or without (then Slurm would end
    # the job once it marks the node down, SlurmdTimeout=60 s after the cut: the program must
    # be done before).
    # node_cut keeps the default heartbeat timeout (25 s, counted from the last heartbeat heard, up
    # to 1 s before the cut, and checked every 0.1 s): the issue's limit is 30 s after the cut.
    # node_cut_no_kill uses 15 s to keep the suite short (limit 15.5 s).
    extra=(); timeout_setting=""; limit=30000
    if [ "$CASE" = node_cut_no_kill ]; then
      extra=(--no-kill); timeout_setting=",SPAWNPOOL_HEARTBEAT_TIMEOUT=15"; limit=15500
    fi
    submit "${extra[@]}" -N 3 -n 6 \
      --export="ALL,SPAWNPOOL_MAX_WORKERS=5,RELEASE_FILE=$WORK/release$timeout_setting" \
      --wrap "'$PROBE' cut-node 7; echo \"program exit code \$? at \$(date +%s%3N)\""
    if ! wait_line "$OUT" '^cut node[0-9]+ ' 60; then
      fail "the probe never said which node to cut"; show_file "$OUT"; exit 1
    fi
    node=$(grep -m1 -oE '^cut node[0-9]+' "$OUT" | awk '{print $2}')
    ip -n "$SPAWNPOOL_CLUSTER_PREFIX-$node" link set eth0 down || { fail "cannot cut $node"; exit 1; }
    cut_ms=$(now_ms)
    log "cut $node off ($SPAWNPOOL_CLUSTER_PREFIX-$node eth0 down)"
    wait_line "$OUT" '^program exit code ' 60 || fail "the program did not end within 60 s of the cut (hang)"
    show_file "$OUT"
    log "job $JID: $(job_state "$JID")"
    lost_ms=$(grep -m1 -oE '^lost [0-9]+ at [0-9]+' "$OUT" | awk '{print $4}')
    if [ -z "$lost_ms" ]; then fail "the cut node's workers were not lost"
    else
      d=$((lost_ms - cut_ms))
      if [ "$d" -le "$limit" ]; then log "ok: workers of $node lost $d ms after the cut (limit $limit)"
      else fail "workers of $node lost $d ms after the cut (limit $limit)"; fi
    fi
    expect "$OUT" '^served 100$' "the pool served 100 tasks on the other nodes"
    expect "$OUT" '^program exit code 7 ' "the program ended with main's status 7"
    main_ms=$(grep -m1 -oE '^main returns 7 at [0-9]+' "$OUT" | awk '{print $5}')
    end_ms=$(grep -m1 -oE '^program exit code [0-9]+ at [0-9]+' "$OUT" | awk '{print $6}')
    if [ -n "$main_ms" ] && [ -n "$end_ms" ]; then
      d=$((end_ms - main_ms))
      if [ "$d" -le 10000 ]; then log "ok: the program ended $d ms after main returned (limit 10000)"
      else fail "the program ended $d ms after main returned (limit 10000)"; fi
    fi
    ;;

  ssh_static | ssh_spawn_mpiexec | ssh_spawn_env)
    # Without a scheduler (issue 15, item 4): from node1, no Slurm in the environment, hydra's ssh
    # launcher starts the processes on the hosts of a host file (node1..node3, one slot each), over
    # the nodes' sshds (ssh_setup). ssh passes the case's tag on (SendEnv/AcceptEnv), so the
    # proxies hydra starts over ssh are this case's processes too.
    #   ssh_static          mpiexec -launcher ssh -f hosts -n 3 ./app: manager node1, workers
    #                       node2 and node3
    #   ssh_spawn_mpiexec   mpiexec -launcher ssh -f hosts -n 1 ./app: spawn mode; hydra spawns the
    #                       workers on the hosts' free slots, node2 and node3 (2 workers: the
    #                       universe of 3 slots minus the manager; SPAWNPOOL_MAX_WORKERS=2 keeps
    #                       the case about placement)
    #   ssh_spawn_env       HYDRA_HOST_FILE=hosts HYDRA_LAUNCHER=ssh ./app, run plainly: the
    #                       relaunch under mpiexec passes the environment, so the same placement
    printf 'node1\nnode2\nnode3\n' > "$WORK/hosts"
    OUT=$WORK/run.out
    mpiexec=${SPAWNPOOL_TEST_MPIEXEC:?set by tests/cluster/CMakeLists.txt to the build mpiexec}
    run=(); result=0
    case "$CASE" in
      ssh_static) run=("$mpiexec" -launcher ssh -f "$WORK/hosts" -n 3 "$PROBE" hosts 5); result=5 ;;
      ssh_spawn_mpiexec) run=(env SPAWNPOOL_MAX_WORKERS=2 "$mpiexec" -launcher ssh -f "$WORK/hosts" -n 1 "$PROBE" hosts 3); result=3 ;;
      ssh_spawn_env) run=(env SPAWNPOOL_MAX_WORKERS=2 HYDRA_HOST_FILE="$WORK/hosts" HYDRA_LAUNCHER=ssh "$PROBE" hosts 4); result=4 ;;
    esac
    log "on node1: ${run[*]}"
    # no SLURM_* variable (`on` sets SLURM_CONF): hydra would pick its Slurm launcher
    # shellcheck disable=SC2046
    (cd "$WORK" && "$ON" node1 env -u SLURM_CONF $(env | grep -oE '^SLURM_[A-Z_]+' | sed 's/^/-u /') \
       SPAWNPOOL_CLUSTER_TEST_TAG="$TAG" timeout -k 5 60 "${run[@]}") > "$OUT" 2>&1 < /dev/null
    rc=$?
    show_file "$OUT"
    [ "$rc" = "$result" ] || fail "exit code $rc, not main's $result (124/137: timeout, hang)"
    [ "$CASE" = ssh_static ] && mode=static || mode=spawn
    expect "$OUT" "^mode $mode\$" "$mode mode"
    [ "$(manager_host "$OUT")" = node1 ] && log "ok: manager on node1" || fail "manager on '$(manager_host "$OUT")', not node1"
    hosts=$(worker_hosts "$OUT")
    [ "$hosts" = "node2:1 node3:1 " ] && log "ok: one worker on each of node2, node3 (the host file's free slots)" ||
      fail "workers on '$hosts', not one on each of node2, node3"
    check_tasks_ran_where_reported "$OUT"
    expect "$OUT" '^sum ok$' "the pool computed the right squares"
    expect "$OUT" "^main returns $result " "main ran to its end"
    # Nothing may stay behind on any node: no process under a node's sshd (a proxy hydra started
    # over ssh, a worker under it), whatever its environment (bounded wait).
    sshds=$(cat "$SPAWNPOOL_CLUSTER_DIR"/ssh/node*/sshd.pid 2>/dev/null | tr '\n' ' ')
    [ "$(echo $sshds | wc -w)" = "$NODES" ] || fail "not $NODES sshd pid files in $SPAWNPOOL_CLUSTER_DIR/ssh: '$sshds'"
    under_sshd() { ps -e -o pid=,ppid= | awk -v roots="$sshds" '{ parent[$1] = $2 }
      END { n = split(roots, r, " "); for (i = 1; i <= n; i++) top[r[i]] = 1
            do { grew = 0; for (p in parent) if (!(p in top) && (parent[p] in top)) { top[p] = 1; below[p] = 1; grew = 1 } } while (grew)
            for (p in below) print p }' | tr '\n' ' '; }
    for ((i = 0; i < 40; i++)); do [ -z "$(under_sshd | tr -d ' ')" ] && break; sleep 0.25; done
    left=$(under_sshd)
    if [ -z "${left// /}" ]; then log "ok: nothing runs under the nodes' sshds"
    else fail "processes under the nodes' sshds 10 s after the program ended (killing them):"
         show_pids "$left"; kill -KILL $left 2>/dev/null; fi
    ;;

  # --- placement (issue 15 item 2): Options::hosts / placement / max_workers_per_host ---
  placement)
    # 4 workers on hosts node1,node2,node3 with at most 2 per host, once spread and once packed:
    # spread goes round robin (node1 2, node2 1, node3 1), pack fills node1 to its limit of 2,
    # then node2 (node1 2, node2 2). With no hosts given, the allocation's nodes and task slots (2
    # each, the manager's taking one on node1): 5 workers, node1 1, node2 2, node3 2. workers()
    # says where they are and the tasks ran there.
    for policy in spread pack allocation; do
      OUT=$WORK/$policy.out
      placement="SPAWNPOOL_MAX_WORKERS=4,PROBE_HOSTS=node1+node2+node3,PROBE_PLACEMENT=$policy,PROBE_MAX_PER_HOST=2"
      [ "$policy" = allocation ] && placement="SPAWNPOOL_QUIET=0"
      JID=$(on_ctl sbatch --parsable -J "$JOB" --time=0-00:02 --chdir="$WORK" -o "$OUT" -N 3 -n 6 \
        --export="ALL,$placement" \
        --wrap "'$PROBE' hosts 0; echo \"program exit code \$?\"") || { fail "sbatch failed"; exit 1; }
      JID=${JID%%;*}
      log "submitted job $JID ($policy)"
      wait_job "$JID" 60 || fail "job $JID ($policy) did not end within 60 s (hang?)"
      show_file "$OUT" 40
      got=$(worker_hosts "$OUT")
      log "$policy: manager on $(manager_host "$OUT"), workers on: $got"
      case $policy in
        spread) want="node1:2 node2:1 node3:1 " ;;
        pack) want="node1:2 node2:2 " ;;
        allocation) want="node1:1 node2:2 node3:2 " ;;
      esac
      [ "$got" = "$want" ] && log "ok: $policy placed the workers $want" ||
        fail "$policy placed the workers '$got', not '$want'"
      check_tasks_ran_where_reported "$OUT"
      expect "$OUT" '^sum ok$' "$policy: the pool computed the right squares"
      expect "$OUT" '^program exit code 0$' "$policy: the program ended with main's status"
    done
    ;;

  node_cut_placement)
    # 5 workers spread over node1,node2,node3 with at most 2 per host (node1 2, node2 2, node3 1);
    # node2 (the probe's pick: most workers, not the manager's) is cut off. With a 5 s heartbeat
    # timeout its workers are lost within 5.5 s; node2 is a lost host: one replacement goes to
    # node3 (node1 is full), the other has no room and the pool shrinks to 4 ("pool shrank"
    # line, Stats::workers_not_replaced 1, Stats::lost_hosts node2); workers() shows no worker
    # on node2; the program ends with main's status.
    submit --no-kill -N 3 -n 6 \
      --export="ALL,SPAWNPOOL_MAX_WORKERS=5,RELEASE_FILE=$WORK/release,SPAWNPOOL_HEARTBEAT_TIMEOUT=5,PROBE_HOSTS=node1+node2+node3,PROBE_MAX_PER_HOST=2" \
      --wrap "'$PROBE' cut-node 7; echo \"program exit code \$? at \$(date +%s%3N)\""
    if ! wait_line "$OUT" '^cut node[0-9]+ ' 60; then
      fail "the probe never said which node to cut"; show_file "$OUT"; exit 1
    fi
    before=$(worker_hosts "$OUT")
    node=$(grep -m1 -oE '^cut node[0-9]+' "$OUT" | awk '{print $2}')
    ip -n "$SPAWNPOOL_CLUSTER_PREFIX-$node" link set eth0 down || { fail "cannot cut $node"; exit 1; }
    cut_ms=$(now_ms)
    log "workers on: $before; cut $node off"
    wait_line "$OUT" '^program exit code ' 60 || fail "the program did not end within 60 s of the cut (hang)"
    show_file "$OUT" 80
    [ "$before" = "node1:2 node2:2 node3:1 " ] || fail "spread with 2 per host placed '$before'"
    [ "$node" = node2 ] || fail "the probe cut $node, not node2"
    lost_ms=$(grep -m1 -oE '^lost [0-9]+ at [0-9]+' "$OUT" | awk '{print $4}')
    if [ -z "$lost_ms" ]; then fail "the cut node's workers were not lost"
    else
      d=$((lost_ms - cut_ms))
      [ "$d" -le 5500 ] && log "ok: workers of $node lost $d ms after the cut (limit 5500)" ||
        fail "workers of $node lost $d ms after the cut (limit 5500)"
    fi
    after=$(grep -oE '^now worker [0-9]+ host [^ ]+' "$OUT" | awk '{print $5}' | sort | uniq -c |
            awk '{printf "%s:%s ", $2, $1}')
    log "after the cut, workers on: ${after:-none}"
    [ "$after" = "node1:2 node3:2 " ] && log "ok: the replacement went to node3, none is on $node" ||
      fail "after the cut workers are on '$after', not 'node1:2 node3:2 '"
    expect "$OUT" '^settled workers 4$' "the pool shrank to 4 workers"
    expect "$OUT" "pool shrank to 4 workers: host $node lost" "the pool said it shrank"
    expect "$OUT" "^lost_hosts $node\$" "stats() names $node lost"
    expect "$OUT" '^not_replaced 1$' "stats() counts 1 worker not replaced"
    expect "$OUT" '^served 100$' "the pool served 100 tasks on the other nodes"
    expect "$OUT" '^program exit code 7 ' "the program ended with main's status 7"
    ;;
  # --- end of placement cases ---

  # --- manager loss and static mode losing a node (issue 15 items 3 and 5; brief f) ---
  manager_killed | manager_cut)
    # Spawn mode over 3 nodes, every worker in a task; then the manager (the relaunched copy that
    # runs main) is SIGKILLed (manager_killed) or its node's network goes down (manager_cut).
    # Every worker on the other nodes must end by itself: killed, within a few seconds (MPI
    # refuses the next heartbeat: the connection broke); cut, after the heartbeat timeout
    # (15 s here to keep the suite short; 25 s by default: CLUSTER_CASE_HEARTBEAT_TIMEOUT=25 to
    # measure that), counted from the last word heard, up to 1 s before the cut. Limit: the
    # timeout + 1.5 s. Then what is left of the job on those nodes (hydra proxies, srun's step)
    # is shown, and must be gone 10 s after the last worker.
    hb=${CLUSTER_CASE_HEARTBEAT_TIMEOUT:-15}
    submit -N 3 -n 6 --export="ALL,SPAWNPOOL_MAX_WORKERS=5,SPAWNPOOL_HEARTBEAT_TIMEOUT=$hb" \
      --wrap "'$PROBE' manager-loss 0; echo \"program exit code \$?\""
    if ! wait_line "$OUT" '^holding$' 60; then
      fail "the probe never held its workers"; show_file "$OUT"; exit 1
    fi
    mgr=$(grep -m1 -oE '^manager [^ ]+ pid [0-9]+' "$OUT")
    mgr_host=$(echo "$mgr" | awk '{print $2}'); mgr_pid=$(echo "$mgr" | awk '{print $4}')
    others=$(grep -E '^worker [0-9]+ host ' "$OUT" | awk -v m="$mgr_host" '$4 != m {print $6}' | tr '\n' ' ')
    log "manager pid $mgr_pid on $mgr_host, workers on: $(worker_hosts "$OUT"); on other nodes: pids $others"
    [ -n "${others// /}" ] || { fail "no worker on another node than the manager's"; exit 1; }
    if [ "$CASE" = manager_killed ]; then
      kill -KILL "$mgr_pid" || { fail "cannot kill the manager"; exit 1; }
      limit=30000; what="SIGKILLed the manager (pid $mgr_pid)"
    else
      ip -n "$SPAWNPOOL_CLUSTER_PREFIX-$mgr_host" link set eth0 down || { fail "cannot cut $mgr_host"; exit 1; }
      limit=$((hb * 1000 + 1500)); what="cut the manager's node $mgr_host off"
    fi
    t_loss=$(now_ms)
    log "$what"
    # alive PID: a live, non-zombie process of this case
    alive() { grep -qzx "SPAWNPOOL_CLUSTER_TEST_TAG=$TAG" "/proc/$1/environ" 2>/dev/null &&
              [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
    # off_manager_node_pids: this case's live processes on the nodes other than the manager's
    mgr_net=$(stat -L -c %i "/run/netns/$SPAWNPOOL_CLUSTER_PREFIX-$mgr_host")
    off_manager_node_pids() { local p; for p in $(case_pids); do
        [ "$(stat -L -c %i "/proc/$p/ns/net" 2>/dev/null)" != "$mgr_net" ] && echo "$p"; done; }
    gone_ms=""
    for ((i = 0; i < (limit + 15000) / 100; i++)); do
      left=""; for p in $others; do alive "$p" && left="$left $p"; done
      [ -z "$left" ] && { gone_ms=$(( $(now_ms) - t_loss )); break; }
      sleep 0.1
    done
    if [ -z "$gone_ms" ]; then fail "workers on other nodes still there $(( (limit + 15000) / 1000 )) s after the loss:"; show_pids "$left"
    elif [ "$gone_ms" -le "$limit" ]; then log "ok: every worker on the other nodes gone $gone_ms ms after the loss (limit $limit)"
    else fail "workers on the other nodes gone only $gone_ms ms after the loss (limit $limit)"; fi
    # (a scan of /proc takes seconds on a loaded machine: the processes found are then polled)
    rest=$(off_manager_node_pids)
    [ -n "$rest" ] && { log "left on the other nodes then:"; show_pids "$rest"; }
    rest_ms=""; rest_deadline=$(( $(now_ms) + 10000 ))
    while [ "$(now_ms)" -le "$rest_deadline" ]; do
      left=""; for p in $rest; do alive "$p" && left="$left $p"; done
      [ -z "$left" ] && { rest_ms=$(( $(now_ms) - t_loss )); break; }
      sleep 0.1
    done
    [ -n "$rest_ms" ] && [ -n "$(off_manager_node_pids)" ] && rest_ms=""  # one started meanwhile
    if [ -n "$rest_ms" ]; then log "ok: nothing of the job left on the other nodes $rest_ms ms after the loss"
    else fail "processes of the job left on the other nodes 10 s after its workers ended:"; show_pids "$(off_manager_node_pids)"; fi
    if [ "$CASE" = manager_killed ]; then
      wait_job "$JID" 30 || fail "the job did not end within 30 s of its workers"
      show_file "$OUT"
      log "job $JID: $(job_state "$JID")"
    else
      show_file "$OUT"
    fi
    ;;

  static_node_cut | static_node_cut_no_kill)
    # Static mode (srun -N 3 -n 3: rank 0 the manager on node1, one worker on each other node);
    # a worker's node goes down under a running map. The manager notices the silence after the
    # heartbeat timeout (15 s here), fails that worker's tasks with WorkerLost (a static rank is
    # not replaced), serves 100 tasks with the other rank, and main returns 7; the manager and the
    # other rank leave without MPI_Finalize (it would wait for the lost rank forever). srun then
    # waits for the cut node until Slurm declares it down (SlurmdTimeout) and exits with main's
    # status, with srun --no-kill or without (measured the same; only static_node_cut_no_kill,
    # where a hang would last until the job's time limit, is in the suite: 90 s each).
    extra=(); hb=15
    [ "$CASE" = static_node_cut_no_kill ] && extra=(--no-kill)
    OUT=$WORK/srun.out
    (cd "$WORK" && on_ctl env SPAWNPOOL_HEARTBEAT_TIMEOUT=$hb RELEASE_FILE="$WORK/release" \
       timeout -k 5 120 srun -J "$JOB" "${extra[@]}" --mpi=pmi2 -N 3 -n 3 bash -c \
       "'$PROBE' cut-node 7; s=\$?; echo \"rank \$SLURM_PROCID program exit code \$s at \$(date +%s%3N)\"; exit \$s") \
      > "$OUT" 2>&1 < /dev/null &
    srun_pid=$!
    if ! wait_line "$OUT" '^cut node[0-9]+ ' 60; then
      fail "the probe never said which node to cut"; show_file "$OUT"; exit 1
    fi
    node=$(grep -m1 -oE '^cut node[0-9]+' "$OUT" | awk '{print $2}')
    ip -n "$SPAWNPOOL_CLUSTER_PREFIX-$node" link set eth0 down || { fail "cannot cut $node"; exit 1; }
    cut_ms=$(now_ms)
    log "cut $node off ($SPAWNPOOL_CLUSTER_PREFIX-$node eth0 down)"
    wait "$srun_pid"; rc=$?
    end_ms=$(now_ms)
    show_file "$OUT" 80
    log "srun ended $((end_ms - cut_ms)) ms after the cut, status $rc"
    lost_ms=$(grep -m1 -oE '^lost [0-9]+ at [0-9]+' "$OUT" | awk '{print $4}')
    limit=$((hb * 1000 + 1500))
    if [ -z "$lost_ms" ]; then fail "the cut node's worker was not lost"
    elif [ $((lost_ms - cut_ms)) -le "$limit" ]; then log "ok: the worker on $node lost $((lost_ms - cut_ms)) ms after the cut (limit $limit)"
    else fail "the worker on $node lost $((lost_ms - cut_ms)) ms after the cut (limit $limit)"; fi
    expect "$OUT" '^mode static$' "static mode"
    expect "$OUT" '^served 100$' "the pool served 100 tasks with the other rank"
    expect "$OUT" '^rank 0 program exit code 7 ' "the manager's main ended with its status 7"
    main_ms=$(grep -m1 -oE '^main returns 7 at [0-9]+' "$OUT" | awk '{print $5}')
    if [ -n "$lost_ms" ] && [ -n "$main_ms" ]; then
      if [ $((main_ms - lost_ms)) -le 10000 ]; then log "ok: main returned $((main_ms - lost_ms)) ms after the loss"
      else fail "main returned only $((main_ms - lost_ms)) ms after the loss (limit 10000)"; fi
    fi
    # srun waits for the cut node's task until Slurm declares that node down (SlurmdTimeout=60 s
    # on the test cluster), then ends with the job's status: main's.
    case "$rc" in
      7) log "ok: srun's status is main's (7)" ;;
      124|137) fail "srun hung (killed by timeout 120 s after it started)" ;;
      *) fail "srun's status $rc, not main's 7" ;;
    esac
    ;;
  primes_sbatch | primes_spawn)
    # Seed 001 on the cluster: examples/primes.sbatch as it is (static mode, srun) over 3 nodes,
    # and examples' primes started alone in a 3-node allocation (spawn mode, 5 workers); both
    # print seed 001's line and end with status 0.
    want='^primes below 10000000: 664579$'
    if [ "$CASE" = primes_sbatch ]; then
      JID=$(on_ctl sbatch --parsable -J "$JOB" -N 3 -n 3 --time=0-00:04 --chdir="$WORK" \
              --export="ALL,PRIMES=$PRIMES,SPAWNPOOL_CLUSTER_TEST_TAG=$TAG" \
              "$SOURCE_DIR/examples/primes.sbatch") || { fail "sbatch primes.sbatch failed"; exit 1; }
      JID=${JID%%;*}
      log "submitted job $JID: sbatch -N 3 -n 3 examples/primes.sbatch"
      wait_job "$JID" 90 || fail "job $JID did not end within 90 s (hang?)"
      OUT=$(ls "$WORK"/*-"$JID".out 2>/dev/null | head -n1)   # the script names it %x-%N-%j.out
      show_file "${OUT:-$WORK/no-output}"; show_file "$(ls "$WORK"/*-"$JID".err 2>/dev/null | head -n1)" 20
      expect "$OUT" '^elapsed .* with 2 workers \(static mode\)$' "2 workers, static mode"
    else
      submit -N 3 -n 6 --wrap "'$PRIMES'; echo \"program exit code \$?\""
      wait_job "$JID" 90 || fail "job $JID did not end within 90 s (hang?)"
      show_file "$OUT"
      expect "$OUT" '^elapsed .* with 5 workers \(spawn mode\)$' "5 workers, spawn mode"
      expect "$OUT" '^program exit code 0$' "the program ended with status 0"
    fi
    log "job $JID: $(job_state "$JID")"
    expect "$OUT" "$want" "seed 001's line"
    "$ON" ctl timeout 10 scontrol show job "$JID" 2>/dev/null | grep -q 'ExitCode=0:0' &&
      log "ok: job exit code 0:0" || fail "job $JID: $(job_state "$JID")"
    ;;
  # --- end of brief f's cases ---

  ranks_spread | ranks_spread_static | ranks_static)
    # k-rank tasks whose ranks are spread over the nodes (TaskOptions::spread). Spawn mode: each
    # group is one MPI_Comm_spawn_multiple, one process per node in turn; static mode (srun -n 6,
    # 2 ranks per node, rank 0 the manager): each task takes idle ranks of different nodes. 6 tasks of 2 ranks beside
    # ordinary tasks: every task's 2 ranks on 2 nodes, the MPI_Allreduce over them right, main's
    # status 0. ranks_static: the same static job without spread: every task's ranks on one node
    # (packed, the default; node1 has one worker rank only, so they go to node2 and node3).
    spread=1; [ "$CASE" = ranks_static ] && spread=0
    if [ "$CASE" = ranks_spread ]; then
      submit -N 3 -n 6 --export="ALL,PROBE_SPREAD=1" \
        --wrap "PROBE_RANKS=2 '$PROBE' ranks 0; echo \"program exit code \$?\""
      wait_job "$JID" 90 || fail "job $JID did not end within 90 s (hang?)"
      log "job $JID: $(job_state "$JID")"
      mode=spawn
    else
      OUT=$WORK/srun.out
      (cd "$WORK" && on_ctl timeout -k 5 80 env PROBE_SPREAD=$spread PROBE_RANKS=2 \
         srun -J "$JOB" --mpi=pmi2 -N 3 -n 6 "$PROBE" ranks 0) > "$OUT" 2>&1 < /dev/null
      echo "program exit code $?" >> "$OUT"
      mode=static
    fi
    show_file "$OUT"
    expect "$OUT" "^mode $mode\$" "$mode mode"
    expect "$OUT" '^allreduce ok$' "every task's MPI_Allreduce over its 2 ranks was right"
    expect "$OUT" '^served 100$' "ordinary tasks ran beside them"
    tasks=$(grep -cE '^ranked task [0-9]+ rank 0 host ' "$OUT")
    [ "$tasks" = 6 ] && log "ok: 6 tasks answered for every rank" || fail "$tasks tasks answered, not 6"
    # per task: its distinct hosts; every task must have 2 (spread) or 1 (packed)
    want=$((spread + 1))
    wrong=$(grep -oE '^ranked task [0-9]+ rank [0-9]+ host [^ ]+' "$OUT" | awk '{print $3, $7}' |
              sort -u | awk -v w="$want" '{n[$1]++} END {for (t in n) if (n[t] != w) print t}')
    [ -z "$wrong" ] && log "ok: each task's 2 ranks on $want node(s)" || fail "tasks not on $want node(s): $wrong"
    log "rank hosts: $(grep -oE '^ranked task [0-9]+ rank [0-9]+ host [^ ]+' "$OUT" | awk '{print $7}' | sort | uniq -c | tr -s ' \n' ' ')"
    expect "$OUT" '^program exit code 0$' "the program ended with main's status"
    ;;

  ranks_static_one_per_node)
    # Static mode, srun -N 3 -n 3 (one rank per node: the manager and two workers on two nodes):
    # a packed 2-rank task is an Error at submit naming TaskOptions::spread (no node has two
    # worker ranks); spread, the same task runs on the two nodes.
    OUT=$WORK/srun.out
    (cd "$WORK" && on_ctl timeout -k 5 60 srun -J "$JOB" --mpi=pmi2 -N 3 -n 3 "$PROBE" ranks-packed-error 0) \
      > "$OUT" 2>&1 < /dev/null
    rc=$?
    show_file "$OUT"
    [ "$rc" = 0 ] || fail "srun exit code $rc, not main's 0 (124/137: timeout, hang)"
    expect "$OUT" '^packed error: .*no host .* has 2 worker ranks.*TaskOptions::spread' "a packed task is an Error at submit naming the spread option"
    expect "$OUT" '^spread hosts (node[0-9]),(node[0-9])$' "a spread task ran"
    grep -qE '^spread hosts (node[0-9]),\1$' "$OUT" && fail "the spread task ran on one node"
    expect "$OUT" '^main returns 0 ' "main ran to its end"
    ;;

  ranks_spread_killed | ranks_spread_killed_in_collective)
    # A spread group (rank 0 and rank 1 on two nodes, rank 1 not on the manager's): rank 1 is
    # SIGKILLed mid-task. Its pid means nothing on rank 0's node, so rank 0 hears of it
    # through the group's heartbeats (MPI refuses the next one, or the silence passes the 10 s
    # heartbeat timeout): the task fails with WorkerLost naming rank 1 within that bound, the
    # group's other process ends, a new spread group serves, main's status is 0.
    # ..._in_collective: rank 0 waits in MPI_Barrier with rank 1 when it is killed (MPICH's
    # barrier keeps waiting, it returns no error): rank 0's watch thread names rank 1 all the same.
    collective=0; [ "$CASE" = ranks_spread_killed_in_collective ] && collective=1
    submit -N 3 -n 6 \
      --export="ALL,PROBE_SPREAD=1,SPAWNPOOL_HEARTBEAT_TIMEOUT=10,PROBE_KILL_IN_COLLECTIVE=$collective" \
      --wrap "'$PROBE' ranks-kill 0; echo \"program exit code \$?\""
    wait_job "$JID" 90 || fail "job $JID did not end within 90 s (hang?)"
    log "job $JID: $(job_state "$JID")"
    show_file "$OUT"
    expect "$OUT" '^killed rank 1 at ' "rank 1 was killed"
    expect "$OUT" '^lost after [0-9]+ ms: .*rank 1 of its group' "the task failed with WorkerLost naming rank 1"
    ms=$(grep -oE '^lost after [0-9]+' "$OUT" | awk '{print $3}')
    [ -n "$ms" ] && [ "$ms" -lt 12000 ] && log "ok: lost after $ms ms" || fail "lost after '${ms:-?}' ms (limit 12000)"
    expect "$OUT" '^regrouped on [^,]+,[^,]+$' "a new group serves"
    if grep -qE '^regrouped on ([^,]+),\1$' "$OUT"; then fail "the new group is on one node"; fi
    expect "$OUT" '^served 100$' "ordinary tasks go on"
    expect "$OUT" '^program exit code 0$' "the program ended with main's status"
    ;;

  ranks_spawn)
    # k-rank tasks (issue 17) in a 3-node allocation, spawn mode: 6 tasks of 2 ranks side by side
    # with ordinary tasks; each task's ranks run on one node (a group is spawned on one host: its
    # members watch each other by PID), the MPI_Allreduce over them is right, main's status is 0.
    submit -N 3 -n 6 --wrap "PROBE_RANKS=2 '$PROBE' ranks 0; echo \"program exit code \$?\""
    wait_job "$JID" 90 || fail "job $JID did not end within 90 s (hang?)"
    log "job $JID: $(job_state "$JID")"
    show_file "$OUT"
    expect "$OUT" '^mode spawn$' "spawn mode"
    expect "$OUT" '^allreduce ok$' "every task's MPI_Allreduce over its 2 ranks was right"
    expect "$OUT" '^served 100$' "ordinary tasks ran beside them"
    split=$(grep -oE '^ranked task [0-9]+ rank [0-9]+ host [^ ]+' "$OUT" | awk '{print $3, $7}' |
              sort -u | awk '{n[$1]++} END {for (t in n) if (n[t] > 1) print t}')
    tasks=$(grep -cE '^ranked task [0-9]+ rank 0 host ' "$OUT")
    [ "$tasks" = 6 ] && log "ok: 6 tasks answered for every rank" || fail "$tasks tasks answered, not 6"
    [ -z "$split" ] && log "ok: each task's ranks on one node" || fail "tasks split over nodes: $split"
    log "task hosts: $(grep -oE '^ranked task [0-9]+ rank 0 host [^ ]+' "$OUT" | awk '{print $7}' | sort | uniq -c | tr -s ' \n' ' ')"
    expect "$OUT" '^program exit code 0$' "the program ended with main's status"
    ;;

  service_remote_clients)
    # A pool service across nodes, its clients on another: a Slurm job runs the service's 2 ranks
    # on node1 and node2 (hydra's mpiexec in the allocation); from node3 a client is served (the
    # lobby's address is node1's, the token file is on the shared filesystem), then a raw MPI
    # client stops itself in the middle of the ranks' join (raw_service_client --stop-in-join):
    # rank 0 cuts its connection after the client timeout (3 s) and the next client is served.
    # After 2 clients served the service ends (--max-clients 2): the job's status is 0. MPICH
    # only (tests/cluster/CMakeLists.txt): under Open MPI a client stopped in the join holds the
    # service (README).
    mpiexec=${SPAWNPOOL_TEST_MPIEXEC:?set by tests/cluster/CMakeLists.txt to the build mpiexec}
    server=${SPAWNPOOL_TEST_SERVICE_SERVER:?} client=${SPAWNPOOL_TEST_SERVICE_CLIENT:?}
    raw_client=${SPAWNPOOL_TEST_RAW_SERVICE_CLIENT:?}
    port_file=$WORK/pool.port
    submit -N 2 -n 2 --wrap "'$mpiexec' -n 2 '$server' --port-file '$port_file' --client-timeout 3 --max-clients 2; echo \"service exit code \$?\""
    wait_line "$port_file" '^lobby ' 60 || fail "the service wrote no port file within 60 s"
    log "port file: $(cat "$port_file" 2>/dev/null)"
    on_node3() {  # no SLURM_* variable: the client is not part of the service's job
      # shellcheck disable=SC2046
      "$ON" node3 env -u SLURM_CONF $(env | grep -oE '^SLURM_[A-Z_]+' | sed 's/^/-u /') \
        SPAWNPOOL_CLUSTER_TEST_TAG="$TAG" "$@"
    }
    served() {  # served WHAT: a good client from node3, which must get every rank's answers
      local out=$WORK/client.out start=$SECONDS
      (cd "$WORK" && on_node3 timeout -k 5 40 "$client" "file:$port_file") > "$out" 2>&1 < /dev/null
      local rc=$?
      log "client from node3 $1: exit $rc after $((SECONDS - start)) s"
      show_file "$out" 12
      [ "$rc" = 0 ] && grep -q '^sum of norms: 25250.0$' "$out" && grep -q '^connected to 2 service workers$' "$out" &&
        log "ok: served $1" || fail "the client from node3 was not served $1"
    }
    served "first"
    raw_out=$WORK/raw.out
    (cd "$WORK" && on_node3 timeout -k 5 60 "$mpiexec" -n 1 "$raw_client" "$port_file" "$port_file.token" \
       --stop-in-join) > "$raw_out" 2>&1 < /dev/null &
    raw_pid=$!
    wait_line "$raw_out" '^stopping' 30 && log "ok: the raw client stopped itself in the join" ||
      fail "the raw client did not get to stop in the join"
    show_file "$raw_out"
    served "after a client stopped itself in the middle of the join"
    kill -KILL $(pgrep -f -- "$raw_client $port_file") 2>/dev/null; wait "$raw_pid" 2>/dev/null
    wait_job "$JID" 30 || fail "the service's job $JID did not end within 30 s of its last client"
    log "job $JID: $(job_state "$JID")"
    show_file "$OUT"
    expect "$OUT" 'did not finish joining the ranks within the client timeout .*its connection was cut' \
      "rank 0 cut the stopped client's connection"
    expect "$OUT" '^service exit code 0$' "the service ended with status 0 after its 2 clients"
    ;;

  *) fail "unknown case $CASE" ;;
esac
