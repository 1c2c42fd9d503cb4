#!/usr/bin/env bash
# The pool service: a server started with mpiexec serves two clients one after the other (each gets
# correct results and an UnregisteredTask for a task only the client has), then exits cleanly.
#   service_test.sh MPIEXEC SERVER CLIENT [openmpi] [RAW_CLIENT]
# Also: a client with the wrong token and (RAW_CLIENT, a plain MPI program) one that connects and
# sends no token are refused, and the built-in command task is refused (the service does not
# offer it). Clients that misbehave after admission (garbage, killed mid-map, stopped mid-map) are
# dropped and the next client is served.
# With Open MPI (4th argument "openmpi", or an mpiexec whose --version says "Open MPI"),
# MPI_Comm_connect/accept across separate mpiruns needs Open MPI's ompi-server: the test starts
# one, gives the service's mpiexec its URI (--ompi-server file:URIFILE) and the clients too
# (OMPI_MCA_pmix_server_uri=file:URIFILE: a client is a singleton, and without it its connect fails
# with "requires the support of the ompi-server tool"), and kills it by its PID on exit (it also
# dies with the script: PR_SET_PDEATHSIG through setpriv).
set -u
mpiexec=$1 server=$2 client=$3 flavour=${4:-} raw_client=${5:-}
if [ -z "$flavour" ] && "$mpiexec" --version 2>/dev/null | grep -q "Open MPI"; then flavour=openmpi; fi
port_file=$(mktemp -u /tmp/spawnpool_service_XXXXXX.port)
log=$(mktemp /tmp/spawnpool_service_XXXXXX.log)
server_args=()
if [ "$flavour" = openmpi ]; then
  ompi_server=$(dirname "$(command -v "$mpiexec")")/ompi-server
  [ -x "$ompi_server" ] || ompi_server=$(command -v ompi-server) ||
    { echo "FAIL: Open MPI's ompi-server not found"; exit 1; }
  uri_file=$(mktemp -u /tmp/spawnpool_service_XXXXXX.uri)
  ompi_server_log=$(mktemp /tmp/spawnpool_service_XXXXXX.ompi-server.log)
  # It runs until killed: it dies with this script even when the script is killed (SIGKILL, as
  # when a CI run is stopped), where the EXIT trap below cannot run (two were left once).
  setpriv --pdeathsig KILL "$ompi_server" --no-daemonize -r "$uri_file" > "$ompi_server_log" 2>&1 &
  ompi_server_pid=$!
  stop_ompi_server() {
    kill "$ompi_server_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$ompi_server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$ompi_server_pid" 2>/dev/null
    wait "$ompi_server_pid" 2>/dev/null
    rm -f "$uri_file" "$ompi_server_log"
  }
  trap stop_ompi_server EXIT
  trap 'exit 1' INT TERM HUP
  for _ in $(seq 1 100); do [ -s "$uri_file" ] && break; sleep 0.2; done
  [ -s "$uri_file" ] || { echo "FAIL: ompi-server never wrote its URI file"; cat "$ompi_server_log"; exit 1; }
  server_args=(--ompi-server "file:$uri_file")
  export OMPI_MCA_pmix_server_uri="file:$uri_file"
fi
# start_service SECONDS RANKS [ARGS...]: a service of RANKS ranks on $port_file, its output in $log,
# killed after SECONDS (server_pid: its mpiexec); returns once its port file is written (or after
# 20 s).
start_service() {
  local limit=$1 ranks=$2
  shift 2
  timeout -k 5 "$limit" "$mpiexec" "${server_args[@]}" -n "$ranks" "$server" --port-file "$port_file" \
    "$@" > "$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do [ -s "$port_file" ] && break; sleep 0.2; done
}
# A symlink someone left where the service writes its port file's temporary copy: the service must
# not write through it (it overwrote the file the link pointed to).
victim=$(mktemp /tmp/spawnpool_service_XXXXXX.victim)
echo "not the service's" > "$victim"
ln -s "$victim" "$port_file.tmp"
# Clients counted: a check after a client hung once asked in, one after a client that said it
# connects and never did, a check during a flood of strangers
# at the lobby, five raw clients admitted with the token and a check after each, three that die
# while the ranks join them (not counted) and a check, the killed client, a check, the stopped
# client, rounds 1 and 2, and five with strangers at the MPI port (a check after one at the idle
# service, a client they interrupted, a check, another, the client queued behind the strangers).
start_service 340 2 --max-clients 24 --client-timeout 3
[ -s "$port_file" ] || { echo "FAIL: the service never wrote its port file"; cat "$log"; kill "$server_pid"; exit 1; }
failed=0
# A client timeout too short for the clients' heartbeats (one a second) is refused before anything
# starts: with 0 (what `--client-timeout abc` gave) every client was dropped at once.
for bad in 0.5 abc; do
  out=$(timeout -k 5 30 "$server" --port-file "$port_file.bad" --client-timeout $bad 2>&1); rc=$?
  echo "--- service with --client-timeout $bad (exit $rc)"; echo "$out"
  [ $rc = 2 ] && grep -q "client-timeout wants a number of seconds from 2 to 1000000.*not '$bad'" <<<"$out" ||
    { echo "FAIL: --client-timeout $bad was not refused"; failed=1; }
done
[ "$(cat "$victim")" = "not the service's" ] ||
  { echo "FAIL: the service wrote its port through a symlink at $port_file.tmp"; failed=1; }
rm -f "$victim"
token_file="$port_file.token"
[ -s "$token_file" ] || { echo "FAIL: no token file $token_file"; failed=1; }
[ "$(stat -c %a "$token_file" 2>/dev/null)" = 600 ] || { echo "FAIL: the token file is not private (mode 600)"; failed=1; }
# cpu_ticks PID: CPU time (1/100 s) used so far by PID and every process below it.
cpu_ticks() {
  local total=0 pid t
  for pid in $(descendants "$1") "$1"; do
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null)
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
# quiet_for SECONDS PID WHAT: PID's process tree uses under a tenth of a core over SECONDS (a
# busy-polling MPI_Comm_accept or MPI_Comm_connect uses a whole core per process).
quiet_for() {
  local before after
  before=$(cpu_ticks "$2"); sleep "$1"; after=$(cpu_ticks "$2")
  echo "--- $3: $((after - before)) CPU ticks in $1 s"
  [ $((after - before)) -lt $(($1 * 10)) ] || { echo "FAIL: $3 uses CPU while it waits"; failed=1; }
}
# served_within SECONDS WHAT: a good client, started now, is served within SECONDS.
served_within() {
  local start=$SECONDS out rc
  out=$(timeout -k 5 "$1" "$client" "file:$port_file" 2>&1); rc=$?
  echo "--- good client after $2 (exit $rc, $((SECONDS - start)) s)"; echo "$out"
  [ $rc = 0 ] && grep -q "sum of norms: 25250.0" <<<"$out" ||
    { echo "FAIL: the service did not serve the next client within $1 s after $2"; failed=1; }
}
# An idle service sleeps (its ranks wait for the lobby to ask a client in).
sleep 1
quiet_for 4 "$server_pid" "the idle service (2 ranks, mpiexec, proxy)"
lobby=$(sed -n 's/^lobby //p' "$port_file")
[ -n "$lobby" ] || { echo "FAIL: the port file names no lobby"; failed=1; }
# The MPI port is told only to clients with the token (a stranger who connected to it would take
# the accept meant for the client asked in): the port file holds the lobby's line alone.
[ "$(wc -l < "$port_file")" = 1 ] ||
  { echo "FAIL: the port file holds more than the lobby:"; cat "$port_file"; failed=1; }
# Strangers at the lobby (garbage, or a connection that says nothing) change nothing.
lobby_host=${lobby%:*} lobby_port=${lobby##*:}
if exec 7<>"/dev/tcp/$lobby_host/$lobby_port"; then
  printf 'GET / HTTP/1.0\r\n\r\n' >&7
  answer=$(timeout 5 head -n 1 <&7); exec 7<&-
  echo "--- garbage at the lobby: answered '$answer'"
  [ "$answer" = refused ] || { echo "FAIL: the lobby did not refuse garbage"; failed=1; }
else
  echo "FAIL: cannot reach the lobby at $lobby"; failed=1
fi
exec 8<>"/dev/tcp/$lobby_host/$lobby_port"  # silent; closed at the end
# A client asked in that leaves before its MPI_Comm_connect (killed at that moment, or hostile)
# does not wedge the service, nor keep it busy: rank 0 accepts only once the client asked in says
# "connecting", so it closes the turn's port and sleeps again (it sat busy in an accept nobody
# would meet, a core, until the next client came).
if exec 9<>"/dev/tcp/$lobby_host/$lobby_port"; then
  printf 'spawnpool-lobby 3 %s\n' "$(head -n 1 "$token_file")" >&9
  answer=""
  while IFS= read -r -t 5 line <&9; do [ "${line%% *}" = enter ] && { answer=enter; break; }; done
  exec 9<&-
  echo "--- a client asked in that leaves without connecting: told '$answer'"
  [ "$answer" = enter ] || { echo "FAIL: the lobby did not ask the client in"; failed=1; }
  sleep 0.5
  quiet_for 3 "$server_pid" "the service after a client asked in left before connecting"
else
  echo "FAIL: cannot reach the lobby at $lobby"; failed=1
fi
# A client asked in that then hangs (stopped right after "enter": its lobby socket stays open, it
# never connects) held every later client back for as long as it lived; the lobby now gives up on
# it after 15 s and asks in the next, told the same port; rank 0 sleeps meanwhile.
if exec 6<>"/dev/tcp/$lobby_host/$lobby_port"; then
  printf 'spawnpool-lobby 3 %s\n' "$(head -n 1 "$token_file")" >&6
  answer=""
  while IFS= read -r -t 5 line <&6; do [ "${line%% *}" = enter ] && { answer=enter; break; }; done
  echo "--- a client asked in that hangs without connecting: told '$answer'"
  [ "$answer" = enter ] || { echo "FAIL: the lobby did not ask the hanging client in"; failed=1; }
  quiet_for 3 "$server_pid" "the service while a client asked in hangs before connecting"
  served_within 40 "a client asked in hung without connecting"
  late=""
  IFS= read -r -t 1 late <&6
  [ "$late" = late ] || { echo "FAIL: the lobby did not tell the hung client it was late ('$late')"; failed=1; }
  exec 6<&-
else
  echo "FAIL: cannot reach the lobby at $lobby"; failed=1
fi
# A client asked in that says "connecting" and never connects (a firewall between it and the MPI
# port, or it lies): no connection reached the port, so rank 0's accept is not stuck; after 15 s
# the lobby tells it "unreachable" and asks in the next, which that accept then meets. (An accept
# that a connection reached and left stuck ends the service instead: below.)
if exec 6<>"/dev/tcp/$lobby_host/$lobby_port"; then
  printf 'spawnpool-lobby 3 %s\n' "$(head -n 1 "$token_file")" >&6
  while IFS= read -r -t 5 line <&6; do [ "${line%% *}" = enter ] && break; done
  echo connecting >&6
  answer=""
  IFS= read -r -t 25 answer <&6
  echo "--- a client asked in that said it connects and never did: told '$answer'"
  [ "$answer" = unreachable ] || { echo "FAIL: the lobby did not give up on a client that never connected"; failed=1; }
  exec 6<&-
  served_within 30 "a client asked in said it connects and never did"
else
  echo "FAIL: cannot reach the lobby at $lobby"; failed=1
fi
# A second service given the same port file refuses to start (it would take the first one's
# clients' port file and token away); the first one's files stay as they were.
before=$(cat "$port_file" "$token_file")
out=$(timeout -k 5 30 "$mpiexec" "${server_args[@]}" -n 1 "$server" --port-file "$port_file" 2>&1); rc=$?
echo "--- a second service on the same port file (exit $rc)"; echo "$out"
[ $rc != 0 ] && grep -q "belongs to a service that is running" <<<"$out" ||
  { echo "FAIL: a second service started on a port file in use"; failed=1; }
[ "$(cat "$port_file" "$token_file")" = "$before" ] ||
  { echo "FAIL: the second service changed the first one's port or token file"; failed=1; }
# A flood of connections that never show the token (130, more than the lobby holds) does not turn
# away a client that has it: the oldest strangers make room.
/usr/bin/python3 -c '
import socket, sys, time
held = []
for _ in range(130):
    held.append(socket.create_connection((sys.argv[1], int(sys.argv[2]))))
time.sleep(12)
' "$lobby_host" "$lobby_port" &
flood_pid=$!
sleep 1
served_within 20 "130 silent connections at the lobby"
kill "$flood_pid" 2>/dev/null; wait "$flood_pid" 2>/dev/null
stale_port_file=$port_file.stale; cp "$port_file" "$stale_port_file"
# A client with the wrong token is refused at connect, with a clear error, and does not count.
out=$(SPAWNPOOL_SERVICE_TOKEN=0123456789abcdef timeout -k 5 60 "$client" "file:$port_file" 2>&1); rc=$?
echo "--- client with a wrong token (exit $rc)"; echo "$out"
[ $rc = 1 ] && grep -q "did not admit this client: the service refused the token" <<<"$out" || failed=1
# A raw MPI client let in by the lobby that then sends garbage instead of the token is dropped
# within a few seconds, before anything it sends is read as work; the service goes on.
if [ -n "${raw_client:-}" ]; then
  out=$(timeout -k 5 60 "$mpiexec" "${server_args[@]}" -n 1 "$raw_client" "$port_file" "$token_file" 2>&1); rc=$?
  echo "--- raw MPI client without the token at admission (exit $rc)"; echo "$out"
  # It leaves without MPI_Finalize: Open MPI's mpiexec then reports an abnormal end (status 1).
  grep -q "^refused: 0" <<<"$out" || failed=1
fi
# slow_client: starts a client whose map takes 20 s; returns once the map has started.
slow_client() {
  slow_out=$(mktemp /tmp/spawnpool_service_XXXXXX.slow)
  timeout -k 5 60 "$client" "file:$port_file" --slow-map > "$slow_out" 2>&1 &
  slow_pid=$!
  for _ in $(seq 1 150); do grep -q "slow map started" "$slow_out" && break; sleep 0.2; done
  grep -q "slow map started" "$slow_out" || { echo "FAIL: the slow client never started"; cat "$slow_out"; failed=1; }
  # The process that runs the client's main (under MPICH a child of the mpiexec it relaunched
  # itself under), not timeout's.
  slow_main=$(sed -n 's/^slow map started in pid \([0-9]*\)$/\1/p' "$slow_out")
  sleep 1
}
# raw_client_then_next MODE SECONDS WHAT: starts the raw client in MODE, waits until the service
# admitted it, checks that a good client is served within SECONDS meanwhile, then ends the raw one.
raw_client_then_next() {
  timeout -k 5 90 "$mpiexec" "${server_args[@]}" -n 1 "$raw_client" "$port_file" "$token_file" \
    "$1" > "$log.raw" 2>&1 &
  raw_pid=$!
  for _ in $(seq 1 100); do grep -q "^admitted:" "$log.raw" && break; sleep 0.2; done
  echo "--- raw MPI client $1: $3"; cat "$log.raw"
  grep -q "^admitted: 1" "$log.raw" || { echo "FAIL: the raw client ($1) was not admitted"; failed=1; }
  served_within "$2" "$3"
  # raw_pid is timeout's: end what it started (mpiexec, its proxy, the raw client) too, and only
  # those (another test's processes of the same name are not ours).
  kill -KILL $(descendants "$raw_pid") "$raw_pid" 2>/dev/null
  wait "$raw_pid" 2>/dev/null; rm -f "$log.raw"
}
if [ -n "${raw_client:-}" ]; then
  # Admitted with the token, then garbage on a tag no session uses, a header of an unknown kind,
  # and silence: the service drops it and the next client is served (its garbage is not).
  raw_client_then_next --admitted 30 "a client sent garbage after its admission"
  # Admitted, then garbage to one rank only while it keeps every rank hearing its heartbeats:
  # every rank drops it (the one that read the garbage tells the others), and the next client is
  # served at once, not after this client has gone (60 s).
  raw_client_then_next --garbage-to-one 20 "a client sent garbage to one rank and heartbeats to all"
  # Admitted, then a 1 GiB message announced and never sent, and silence: dropped after the client
  # timeout (3 s here), not after the 120 s a rank waits for the parts of a large message.
  raw_client_then_next --announce-then-hang 30 "a client announced a large message and went silent"
  # Admitted, then a 16 GiB message announced (over --max-message-size, 4 GiB by default), or a
  # 1 GiB one in parts of 64 bytes (16 M receives to post), with heartbeats: dropped at once,
  # before anything is allocated or posted for them.
  raw_client_then_next --oversized 30 "a client announced a 16 GiB message"
  raw_client_then_next --many-parts 30 "a client announced a message in 16 M parts"
  # Admitted, then dead before the ranks joined it: at once, in the middle of the join (after
  # MPI_Intercomm_merge, before MPI_Intercomm_create: rank 0's part fails, and the other ranks are
  # left inside MPI_Intercomm_create, which wedged the service for good; rank 0 now makes their
  # call fail), and at once again. The next client is served.
  # Not under Open MPI (a known gap, README): its MPI_Intercomm_merge with a dead client waits
  # for ever on rank 0.
  if [ "$flavour" != openmpi ]; then
    for mode in --die-when-admitted --die-in-join --die-when-admitted; do
      out=$(timeout -k 5 60 "$mpiexec" "${server_args[@]}" -n 1 "$raw_client" "$port_file" \
        "$token_file" $mode 2>&1)
      echo "--- raw MPI client $mode"; echo "$out"
      grep -q "^admitted: 1" <<<"$out" || { echo "FAIL: the raw client ($mode) was not admitted"; failed=1; }
    done
  fi
  served_within 30 "clients died while the service's ranks joined them"
else
  for _ in $(seq 1 11); do served_within 30 "nothing"; done  # keeps the count of clients
fi
# rebuilt_mpi_port: the MPI port string of the service's rank 0 as a stranger on this host can
# rebuild it under MPICH, without the lobby: tag#0 (ports are tagged lowest free first), the host,
# and the TCP port rank 0 alone listens on besides its lobby (ss -ltnp).
rebuilt_mpi_port() {
  local pid listeners tcp_port
  for pid in $(descendants "$server_pid"); do
    # Its own listeners only: hydra's mpiexec listens on a socket every rank inherits (fd 5), and
    # an MPI connection to that one ends the service's mpiexec ("cannot find proxy with ID").
    listeners=$(ss -ltnpH 2>/dev/null | grep "pid=$pid," | grep -v "pid=.*pid=")
    grep -q ":$lobby_port " <<<"$listeners" || continue
    tcp_port=$(grep -v ":$lobby_port " <<<"$listeners" | awk '{print $4}' | sed 's/.*://' | head -n 1)
    [ -n "$tcp_port" ] && echo "tag#0\$description#$(hostname)\$port#$tcp_port\$ifname#$lobby_host\$"
  done
}
# start_strangers COUNT: COUNT raw clients connect to the rebuilt MPI port (stranger_pids, their
# logs $log.stranger.N) and say whether MPI let them wait ("connecting") or refused them.
start_strangers() {
  local n
  stranger_pids=()
  for n in $(seq 1 "$1"); do
    timeout -k 5 90 "$mpiexec" -n 1 "$raw_client" "$port_file" "$token_file" --stranger "$mpi_port" \
      > "$log.stranger.$n" 2>&1 9<&- &
    stranger_pids+=($!)
  done
  for n in $(seq 1 "$1"); do
    for _ in $(seq 1 100); do grep -q "^connecting" "$log.stranger.$n" && break; sleep 0.2; done
  done
  sleep 1  # their connection requests reach rank 0
}
end_strangers() {
  local pid
  echo "--- ${#stranger_pids[@]} strangers at the MPI port, refused by MPI by now:" \
    "$(cat "$log".stranger.* | grep -c '^refused')"
  for pid in "${stranger_pids[@]}"; do kill -KILL $(descendants "$pid") "$pid" 2>/dev/null; done
  for pid in "${stranger_pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -f "$log".stranger.*
}
if [ -n "${raw_client:-}" ] && [ "$flavour" != openmpi ]; then
  mpi_port=$(rebuilt_mpi_port)
  echo "--- the MPI port rebuilt from rank 0's listeners: $mpi_port"
  [ -n "$mpi_port" ] || { echo "FAIL: cannot rebuild the MPI port (ss -ltnp)"; failed=1; }
  # A stranger that connects to the rebuilt MPI port while the service idles and dies: the port
  # was open while rank 0 waited for a client, MPICH queued the connection, and the next
  # MPI_Comm_accept waited for ever (every later client timed out). The port is now opened only
  # once a client waits in the lobby, and the idle rank 0 has MPI refuse such connections.
  sleep 1
  start_strangers 1
  end_strangers
  served_within 30 "a stranger connected to the MPI port of the idle service and died"
  # A stranger that connects to the rebuilt MPI port while a client is served and dies before its
  # turn: MPICH queued its connection, the next MPI_Comm_accept failed ("Cannot issue acceptance
  # packet") and the service ended. The port is now open only while a client is asked in.
  slow_client
  start_strangers 1
  end_strangers
  kill -KILL "$slow_main"; wait "$slow_pid" 2>/dev/null; rm -f "$slow_out"
  served_within 30 "a stranger connected to the MPI port during another client's turn and died"
  # Strangers that connect (and stay) while a client is served, before the next client's turn:
  # each took the accept meant for the client asked in for the 5 s admission limit, until that
  # client timed out (SPAWNPOOL_SPAWN_TIMEOUT, 15 s here, and the admission limit).
  slow_client
  start_strangers 8
  next_out=$(mktemp /tmp/spawnpool_service_XXXXXX.next)
  SPAWNPOOL_SPAWN_TIMEOUT=15 timeout -k 5 60 "$client" "file:$port_file" > "$next_out" 2>&1 &
  next_pid=$!
  sleep 1
  kill -KILL "$slow_main"; wait "$slow_pid" 2>/dev/null; rm -f "$slow_out"
  wait "$next_pid"; rc=$?
  echo "--- the client queued behind 8 strangers at the MPI port (exit $rc)"; cat "$next_out"
  [ $rc = 0 ] && grep -q "sum of norms: 25250.0" "$next_out" ||
    { echo "FAIL: strangers at the MPI port made the next client time out"; failed=1; }
  rm -f "$next_out"
  end_strangers
else
  for _ in $(seq 1 5); do served_within 30 "nothing"; done  # keeps the count of clients
fi
# A client killed with SIGKILL in the middle of a map: the service's ranks see its process gone,
# finish the task they run, drop it, and serve the next client, which has waited in the lobby
# meanwhile without using CPU.
slow_client
next_out=$(mktemp /tmp/spawnpool_service_XXXXXX.next)
timeout -k 5 60 "$client" "file:$port_file" > "$next_out" 2>&1 &
next_pid=$!
sleep 1
quiet_for 3 "$next_pid" "a client queued behind another"
kill -KILL "$slow_main"; wait "$slow_pid" 2>/dev/null; rm -f "$slow_out"
start=$SECONDS; wait "$next_pid"; rc=$?
echo "--- the queued client after its predecessor was killed mid-map (exit $rc, $((SECONDS - start)) s)"
cat "$next_out"
[ $rc = 0 ] && grep -q "sum of norms: 25250.0" "$next_out" ||
  { echo "FAIL: the queued client was not served after a client was killed mid-map"; failed=1; }
rm -f "$next_out"
# A client stopped (SIGSTOP) mid-map: silent, it is dropped after the client timeout (3 s here).
slow_client
kill -STOP "$slow_main"
stopped_main=$slow_main stopped_pid=$slow_pid
for round in 1 2; do
  # The first client sets an environment variable and a working directory; the second must see
  # neither (each client gets a clean session).
  mark=(); [ $round = 1 ] && mark=(--mark)
  out=$(timeout -k 5 60 "$client" "file:$port_file" "${mark[@]}" 2>&1); rc=$?
  echo "--- client $round (exit $rc)"; echo "$out"
  [ $rc = 0 ] || failed=1
  grep -q "connected to 2 service workers" <<<"$out" || failed=1
  grep -q "sum of norms: 25250.0" <<<"$out" || failed=1
  grep -q "refused as expected: .*no task named \"client_only\"" <<<"$out" || failed=1
  grep -q "command refused as expected: .*does not offer the built-in task" <<<"$out" || failed=1
  if [ $round = 1 ]; then
    kill -KILL "$stopped_main"; kill -CONT "$stopped_main"; wait "$stopped_pid" 2>/dev/null; rm -f "$slow_out"
    grep -q "^session: 1|/tmp$" <<<"$out" || { echo "FAIL: the first client's settings did not apply"; failed=1; }
  else
    grep -q "^session: |" <<<"$out" && ! grep -q "^session: .*|/tmp$" <<<"$out" ||
      { echo "FAIL: the second client inherited the first one's environment or directory"; failed=1; }
  fi
done
wait "$server_pid"; server_rc=$?
echo "--- service (exit $server_rc)"; cat "$log"
[ $server_rc = 0 ] || failed=1
[ -e "$port_file" ] && { echo "FAIL: port file left behind"; failed=1; }
[ -e "$token_file" ] && { echo "FAIL: token file left behind"; failed=1; }
exec 8<&-
# A client given the port file of a service that has ended fails at once, saying so.
start=$SECONDS
out=$(timeout -k 5 30 "$client" "file:$stale_port_file" 2>&1); rc=$?
echo "--- client with a stale port file (exit $rc, $((SECONDS - start)) s)"; echo "$out"
[ $rc = 1 ] && grep -q "nothing listens at its lobby" <<<"$out" && [ $((SECONDS - start)) -le 10 ] ||
  { echo "FAIL: a stale port file did not fail fast with a clear message"; failed=1; }
rm -f "$stale_port_file"
# A client for a service that is not running gets a clear error, not a hang.
out=$(timeout -k 5 30 "$client" "file:$port_file" 2>&1); rc=$?
echo "--- client without a service (exit $rc)"; echo "$out"
[ $rc = 1 ] && grep -q "no pool service" <<<"$out" || failed=1
# Under Open MPI no call of the join fails with a client that died in it (a known gap, README): the
# service waited in it for ever, and every client after it with it. Now the join's deadline ends
# the service 13 s later (client timeout 3 s + 10 s), saying so, and a client queued meanwhile
# fails then, saying that the service ended.
if [ -n "${raw_client:-}" ] && [ "$flavour" = openmpi ]; then
  port_file=$(mktemp -u /tmp/spawnpool_service_XXXXXX.port)
  start_service 120 2 --client-timeout 3
  start=$SECONDS
  out=$(timeout -k 5 60 "$mpiexec" "${server_args[@]}" -n 1 "$raw_client" "$port_file" \
    "$port_file.token" --die-in-join 2>&1)
  echo "--- raw MPI client --die-in-join (Open MPI)"; echo "$out"
  grep -q "^admitted: 1" <<<"$out" || { echo "FAIL: the raw client (--die-in-join) was not admitted"; failed=1; }
  out=$(timeout -k 5 60 "$client" "file:$port_file" 2>&1); rc=$?
  echo "--- client queued behind it (exit $rc, $((SECONDS - start)) s)"; echo "$out"
  [ $rc = 1 ] && grep -q "ended while this client waited for its turn" <<<"$out" ||
    { echo "FAIL: the queued client was not told that the service ended"; failed=1; }
  wait "$server_pid"; server_rc=$?
  echo "--- service (exit $server_rc, $((SECONDS - start)) s after the client died)"; cat "$log"
  [ $server_rc != 0 ] && grep -q "the service ends (MPI_Abort)" "$log" && [ $((SECONDS - start)) -le 40 ] ||
    { echo "FAIL: the service did not end, saying why, after a client died in the join"; failed=1; }
  sleep 1
  pgrep -f -- "$server --port-file $port_file" > /dev/null &&
    { echo "FAIL: a rank of the service outlived its MPI_Abort"; pgrep -af -- "$server --port-file $port_file"; failed=1; }
  rm -f "$port_file" "$port_file.token"
fi
# Strangers that rebuilt the MPI port and connected while a client was asked in (bash holds the
# turn on fd 9, the port is open): rank 0's next accept takes their connection first (MPICH queues
# connections per port, in order).
# - One that stays connected but silent is refused after the 5 s admission limit, and the client
#   asked in after it is served; the refused connection is kept, not disconnected: a thread left
#   in MPICH's MPI_Comm_disconnect with it polled a core for as long as the stranger lived.
# - One stopped when rank 0 accepts it, then killed, leaves that accept waiting for ever (MPICH
#   ch3 never fails it): every later client timed out, rank 0 busy. Now the lobby sees the client
#   asked in still waiting 15 s after it said "connecting", and the service ends, saying why; the
#   client waiting in its connect is told at once that the service ended.
# ask_in_on_fd9: the lobby asks in a client that bash plays on fd 9 (it has said nothing more).
ask_in_on_fd9() {
  exec 9<>"/dev/tcp/$lobby_host/$lobby_port"
  printf 'spawnpool-lobby 3 %s\n' "$(head -n 1 "$port_file.token")" >&9
  while IFS= read -r -t 5 line <&9; do [ "${line%% *}" = enter ] && break; done
}
if [ -n "${raw_client:-}" ] && [ "$flavour" != openmpi ]; then
  port_file=$(mktemp -u /tmp/spawnpool_service_XXXXXX.port)
  start_service 120 2 --client-timeout 3
  lobby=$(sed -n 's/^lobby //p' "$port_file")
  lobby_host=${lobby%:*} lobby_port=${lobby##*:}
  mpi_port=$(rebuilt_mpi_port)
  ask_in_on_fd9
  start_strangers 1
  next_out=$(mktemp /tmp/spawnpool_service_XXXXXX.next)
  timeout -k 5 60 "$client" "file:$port_file" > "$next_out" 2>&1 9<&- &
  next_pid=$!
  sleep 1
  exec 9<&-  # the client on fd 9 gives up; the one queued is asked in to the same port
  wait "$next_pid"; rc=$?
  echo "--- the client asked in after a silent stranger at the MPI port (exit $rc)"; cat "$next_out"
  [ $rc = 0 ] && grep -q "sum of norms: 25250.0" "$next_out" ||
    { echo "FAIL: a silent stranger at the MPI port kept the next client out"; failed=1; }
  rm -f "$next_out"
  quiet_for 3 "$server_pid" "the service after it refused a stranger that stays connected"
  end_strangers
  ask_in_on_fd9
  start_strangers 1
  stranger=$(pgrep -f -- "--stranger" | while read -r pid; do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = raw_service_cli ] && echo "$pid"; done | head -n 1)
  kill -STOP $stranger
  echo connecting >&9  # rank 0 accepts now, and takes the stopped stranger's connection
  sleep 2
  kill -KILL $stranger
  sleep 1
  exec 9<&-  # the client on fd 9 gives up; the next one is asked in to the same accept
  start=$SECONDS
  out=$(timeout -k 5 60 "$client" "file:$port_file" 2>&1); rc=$?
  echo "--- client after a stranger stopped and died in the accept (exit $rc, $((SECONDS - start)) s)"
  echo "$out"
  [ $rc = 1 ] && grep -q "ended while this client connected to it" <<<"$out" &&
    [ $((SECONDS - start)) -le 30 ] ||
    { echo "FAIL: the client of a service stuck in its accept was not told it ended"; failed=1; }
  wait "$server_pid"; server_rc=$?
  echo "--- service (exit $server_rc)"; cat "$log"
  [ $server_rc != 0 ] && grep -q "MPI_Comm_accept has not met the client asked in.*the service ends (MPI_Abort)" "$log" ||
    { echo "FAIL: the service stuck in its accept did not end, saying why"; failed=1; }
  end_strangers
  rm -f "$port_file" "$port_file.token"
fi
# Clients that die inside their own MPI_Intercomm_create, 0.3 ms in: depending on how far the
# call got, rank 0's part fails and the other ranks' fail too, or wait inside the call for a
# broadcast from rank 0 (it wedged the service for good), or the join completes and the client is
# dropped after the client timeout. A service of 3 ranks that serves until killed (so that the
# count of clients does not depend on which), then a good client, which must be served.
# Rarely (1 round in 30 here) a client dies so early in its call that MPICH never fails rank 0's
# receive from it: that wedged the service for good; now the join's deadline ends the service
# 13 s later, saying so (join_deadline.hpp). So the round is run a second time on a fresh service
# when the first fails, after the stacks of every rank are printed (gdb, when installed), and the
# test fails only when both fail.
die_in_create_round() {
  local round_failed=0 mode out
  port_file=$(mktemp -u /tmp/spawnpool_service_XXXXXX.port)
  start_service 120 3 --client-timeout 3
  for mode in --die-in-create --die-in-join --die-in-create --die-in-create; do
    out=$(timeout -k 5 60 "$mpiexec" -n 1 "$raw_client" "$port_file" "$port_file.token" $mode 2>&1)
    echo "--- raw MPI client $mode (3-rank service)"; echo "$out"
    grep -q "^admitted: 1" <<<"$out" || { echo "FAIL: the raw client ($mode) was not admitted"; round_failed=1; }
  done
  local failed_before=$failed
  served_within 30 "clients died inside their MPI_Intercomm_create"
  # A client alive but stopped in the middle of the join: after MPI_Intercomm_merge (rank 0 waits
  # in MPI_Intercomm_create with it, the other ranks for rank 0), or before it (rank 0 waits in
  # its MPI_Intercomm_merge). It held the service for as long as it stayed stopped; now rank 0
  # cuts its connection after the client timeout (3 s here), which fails the join as a death
  # does, and the next client is served.
  local raw_pid cuts=0
  for mode in --stop-in-join --stop-in-merge; do
    timeout -k 5 90 "$mpiexec" -n 1 "$raw_client" "$port_file" "$port_file.token" $mode \
      > "$log.raw" 2>&1 &
    raw_pid=$!
    for _ in $(seq 1 100); do grep -q "^stopping" "$log.raw" && break; sleep 0.2; done
    echo "--- raw MPI client $mode (3-rank service)"; cat "$log.raw"
    grep -q "^stopping" "$log.raw" || { echo "FAIL: the raw client ($mode) did not get to stop"; round_failed=1; }
    served_within 30 "a client stopped itself in the middle of the join ($mode)"
    cuts=$((cuts + 1))
    [ "$(grep -c "did not finish joining the ranks within the client timeout" "$log")" = $cuts ] ||
      { echo "FAIL: the service did not say that it cut the stopped client's connection ($mode)"; failed=1; }
    kill -KILL $(descendants "$raw_pid") "$raw_pid" 2>/dev/null
    wait "$raw_pid" 2>/dev/null; rm -f "$log.raw"
  done
  [ "$failed" = "$failed_before" ] || round_failed=1
  failed=$failed_before
  if [ $round_failed = 1 ] && command -v gdb > /dev/null; then
    for pid in $(pgrep -f -- "$server --port-file $port_file" | grep -v "^$server_pid\$"); do
      echo "--- stacks of service process $pid"
      timeout 60 gdb -batch -p "$pid" -ex "thread apply all bt" 2>/dev/null | grep -E "^#|^Thread" | head -80
    done
  fi
  kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null
  echo "--- 3-rank service"; cat "$log"
  rm -f "$port_file" "$port_file.token"
  return $round_failed
}
if [ -n "${raw_client:-}" ] && [ "$flavour" != openmpi ]; then
  if ! die_in_create_round; then
    echo "--- the round above failed (issue 13's intermittent wedge?): once more on a fresh service"
    die_in_create_round || failed=1
  fi
fi
rm -f "$log"
[ $failed = 0 ] && echo "service test passed" || echo "FAIL"
exit $failed
