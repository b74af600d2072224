#!/usr/bin/env bash
# dump_stop_time.sh: how long `smolder dump` keeps a 4-thread process stopped (goal < 50 ms).
# Starts the threads_known fixture (two threads spinning, two blocked), dumps it N times (default
# 20) and prints min / median / max of the stop time smolder reports on stderr.
# usage: scripts/bench/dump_stop_time.sh [BUILD_DIR] [N]
set -euo pipefail
BUILD=${1:-build}
N=${2:-20}
SMOLDER=$BUILD/smolder
FIXTURE=$BUILD/tests/fixtures/threads_known
out=$(mktemp)
"$FIXTURE" 120 >"$out" &
fpid=$!
trap 'kill -9 $fpid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 1 100); do grep -q ready "$out" && break; sleep 0.05; done
times=()
for _ in $(seq 1 "$N"); do
	t=$("$SMOLDER" dump -p "$fpid" 2>&1 >/dev/null | sed -nE 's/.*stopped for ([0-9.]+) ms.*/\1/p')
	[ -n "$t" ] || { echo "dump failed" >&2; exit 1; }
	times+=("$t")
done
printf '%s\n' "${times[@]}" | sort -g | awk -v n="$N" '
	{ v[NR] = $1 }
	END { printf "dump stop time, 4 threads, %d runs: min %.2f ms, median %.2f ms, max %.2f ms (goal < 50 ms)\n",
		n, v[1], v[int((n + 1) / 2)], v[n] }'
