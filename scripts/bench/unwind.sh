#!/usr/bin/env bash
# unwind.sh: microseconds per stack unwind on real fixture snapshots (warm per-ip cache, cold new
# unwinder, and unwinder creation). Needs a configured build (cmake -S . -B build) and root or
# ptrace rights over its own children. Usage: scripts/bench/unwind.sh [BUILD_DIR] [ITERATIONS]
set -euo pipefail
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${1:-$SOURCE_DIR/build}
ITERATIONS=${2:-20000}
cmake --build "$BUILD_DIR" -j2 --target smolder_core unwind_target >/dev/null
OUT="$BUILD_DIR/unwind_bench"
# shellcheck disable=SC2046
cc -O2 -g -D_GNU_SOURCE -DSMOLDER_FIXTURE_DIR="\"$BUILD_DIR/tests/fixtures\"" \
	-I"$SOURCE_DIR/include" "$SOURCE_DIR/scripts/bench/unwind_bench.c" \
	"$BUILD_DIR/libsmolder_core.a" $(ls "$BUILD_DIR"/flamegraph/libsmolder_flamegraph.a 2>/dev/null) \
	$(pkg-config --libs libunwind-generic libdw libelf libbpf zlib) -lpthread -lm -o "$OUT"
"$OUT" "$ITERATIONS"
