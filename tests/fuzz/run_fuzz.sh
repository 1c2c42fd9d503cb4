#!/usr/bin/env bash
# ctest `fuzz_decoder`: builds tests/fuzz with clang (libFuzzer + ASan + UBSan) into BUILD_DIR and
# runs the fuzzer for SECONDS on a scratch copy of the seed corpus. Exits 77 (skipped) when clang
# with libFuzzer is not installed:  apt-get install -y clang libclang-rt-14-dev
#   run_fuzz.sh SOURCE_DIR BUILD_DIR SECONDS
set -euo pipefail
SRC=$1 BUILD=$2 SECONDS_TO_RUN=${3:-20}
CXX=${SPAWNPOOL_FUZZ_CXX:-$(command -v clang++ || true)}
if [ -z "$CXX" ]; then
  echo "fuzz_decoder skipped: clang++ not found (apt-get install -y clang libclang-rt-14-dev)"
  exit 77
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
  > "$probe/p.cpp"
if ! "$CXX" -fsanitize=fuzzer,address "$probe/p.cpp" -o "$probe/p" 2>/dev/null; then
  echo "fuzz_decoder skipped: $CXX cannot link -fsanitize=fuzzer (apt-get install -y libclang-rt-14-dev)"
  exit 77
fi
cmake -S "$SRC" -B "$BUILD" -DCMAKE_CXX_COMPILER="$CXX" >/dev/null
cmake --build "$BUILD" --target fuzz_decoder -j2 >/dev/null
work="$BUILD/run"
rm -rf "$work" && mkdir -p "$work/corpus"
cd "$work"
# Everything must decode or be rejected with an exception; leaks are checked too.
set +e
"$BUILD/fuzz_decoder" -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/" corpus "$SRC/corpus" 2>&1 | tail -n 30
status=${PIPESTATUS[0]}
ls "$work"/crash-* "$work"/leak-* "$work"/oom-* "$work"/timeout-* 2>/dev/null && status=1
exit "$status"
