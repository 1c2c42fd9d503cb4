#!/bin/sh
# A worker launcher for tests/test_worker_start.cpp. Each copy leaves its pid (kept by exec: the
# worker's) as a file in DIR, then:
#   start_in_step.sh DIR together COUNT PROGRAM [ARGS...]
#     waits until COUNT copies have arrived, then starts PROGRAM; after 20 s alone it exits with
#     status 9 instead (the copies were not started side by side)
#   start_in_step.sh DIR one-fails PROGRAM [ARGS...]
#     the first copy to arrive exits with status 7; the others start PROGRAM at once
dir=$1 mode=$2
shift 2
if [ "$mode" = one-fails ]; then
  mkdir "$dir/failed" 2>/dev/null && exit 7
  echo $$ > "$dir/$$.pid"
  exec "$@"
fi
count=$1
shift
echo $$ > "$dir/$$.pid"
tries=0
while [ "$(ls "$dir" | grep -c '\.pid$')" -lt "$count" ]; do
  tries=$((tries + 1))
  [ "$tries" -ge 400 ] && exit 9
  sleep 0.05
done
exec "$@"
