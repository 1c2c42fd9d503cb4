#!/bin/sh
# A worker launcher for tests/test_reliability.cpp: starts "$@" at once, or after SECONDS seconds
# once the file MARK exists (so that a pool's first workers start fast and its replacements slowly).
#   slow_start.sh MARK SECONDS PROGRAM [ARGS...]
mark=$1 seconds=$2
shift 2
[ -e "$mark" ] && sleep "$seconds"
exec "$@"
