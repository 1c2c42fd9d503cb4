#!/usr/bin/env bash
# Starts an sshd in every compute node of the cluster started by start-cluster.sh, so that jobs can
# start without a scheduler, as on a small cluster: `mpiexec -launcher ssh -f hosts ...` (hydra's
# ssh launcher). Optional and additive: the Slurm daemons do not need it.
#   - one sshd per node, started inside the node's namespaces (it sees the node's hostname,
#     network and /etc/hosts, and so do the commands it runs), listening on the node's address,
#     port 22; its own config, host key, pid file and log, all under $CLUSTER_DIR/ssh
#     (log: $CLUSTER_LOGS/sshd-NODE.log);
#   - a client key pair made here, the only key the sshds accept (for root, who runs the tests);
#   - a client config with that key and a known_hosts listing every node's host key, bind-mounted
#     over /etc/ssh/ssh_config in every node's mount namespace (not the host's: nothing of the
#     machine's own ssh set-up changes), so that `ssh node2 hostname` from any node just works,
#     without prompts. A ~/.ssh/config of root would take precedence; the project has none.
#     Root's ~/.bashrc is masked by an empty file in the nodes (why: below).
#   - the client sends, and the sshds accept, the test tags SPAWNPOOL_TEST_TAG and
#     SPAWNPOOL_CLUSTER_TEST_TAG: what a test starts over ssh (hydra's proxies) carries the tags
#     of the test, so its leftover checks find it.
# Every process started here inherits the caller's environment (ctest's SPAWNPOOL_TEST_TAG); each
# sshd runs under a keeper shell that shows it (see step 3).
# Stopped by stop-sshd.sh (which stop-cluster.sh calls). Needs openssh-server (sshd) and
# openssh-client (ssh, ssh-keygen). Exit 0 once `ssh nodeJ hostname` from
# node1 answers for every node; 1 otherwise. Every wait is bounded.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cluster-env.sh"
say() { echo "start-sshd: $*"; }
SSH_DIR=$CLUSTER_DIR/ssh
SSHD=/usr/sbin/sshd     # sshd must be started by its absolute path (it re-executes itself)

[ "$(id -u)" = 0 ] || { say "must run as root" >&2; exit 1; }
for c in "$SSHD" ssh ssh-keygen setpriv; do
  command -v "$c" >/dev/null || { say "$c missing (apt-get install -y openssh-server openssh-client)" >&2; exit 1; }
done
[ -s "$CLUSTER_DIR/nodes" ] || { say "no cluster in $CLUSTER_DIR (start-cluster.sh first)" >&2; exit 1; }
NODES=$(cat "$CLUSTER_DIR/nodes")
addr() { echo "$CLUSTER_SUBNET.$((10 + ${1#node}))"; }
alive() { local pid; pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] && [ -d "/proc/$pid" ]; }

mkdir -p "$CLUSTER_LOGS"
install -d -m 700 "$SSH_DIR"
# sshd's privilege separation directory (Debian's service creates it at boot; /run is shared)
install -d -m 755 /run/sshd

# 1. keys: the client's, and a host key per node
[ -s "$SSH_DIR/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C spawnpool-cluster-client -f "$SSH_DIR/id_ed25519"
install -m 600 "$SSH_DIR/id_ed25519.pub" "$SSH_DIR/authorized_keys"
: > "$SSH_DIR/known_hosts"
for i in $(seq 1 "$NODES"); do
  n=node$i; d=$SSH_DIR/$n
  install -d -m 700 "$d"
  [ -s "$d/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "$n" -f "$d/ssh_host_ed25519_key"
  echo "$n,$(addr "$n") $(cut -d' ' -f1,2 "$d/ssh_host_ed25519_key.pub")" >> "$SSH_DIR/known_hosts"
done

# 2. the client config every node sees as /etc/ssh/ssh_config
cat > "$SSH_DIR/ssh_config" <<EOF
# written by spawnpool's scripts/cluster/start-sshd.sh; bind-mounted over /etc/ssh/ssh_config in
# the test cluster's nodes only
Host *
  IdentityFile $SSH_DIR/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $SSH_DIR/known_hosts
  GlobalKnownHostsFile $SSH_DIR/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 5
  ServerAliveInterval 5
  ServerAliveCountMax 3
  SendEnv SPAWNPOOL_TEST_TAG SPAWNPOOL_CLUSTER_TEST_TAG
  # the default post-quantum key exchange costs 0.5 s more per connection on a busy 2-core machine;
  # the cluster's traffic never leaves the machine
  KexAlgorithms curve25519-sha256
  LogLevel ERROR
EOF
chmod 644 "$SSH_DIR/ssh_config"
[ -e /etc/ssh/ssh_config ] || { install -d -m 755 /etc/ssh; : > /etc/ssh/ssh_config; }  # a mount point
# sshd runs every command through root's shell, and Debian's bash then reads ~/.bashrc: this
# machine's (pyenv init) takes 3-5 s, which every ssh, so every hydra proxy start, would pay. In
# the nodes (their mount namespaces only) root's .bashrc is an empty file.
bashrc=$(getent passwd root | cut -d: -f6)/.bashrc
echo "# test cluster node: see spawnpool's scripts/cluster/start-sshd.sh" > "$SSH_DIR/bashrc"
mounts="grep -q ' /etc/ssh/ssh_config ' /proc/self/mountinfo || mount --bind '$SSH_DIR/ssh_config' /etc/ssh/ssh_config"
[ -f "$bashrc" ] && mounts+="; grep -q ' $bashrc ' /proc/self/mountinfo || mount --bind '$SSH_DIR/bashrc' '$bashrc'"

# 3. one sshd per node, inside the node, after the node's mounts (the nodes in parallel: each
#    `on` costs up to 0.5 s on a busy machine)
"$here/on" ctl sh -c "$mounts" & starts=($!)
for i in $(seq 1 "$NODES"); do
  n=node$i; d=$SSH_DIR/$n
  alive "$d/sshd.pid" && continue
  cat > "$d/sshd_config" <<EOF
# written by spawnpool's scripts/cluster/start-sshd.sh: the sshd of test cluster node $n
ListenAddress $(addr "$n"):22
HostKey $d/ssh_host_ed25519_key
PidFile $d/sshd.pid
AuthorizedKeysFile $SSH_DIR/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
X11Forwarding no
PrintMotd no
PrintLastLog no
AcceptEnv SPAWNPOOL_TEST_TAG SPAWNPOOL_CLUSTER_TEST_TAG
# hydra opens one connection per remote host at once, a test a few in a row
MaxStartups 64
LogLevel INFO
EOF
  # sshd rewrites its process title over its environment, so a daemonized sshd no longer shows
  # the caller's test tag in /proc/PID/environ and the leftover check would miss it. So it runs
  # in the foreground (-D; it still writes its pid file) under a keeper shell, which keeps the
  # tag, waits for it, and takes it along when killed (parent-death signal). setsid: no
  # inherited descriptor may keep a caller's pipe open.
  setsid "$here/on" "$n" sh -c "$mounts || exit 1
    setpriv --pdeathsig TERM '$SSHD' -D -f '$d/sshd_config' -E '$CLUSTER_LOGS/sshd-$n.log' & wait" \
    < /dev/null > /dev/null 2> "$d/start.err" &
done
wait "${starts[0]}" || { say "the client config's mounts failed in ctl" >&2; exit 1; }
for i in $(seq 1 "$NODES"); do   # each sshd writes its pid file once it listens (bounded wait)
  d=$SSH_DIR/node$i
  for _ in $(seq 1 100); do alive "$d/sshd.pid" && break; sleep 0.1; done
  alive "$d/sshd.pid" || { say "sshd did not start in node$i" >&2; cat "$d/start.err" >&2
                           tail -n 3 "$CLUSTER_LOGS/sshd-node$i.log" >&2; exit 1; }
done

# 4. wait (bounded) until node1 reaches every node by name (one try per node at a time, in parallel)
reach='for n in "$@"; do (for i in $(seq 1 50); do [ "$(timeout 10 ssh "$n" hostname 2>/dev/null)" = "$n" ] &&
         { echo "$n"; exit 0; }; sleep 0.2; done) & done; wait'
# shellcheck disable=SC2046
reached=$("$here/on" node1 bash -c "$reach" reach $(seq -f 'node%g' 1 "$NODES") | sort | tr '\n' ' ')
if [ "$reached" != "$(seq -f 'node%g' 1 "$NODES" | sort | tr '\n' ' ')" ]; then
  say "from node1, ssh NODE hostname answered only for: ${reached:-none}" >&2
  for i in $(seq 1 "$NODES"); do "$here/on" node1 timeout 10 ssh "node$i" hostname >&2; done
  tail -n 3 "$CLUSTER_LOGS"/sshd-node*.log >&2; exit 1
fi
say "sshd in node1..node$NODES (keys and config in $SSH_DIR); e.g. scripts/cluster/on node1 ssh node2 hostname"
