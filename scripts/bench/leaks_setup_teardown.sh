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
ts() { awk '{split($2, t, ":"); print t[1] * 3600 + t[2] * 60 + t[3]; exit}'; }
for r in $(seq "$ROUNDS"); do
	start=$(date +%s.%N)
	strace -f -tt -o "$WORK/trace" "$BUILD/smolder" leaks -p "$FX" -d 2 -o "$WORK/l.json" \
		>/dev/null 2>&1
	end=$(date +%s.%N)
	t0=$(head -1 "$WORK/trace" | ts)
	t1=$(grep -m1 'epoll_wait' "$WORK/trace" | ts)
	t2=$(grep 'rename(' "$WORK/trace" | tail -1 | ts)
	t3=$(grep 'exit_group' "$WORK/trace" | tail -1 | ts)
	awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v s="$start" -v e="$end" \
		'BEGIN { printf "run %d: set-up %.2f s, teardown %.2f s, wall %.2f s for -d 2\n", '"$r"', b - a, d - c, e - s }'
done
