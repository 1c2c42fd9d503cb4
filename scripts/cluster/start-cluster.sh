#!/usr/bin/env bash
# Starts a Slurm 22.05 cluster of NODES nodes x CPUS CPUs on this one machine, each node a set of
# Linux namespaces, to test spawnpool across hosts (placement, TCP between nodes, a node that
# disappears) without a second machine. Written from the recipe in the shared notes
# (cluster/start-ns-cluster.sh); the project does not depend on them.
#   ctl            slurmctld, $CLUSTER_SUBNET.1; also the login node: run sbatch/srun there
#   node1..nodeN   slurmd, $CLUSTER_SUBNET.11 ..
# Each node has its own network namespace (a veth eth0 on a bridge that lives in a namespace of
# its own, PREFIX-switch: nothing of the cluster is reachable from the host's network and no packet
# leaves the machine), its own hostname (UTS) and its own /etc/hosts (mount namespace), kept alive
# by one holder process (`sleep infinity`). Filesystem, users and PIDs are the host's, like a
# cluster's shared home. The cluster has its own munged (own socket and key in the cluster dir,
# AuthInfo=socket=... in its slurm.conf), so it neither needs nor disturbs a munged of the host.
#
# Usage: start-cluster.sh [NODES=3] [CPUS_PER_NODE=2]    (root; needs slurm-wlm, munge, iproute2,
#        util-linux). Then: scripts/cluster/on ctl sbatch ...; scripts/cluster/on node2 hostname.
#        A node's network goes down with: ip -n PREFIX-node2 link set eth0 down.
# Stop with stop-cluster.sh. Settings (dir, namespace prefix, logs): cluster-env.sh.
# Exit 0 once every node is idle; 1 otherwise (with the controller's log tail). Every wait is bounded.
set -euo pipefail
NODES=${1:-3}
CPUS=${2:-2}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cluster-env.sh"
say() { echo "start-cluster: $*"; }

[ "$(id -u)" = 0 ] || { say "must run as root" >&2; exit 1; }
for c in munged munge unmunge slurmctld slurmd sinfo ip unshare nsenter runuser; do
  command -v "$c" >/dev/null || { say "$c missing (apt-get install -y slurm-wlm munge iproute2 util-linux)" >&2; exit 1; }
done
if [ -s "$CLUSTER_DIR/slurmctld.pid" ] && [ -d /proc/"$(cat "$CLUSTER_DIR/slurmctld.pid")" ]; then
  say "a cluster already runs in $CLUSTER_DIR (stop it with stop-cluster.sh first)" >&2; exit 1
fi
nodes=(ctl); for i in $(seq 1 "$NODES"); do nodes+=("node$i"); done
addr() { [ "$1" = ctl ] && echo "$CLUSTER_SUBNET.1" || echo "$CLUSTER_SUBNET.$((10 + ${1#node}))"; }
mkdir -p "$CLUSTER_DIR" "$CLUSTER_LOGS" "$CLUSTER_DIR/spool/ctld"
echo "$NODES" > "$CLUSTER_DIR/nodes"

# Everything started here is a daemon: no inherited descriptor may keep a caller's pipe open (ctest
# waits for its test's output pipe to close).
detach() { setsid "$@" < /dev/null > /dev/null 2>&1; }

# 1. the cluster's own munged
install -d -o munge -g munge -m 755 "$CLUSTER_MUNGE"
if [ ! -s "$CLUSTER_MUNGE/munge.key" ]; then
  dd if=/dev/urandom of="$CLUSTER_MUNGE/munge.key" bs=1024 count=1 status=none
fi
chown munge:munge "$CLUSTER_MUNGE/munge.key"; chmod 400 "$CLUSTER_MUNGE/munge.key"
munge_ok() { timeout 5 munge -S "$CLUSTER_MUNGE/munge.socket" -n 2>/dev/null |
             timeout 5 unmunge -S "$CLUSTER_MUNGE/munge.socket" >/dev/null 2>&1; }
if ! munge_ok; then
  touch "$CLUSTER_LOGS/munged.log"; chown munge:munge "$CLUSTER_LOGS/munged.log"
  detach runuser -u munge -- munged --socket="$CLUSTER_MUNGE/munge.socket" \
    --key-file="$CLUSTER_MUNGE/munge.key" --pid-file="$CLUSTER_MUNGE/munged.pid" \
    --seed-file="$CLUSTER_MUNGE/munged.seed" --log-file="$CLUSTER_LOGS/munged.log" || true
  for _ in $(seq 1 40); do munge_ok && break; sleep 0.25; done
  munge_ok || { say "munged does not answer on $CLUSTER_MUNGE/munge.socket" >&2; tail -n 5 "$CLUSTER_LOGS/munged.log" >&2; exit 1; }
fi

# 2. network: a bridge in its own namespace, one veth pair per node (created directly in the
#    namespaces: no interface of the cluster ever appears in the host's namespace)
sw=$CLUSTER_PREFIX-switch
ip netns list | grep -qw "$sw" || ip netns add "$sw"
ip -n "$sw" link show br0 >/dev/null 2>&1 || ip -n "$sw" link add br0 type bridge
ip -n "$sw" link set br0 up
ip -n "$sw" link set lo up
{ echo "127.0.0.1 localhost"; for n in "${nodes[@]}"; do echo "$(addr "$n") $n"; done; } > "$CLUSTER_DIR/hosts"
for n in "${nodes[@]}"; do
  ns=$CLUSTER_PREFIX-$n
  ip netns list | grep -qw "$ns" && continue
  ip netns add "$ns"
  ip link add "v-$n" netns "$sw" type veth peer name eth0 netns "$ns"
  ip -n "$sw" link set "v-$n" master br0 up
  ip -n "$ns" addr add "$(addr "$n")/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done

# 3. one holder per node: its UTS and mount namespaces are the node's (hostname, /etc/hosts);
#    `on NODE cmd` enters them with nsenter. (nsenter --net keeps the host's /sys, which slurmd
#    needs; `ip netns exec` would remount it.)
for n in "${nodes[@]}"; do
  pidf=$CLUSTER_DIR/$n.holder.pid
  if [ -s "$pidf" ] && [ -d /proc/"$(cat "$pidf")" ]; then continue; fi
  setsid nsenter --net="/run/netns/$CLUSTER_PREFIX-$n" unshare --uts --mount --propagation private \
    sh -c "hostname $n && mount --bind '$CLUSTER_DIR/hosts' /etc/hosts && exec sleep infinity" \
    < /dev/null > /dev/null 2>&1 &
  echo $! > "$pidf"
done
for n in "${nodes[@]}"; do   # the holder is ready once it runs sleep in its own UTS namespace
  pid=$(cat "$CLUSTER_DIR/$n.holder.pid")
  for _ in $(seq 1 40); do
    [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = sleep ] && break; sleep 0.1
  done
  [ "$(nsenter --target "$pid" --uts hostname 2>/dev/null)" = "$n" ] || { say "node $n did not come up" >&2; exit 1; }
done

# 4. slurm.conf
addrs=$(for i in $(seq 1 "$NODES"); do printf '%s,' "$(addr "node$i")"; done)
cat > "$CLUSTER_CONF" <<CONF_EOF
# written by spawnpool's scripts/cluster/start-cluster.sh: a test cluster in network namespaces
ClusterName=spawnpooltest
SlurmctldHost=ctl($(addr ctl))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$CLUSTER_MUNGE/munge.socket
StateSaveLocation=$CLUSTER_DIR/spool/ctld
SlurmdSpoolDir=$CLUSTER_DIR/spool/%n
SlurmctldPidFile=$CLUSTER_DIR/slurmctld.pid
SlurmdPidFile=$CLUSTER_DIR/slurmd-%n.pid
SlurmctldLogFile=$CLUSTER_LOGS/slurmctld.log
SlurmdLogFile=$CLUSTER_LOGS/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=node[1-$NODES] NodeAddr=${addrs%,} CPUs=$CPUS RealMemory=2000 State=UNKNOWN
PartitionName=nodes Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF_EOF

# 5. daemons, each inside its node (they daemonize and write the pid files named above)
detach "$here/on" ctl slurmctld
for i in $(seq 1 "$NODES"); do
  mkdir -p "$CLUSTER_DIR/spool/node$i"
  detach "$here/on" "node$i" slurmd
done

# 6. wait (bounded) until every node is idle
st=
for _ in $(seq 1 120); do
  st=$("$here/on" ctl timeout 10 sinfo -h -o '%T %D' 2>/dev/null | tr '\n' ' ')
  [ "$st" = "idle $NODES " ] && { say "$NODES nodes x $CPUS CPUs idle (config $CLUSTER_CONF; run jobs with scripts/cluster/on ctl ...)"; exit 0; }
  sleep 0.5
done
say "nodes not idle after 60 s: '$st'" >&2
tail -n 20 "$CLUSTER_LOGS/slurmctld.log" >&2 || true
exit 1
