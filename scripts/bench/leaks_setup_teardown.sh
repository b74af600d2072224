#!/bin/bash
# leaks_setup_teardown.sh: where the wall time of a short `smolder leaks` run goes outside its -d:
# set-up (start to the first poll of the ring buffer: BPF map creation, program loads (the
# verifier), probe attach, symbolizer) and teardown (the last output renamed into place to exit:
# uprobe removal). Uses strace timestamps on leak_linear, ROUNDS times.
# usage: scripts/bench/leaks_setup_teardown.sh [BUILD_DIR] [ROUNDS]   (root; build first)
set -uo pipefail
BUILD=${1:-build}
ROUNDS=${2:-3}
WORK=$(mktemp -d /tmp/smolder-bench-setup.XXXXXX)
"$BUILD/tests/fixtures/leak_linear" >/dev/null &
FX=$!
trap 'kill $FX 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
sleep 0.5
# printf, not print: print's %.6g cut the time of day to 0.1 s.
ts() { awk '{split($2, t, ":"); printf "%.6f\n", t[1] * 3600 + t[2] * 60 + t[3]; exit}'; }
# Each round runs the anchor (SMOLDER_UPROBE_MULTI=0: one perf-event uprobe per function, as
# before uprobe_multi links) and the default side by side, so both see the same machine load.
for r in $(seq "$ROUNDS"); do
	for mode in per-probe multi; do
		multi=1
		[ "$mode" = per-probe ] && multi=0
		start=$(date +%s.%N)
		SMOLDER_UPROBE_MULTI=$multi strace -f -tt -o "$WORK/trace" "$BUILD/smolder" leaks \
			-p "$FX" -d 2 -o "$WORK/l.json" >/dev/null 2>&1
		end=$(date +%s.%N)
		t0=$(head -1 "$WORK/trace" | ts)
		t1=$(grep -m1 'epoll_wait' "$WORK/trace" | ts)
		t2=$(grep 'rename(' "$WORK/trace" | tail -1 | ts)
		t3=$(grep 'exit_group' "$WORK/trace" | tail -1 | ts)
		awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v s="$start" -v e="$end" \
			-v m="$mode" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
			'BEGIN { printf "run %d %-9s: set-up %.2f s, teardown %.2f s, wall %.2f s for -d 2 (load %s)\n", '"$r"', m, b - a, d - c, e - s, l }'
	done
done
