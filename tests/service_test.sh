#!/usr/bin/env bash
# The pool service: a server started with mpiexec serves two clients one after the other (each gets
# correct results and an UnregisteredTask for a task only the client has), then exits cleanly.
#   service_test.sh MPIEXEC SERVER CLIENT
set -u
mpiexec=$1 server=$2 client=$3
port_file=$(mktemp -u /tmp/spawnpool_service_XXXXXX.port)
log=$(mktemp /tmp/spawnpool_service_XXXXXX.log)
timeout -k 5 120 "$mpiexec" -n 2 "$server" --port-file "$port_file" --max-clients 2 > "$log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do [ -s "$port_file" ] && break; sleep 0.2; done
[ -s "$port_file" ] || { echo "FAIL: the service never wrote its port file"; cat "$log"; kill "$server_pid"; exit 1; }
failed=0
for round in 1 2; do
  out=$(timeout -k 5 60 "$client" "file:$port_file" 2>&1); rc=$?
  echo "--- client $round (exit $rc)"; echo "$out"
  [ $rc = 0 ] || failed=1
  grep -q "connected to 2 service workers" <<<"$out" || failed=1
  grep -q "sum of norms: 25250.0" <<<"$out" || failed=1
  grep -q "refused as expected: .*no task named \"client_only\"" <<<"$out" || failed=1
done
wait "$server_pid"; server_rc=$?
echo "--- service (exit $server_rc)"; cat "$log"
[ $server_rc = 0 ] || failed=1
[ -e "$port_file" ] && { echo "FAIL: port file left behind"; failed=1; }
# A client for a service that is not running gets a clear error, not a hang.
out=$(timeout -k 5 30 "$client" "file:$port_file" 2>&1); rc=$?
echo "--- client without a service (exit $rc)"; echo "$out"
[ $rc = 1 ] && grep -q "no pool service" <<<"$out" || failed=1
rm -f "$log"
[ $failed = 0 ] && echo "service test passed" || echo "FAIL"
exit $failed
