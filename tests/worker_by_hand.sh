#!/usr/bin/env bash
# A dedicated worker program started by hand (not by an Executor) says what it is and exits with 2.
#   worker_by_hand.sh WORKER_PROGRAM
set -u
out=$("$1" 2>&1 </dev/null)
code=$?
printf '%s\n' "$out"
if [ "$code" -ne 2 ]; then
  echo "FAIL: exit status $code, expected 2"; exit 1
fi
for phrase in "spawnpool worker program" "Options::worker_program" "$1"; do
  case "$out" in
    *"$phrase"*) ;;
    *) echo "FAIL: the message does not mention '$phrase'"; exit 1 ;;
  esac
done
echo "PASS"
