#!/usr/bin/env bash
# fuzz.sh SECONDS: builds the libFuzzer target over the folded parser and flame graph renderer
# (clang, ASan + UBSan, libxml2 well-formedness oracle) in build-fuzz/ and runs it for SECONDS
# (default 60) from the seed corpus. Exits non-zero on any crash, leak, sanitizer report or
# malformed SVG; the crashing input is kept as build-fuzz/crash-* for reproduction
# (build-fuzz/fuzz/fuzz_flamegraph build-fuzz/crash-...).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
case $secs in
'' | *[!0-9]*) echo "usage: scripts/fuzz.sh SECONDS" >&2; exit 1 ;;
esac

CC=clang cmake -S . -B build-fuzz -DSMOLDER_FUZZ=ON -DSMOLDER_TESTS=OFF >/dev/null
cmake --build build-fuzz --target fuzz_flamegraph -j2 >/dev/null

work=$(mktemp -d /tmp/smolder-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
# New inputs go to a scratch corpus; the checked-in seeds stay as they are.
echo "fuzz.sh: running fuzz_flamegraph for ${secs}s"
if build-fuzz/fuzz/fuzz_flamegraph -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
	-max_len=65536 -print_final_stats=1 -dict=fuzz/flamegraph.dict \
	-artifact_prefix=build-fuzz/ "$work" fuzz/corpus/flamegraph >"$work/log" 2>&1; then
	grep -E '^stat::number_of_executed_units|^Done' "$work/log" || true
	echo "fuzz.sh: no crash in ${secs}s"
else
	tail -n 60 "$work/log"
	echo "fuzz.sh: FAILED: see the report above; input saved as build-fuzz/crash-* or leak-*" >&2
	exit 1
fi
