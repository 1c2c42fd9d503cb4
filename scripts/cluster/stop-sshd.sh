#!/usr/bin/env bash
# Stops what start-sshd.sh started and leaves nothing of it: every process started through a
# node's sshd (its sessions and what they run, e.g. hydra's proxies), then the sshds (by their pid
# files: TERM, KILL after 5 s), then the mounts of the client config and of root's .bashrc and $CLUSTER_DIR/ssh. Processes are
# found by pid file and parentage, never by name. Idempotent; nothing to do without start-sshd.sh.
# Called by stop-cluster.sh.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cluster-env.sh"
say() { echo "stop-sshd: $*"; }
SSH_DIR=$CLUSTER_DIR/ssh
[ -d "$SSH_DIR" ] || exit 0
[ "$(id -u)" = 0 ] || { say "must run as root" >&2; exit 1; }

# descendants PID...: every process below these (one snapshot of the process table)
descendants() {
  ps -e -o pid=,ppid= | awk -v roots="$*" '
    { parent[$1] = $2 }
    END { n = split(roots, r, " "); for (i = 1; i <= n; i++) top[r[i]] = 1
          do { grew = 0
               for (p in parent) if (!(p in top) && (parent[p] in top)) { top[p] = 1; below[p] = 1; grew = 1 }
          } while (grew)
          for (p in below) print p }'
}

sshds=()
for f in "$SSH_DIR"/node*/sshd.pid; do
  pid=$(cat "$f" 2>/dev/null) && [ -n "$pid" ] && [ -d "/proc/$pid" ] && sshds+=("$pid")
done
if [ ${#sshds[@]} -gt 0 ]; then
  below=$(descendants "${sshds[@]}" | tr '\n' ' ')
  # shellcheck disable=SC2086
  [ -n "${below// /}" ] && { say "killing what the sshds still run: $below"; kill -KILL $below 2>/dev/null; }
  kill -TERM "${sshds[@]}" 2>/dev/null
  for _ in $(seq 1 50); do
    alive=0; for pid in "${sshds[@]}"; do [ -d "/proc/$pid" ] && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  [ "$alive" = 1 ] && kill -KILL "${sshds[@]}" 2>/dev/null
fi
bashrc=$(getent passwd root | cut -d: -f6)/.bashrc
for f in "$CLUSTER_DIR"/*.holder.pid; do   # start-sshd.sh's bind mounts, in nodes still up
  [ -e "$f" ] || continue
  "$here/on" "$(basename "$f" .holder.pid)" sh -c "for m in /etc/ssh/ssh_config '$bashrc'; do
    grep -q \" \$m \" /proc/self/mountinfo && umount \"\$m\"; done" >/dev/null 2>&1 &
done
wait
rm -rf "$SSH_DIR"
exit 0
