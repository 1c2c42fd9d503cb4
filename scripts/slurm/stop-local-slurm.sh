#!/usr/bin/env bash
# Stops the local Slurm cluster started by scripts/slurm/start-local-slurm.sh: cancels all jobs
# (bounded wait), then stops slurmd, slurmctld and, only if the start script started it, munged.
# Only PIDs read from the pid files in /run/slurm-local whose name matches are signalled (TERM,
# then KILL after 10 s). Idempotent: nothing running, nothing done.
set -uo pipefail

RUNDIR=/run/slurm-local
say() { echo "stop-local-slurm: $*"; }

pid_of() { # pid_of PIDFILE NAME -> print pid if it is a running NAME
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$2" ] && echo "$pid"
}

stop() { # stop PIDFILE NAME
  local pid
  if pid=$(pid_of "$1" "$2"); then
    kill -TERM "$pid"
    for _ in $(seq 1 40); do [ -d /proc/"$pid" ] || break; sleep 0.25; done
    if [ -d /proc/"$pid" ]; then
      kill -KILL "$pid"
      say "$2 ($pid) killed"
    else
      say "$2 ($pid) stopped"
    fi
  fi
  rm -f "$1"
}

# 1. cancel jobs while the controller is still up; wait (bounded) for them to go
if pid_of "$RUNDIR/slurmctld.pid" slurmctld >/dev/null; then
  jobs=$(timeout 10 squeue -h -o %i 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    say "cancelling jobs $jobs"
    # shellcheck disable=SC2086
    timeout 10 scancel $jobs
    for _ in $(seq 1 40); do
      [ -z "$(timeout 10 squeue -h -t R,CG,PD -o %i 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
fi

# 2. daemons, compute node first
stop "$RUNDIR/slurmd.pid" slurmd
stop "$RUNDIR/slurmctld.pid" slurmctld
stop "$RUNDIR/munged.pid" munged
exit 0
