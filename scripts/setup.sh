#!/usr/bin/env bash
# Installs everything spawnpool needs on Debian 12, and nothing twice.
#
#   scripts/setup.sh            apt packages + MPICH with spawn support (the default MPI)
#   scripts/setup.sh --openmpi  also Debian's Open MPI (the second supported MPI)
#
# 1. Debian packages: compiler, CMake, cereal, Boost 1.81 (Boost.Process), GoogleTest, clang with
#    libFuzzer (the fuzz test), valgrind (the memcheck test), ...
#    Skipped when all are installed already.
# 2. MPICH 4.0.2 built from Debian's own source package with the ch3:nemesis device, into
#    $SPAWNPOOL_MPICH_PREFIX (default /opt/spawnpool/mpich-4.0.2-ch3). Debian's binary
#    `mpich` package (ch4:ucx) cannot MPI_Comm_spawn; this build can. Skipped when
#    PREFIX/bin/mpiexec exists. About 2.5 minutes on 2 cores.
#
# CMake finds that prefix by itself afterwards (see cmake/SpawnpoolFindMPI.cmake).
# Needs root (apt-get). Takes no input.
set -euo pipefail

PREFIX="${SPAWNPOOL_MPICH_PREFIX:-/opt/spawnpool/mpich-4.0.2-ch3}"
SRC_DIR="${SPAWNPOOL_MPICH_SRC:-/var/cache/spawnpool/mpich-src}"
JOBS="${SPAWNPOOL_BUILD_JOBS:-$(nproc)}"
WANT_OPENMPI=0
for arg in "$@"; do
  case "$arg" in
    --openmpi) WANT_OPENMPI=1 ;;
    *) echo "setup.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

say() { echo "setup: $*"; }
export DEBIAN_FRONTEND=noninteractive

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "setup.sh: '$*' needs root; run as root or install sudo" >&2; exit 1
  fi
}

PACKAGES=(
  build-essential cmake pkg-config dpkg-dev perl python3 procps psmisc
  libcereal-dev
  libboost1.81-dev
  libgtest-dev libspdlog-dev
  clang libclang-rt-14-dev  # libFuzzer for the decoder fuzz test (tests/fuzz)
  valgrind                  # memcheck of a spawn-mode run (tests/valgrind)
)
[ "$WANT_OPENMPI" = 1 ] && PACKAGES+=(libopenmpi-dev openmpi-bin)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
APT_UPDATED=0
apt_update_once() { [ "$APT_UPDATED" = 1 ] || { as_root apt-get update -q; APT_UPDATED=1; }; }
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  apt_update_once
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  say "Debian packages already installed"
fi

if [ -x "$PREFIX/bin/mpiexec" ] && [ -x "$PREFIX/bin/mpicxx" ]; then
  say "MPICH with spawn support already at $PREFIX"
  exit 0
fi

say "building MPICH 4.0.2 (ch3:nemesis, can spawn) into $PREFIX; takes a few minutes"
# deb-src entries mirroring the machine's own deb entries, unless some exist already.
if ! grep -qsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources; then
  tmp=$(mktemp)
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    grep -q 'debian' "$f" || continue
    sed -n '/^Types:.*\bdeb\b/,/^$/p' "$f" | sed 's/^Types:.*/Types: deb-src/'
    echo
  done > "$tmp"
  [ -s "$tmp" ] && as_root cp "$tmp" /etc/apt/sources.list.d/spawnpool-debian-src.sources
  rm -f "$tmp"
  if [ -f /etc/apt/sources.list ]; then
    sed -n 's/^deb \(.*debian.*\)/deb-src \1/p' /etc/apt/sources.list \
      | as_root tee /etc/apt/sources.list.d/spawnpool-debian-src.list >/dev/null
  fi
  APT_UPDATED=0
fi
apt_update_once

as_root mkdir -p "$SRC_DIR"
cd "$SRC_DIR"
if ! ls -d mpich-*/ >/dev/null 2>&1; then
  as_root apt-get source -q mpich
fi
SRC=$(ls -d "$SRC_DIR"/mpich-*/ | head -n 1)
cd "$SRC"
start=$(date +%s)
BUILD_LOG="$SRC_DIR/build.log"
# Build in a scratch copy-free way: configure in the source tree, install into PREFIX.
if ! { ./configure --prefix="$PREFIX" --with-device=ch3:nemesis \
         --disable-fortran --disable-doc --enable-fast=O2 --disable-static \
       && make -j"$JOBS" && as_root make install; } >"$BUILD_LOG" 2>&1; then
  tail -n 40 "$BUILD_LOG" >&2
  echo "setup.sh: MPICH build failed; full log in $BUILD_LOG" >&2
  exit 1
fi
say "MPICH built in $(( $(date +%s) - start )) s: $("$PREFIX/bin/mpichversion" | head -n 1)"
