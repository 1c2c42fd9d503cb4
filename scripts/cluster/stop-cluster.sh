#!/usr/bin/env bash
# Stops the cluster started by start-cluster.sh and leaves nothing of it: cancels its jobs
# (bounded wait), stops its slurmd's and slurmctld (by their pid files), kills whatever still runs
# in its nodes' network namespaces (job steps of a node that was cut off, processes a job left),
# stops the node holders and the cluster's own munged, deletes the namespaces and the cluster dir
# (logs are kept when SPAWNPOOL_CLUSTER_LOGS is elsewhere). Touches nothing else: processes are
# found by pid file or by network namespace, never by name. Idempotent.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cluster-env.sh"
say() { echo "stop-cluster: $*"; }
[ "$(id -u)" = 0 ] || { say "must run as root" >&2; exit 1; }

pid_of() { # pid_of PIDFILE -> the pid in it, if that process is alive
  local pid; pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && echo "$pid"
}
stop() { # stop PIDFILE...: TERM to all, KILL to those alive after 5 s
  local f pid pids=() alive
  for f in "$@"; do pid=$(pid_of "$f") && pids+=("$pid"); rm -f "$f"; done
  [ ${#pids[@]} = 0 ] && return 0
  kill -TERM "${pids[@]}" 2>/dev/null
  for _ in $(seq 1 50); do
    alive=0; for pid in "${pids[@]}"; do [ -d "/proc/$pid" ] && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null
}
namespaces() { ip netns list 2>/dev/null | awk -v p="$CLUSTER_PREFIX-" 'index($1, p) == 1 {print $1}'; }

# 1. jobs, while the controller answers
if pid_of "$CLUSTER_DIR/slurmctld.pid" >/dev/null && [ -e "$CLUSTER_DIR/ctl.holder.pid" ]; then
  jobs=$("$here/on" ctl timeout 10 squeue -h -o %i 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    say "cancelling jobs $jobs"
    # shellcheck disable=SC2086
    "$here/on" ctl timeout 10 scancel $jobs
    for _ in $(seq 1 20); do
      [ -z "$("$here/on" ctl timeout 10 squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.5
    done
  fi
fi
# 2. daemons, compute nodes first
stop "$CLUSTER_DIR"/slurmd-*.pid
stop "$CLUSTER_DIR/slurmctld.pid"
"$here/stop-sshd.sh"   # the sshds of start-sshd.sh, if started, and what runs under them
# 3. whatever still runs in the nodes' networks (the holders included), then the namespaces
for _ in 1 2 3; do
  pids=$(for ns in $(namespaces); do ip netns pids "$ns" 2>/dev/null; done | tr '\n' ' ')
  [ -z "${pids// /}" ] && break
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null; sleep 0.5
done
stop "$CLUSTER_DIR"/*.holder.pid
for ns in $(namespaces); do ip netns del "$ns" || say "could not delete namespace $ns" >&2; done
# 4. the cluster's munged
stop "$CLUSTER_MUNGE/munged.pid"
left=$(namespaces | tr '\n' ' ')
[ -n "${left// /}" ] && { say "namespaces left: $left" >&2; exit 1; }
case "$CLUSTER_LOGS" in "$CLUSTER_DIR"/*) ;; *) [ -d "$CLUSTER_DIR" ] && say "logs kept in $CLUSTER_LOGS" ;; esac
rm -rf "$CLUSTER_DIR"
say "stopped"
exit 0
