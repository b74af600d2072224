#!/usr/bin/env bash
# ptrace_overhead.sh: what `record --backend ptrace` costs its target. Runs ptrace_bench_work (two
# CPU-bound threads counting fixed work units) for SECONDS alone, then launched under the ptrace
# backend and under the eBPF backend at -F HZ, and prints the work rate of each and the hold time
# per tick the ptrace backend reports. On a 2-CPU machine shared with other jobs, run it twice.
# usage: scripts/bench/ptrace_overhead.sh [BUILD_DIR] [HZ] [SECONDS]
set -euo pipefail
BUILD=${1:-build}
HZ=${2:-99}
SECS=${3:-5}
SMOLDER=$BUILD/smolder
FIX=$BUILD/tests/fixtures/ptrace_bench_work
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run_alone() { "$FIX" "$SECS" | awk '{print $2}'; }
run_under() { # BACKEND: work rate of the fixture launched under smolder
	"$SMOLDER" record --backend "$1" -F "$HZ" -o "$tmp/$1.folded" -- "$FIX" "$SECS" \
		2>"$tmp/$1.err" | awk '{print $2}'
}
alone=$(run_alone)
ptrace=$(run_under ptrace)
bpf=$(run_under bpf)
hold=$(sed -nE 's/.*held ([0-9.]+) ms per tick on average, ([0-9.]+) ms at most.*/\1 ms avg, \2 ms max/p' "$tmp/ptrace.err")
awk -v a="$alone" -v p="$ptrace" -v b="$bpf" -v hz="$HZ" -v hold="$hold" 'BEGIN {
	printf "work rate (units/s, 2 threads): alone %.0f, ptrace %.0f (%.1f%% slower), eBPF %.0f (%.1f%% slower) at %d Hz\n",
		a, p, 100 * (a - p) / a, b, 100 * (a - b) / a, hz
	printf "ptrace hold per tick: %s\n", hold
}'
