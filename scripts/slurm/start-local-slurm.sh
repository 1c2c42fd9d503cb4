#!/usr/bin/env bash
# Starts a single-node local Slurm cluster on this machine (slurmctld + slurmd + munged, started
# by hand: no systemd). Needs root. Installs Debian's slurm-wlm and munge when they are missing.
# Idempotent: when the daemons this script started are alive and the node answers, it does
# nothing. Every wait is bounded. Stop it with scripts/slurm/stop-local-slurm.sh.
#
# Written from the recipe tried on these machines (shared/slurm/README.md): node $(hostname -s) at
# 127.0.0.1 with CPUs=$(nproc), cons_tres/CR_Core, proctrack/linuxproc, MpiDefault=none (so MPICH
# ch3 jobs need `srun --mpi=pmi2`), state in /var/spool/slurm{ctld,d}, logs in /var/log/slurm,
# pid files in /run/slurm-local.
#
# Env: SLURM_START_WAIT  seconds to wait for the node to become usable (default 30)
#      SLURM_APT_TIMEOUT seconds allowed for apt-get update + install (default 600)
# Exit: 0 when the node answers idle/mix/alloc, 1 otherwise (with the daemons' log tails).
set -euo pipefail

CONF=/etc/slurm/slurm.conf
RUNDIR=/run/slurm-local            # pid files of the daemons started here
LOGDIR=/var/log/slurm
WAIT=${SLURM_START_WAIT:-30}
APT_TIMEOUT=${SLURM_APT_TIMEOUT:-600}
NODE=$(hostname -s)
say() { echo "start-local-slurm: $*"; }

[ "$(id -u)" = 0 ] || { say "must run as root (it installs packages and starts daemons)" >&2; exit 1; }

# 0. packages
missing=0
for c in munged munge unmunge slurmctld slurmd sinfo scontrol squeue; do
  command -v "$c" >/dev/null 2>&1 || missing=1
done
if [ "$missing" = 1 ]; then
  say "installing slurm-wlm and munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  timeout "$APT_TIMEOUT" apt-get update -qq || say "apt-get update failed; trying the install anyway" >&2
  timeout "$APT_TIMEOUT" apt-get install -y -qq slurm-wlm munge >/dev/null ||
    { say "apt-get install -y slurm-wlm munge failed" >&2; exit 1; }
  for c in munged slurmctld slurmd sinfo scontrol; do
    command -v "$c" >/dev/null 2>&1 || { say "$c still missing after installing" >&2; exit 1; }
  done
fi
mkdir -p "$RUNDIR" "$LOGDIR" /var/spool/slurmctld /var/spool/slurmd

alive() { # alive PIDFILE NAME -> 0 if the pid in PIDFILE is a running NAME
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$2" ]
}
node_state() { timeout 10 sinfo -h -n "$NODE" -o %t 2>/dev/null | head -n 1; }
munge_ok() { timeout 5 munge -n 2>/dev/null | timeout 5 unmunge >/dev/null 2>&1; }

if alive "$RUNDIR/slurmctld.pid" slurmctld && alive "$RUNDIR/slurmd.pid" slurmd; then
  st=$(node_state || true)
  case "$st" in
    idle|mix|alloc|comp) say "already running (node $NODE $st)"; exit 0 ;;
    *) say "daemons running but node state is '${st:-none}'; waiting" ;;
  esac
else
  # 1. munge
  if ! munge_ok; then
    if [ ! -s /etc/munge/munge.key ]; then
      say "creating /etc/munge/munge.key"
      install -d -o munge -g munge -m 700 /etc/munge
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    install -d -o munge -g munge -m 755 /run/munge
    runuser -u munge -- munged
    cp /run/munge/munged.pid "$RUNDIR/munged.pid"
    for _ in $(seq 1 20); do munge_ok && break; sleep 0.5; done
    munge_ok || { say "munged is not working" >&2; exit 1; }
  fi

  # 2. slurm.conf for this host (only rewritten while the daemons are down). A slurmctld or slurmd
  # that this script did not start (pid file missing) would be left alone and make the start fail.
  cpus=$(nproc)
  avail_mb=$(awk '/^MemAvailable:/ {print int($2/1024)}' /proc/meminfo)
  mem_mb=$((avail_mb * 9 / 10))
  if [ -f "$CONF" ] && ! grep -q '^# written by start-local-slurm.sh' "$CONF"; then
    cp "$CONF" "$CONF.bak.$(date +%s)"
    say "saved the existing $CONF as $CONF.bak.*"
  fi
  mkdir -p "$(dirname "$CONF")"
  cat > "$CONF" <<CONFEOF
# written by start-local-slurm.sh -- single-node local cluster
ClusterName=local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$RUNDIR/slurmctld.pid
SlurmdPidFile=$RUNDIR/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
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
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONFEOF

  # 3. daemons (they daemonize and write the pid files named above)
  alive "$RUNDIR/slurmctld.pid" slurmctld || slurmctld
  alive "$RUNDIR/slurmd.pid" slurmd || slurmd
fi

# 4. wait (bounded) for the node to be usable
st=""
for ((i = 0; i < WAIT * 2; i++)); do
  st=$(node_state || true)
  case "$st" in
    idle|mix|alloc|comp) say "node $NODE is $st"; exit 0 ;;
    down*|drain*|drng*|inval*) scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 0.5
done
say "node $NODE not usable after ${WAIT}s (state '${st:-none}')" >&2
echo "--- $LOGDIR/slurmctld.log" >&2; tail -n 15 "$LOGDIR/slurmctld.log" >&2 || true
echo "--- $LOGDIR/slurmd.log" >&2; tail -n 15 "$LOGDIR/slurmd.log" >&2 || true
exit 1
