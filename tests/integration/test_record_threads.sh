#!/usr/bin/env bash
# test_record_threads.sh: `smolder record -p` on a two-thread fixture with known call chains and a
# known 3:1 work split, with real eBPF sampling: complete chains (>= 95% per hot leaf), the split,
# thread root frames (--threads), --no-kernel, and complete output files.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/record_lib.sh"
require_root_bpf

out=$WORK/threads.folded
record_attach record_threads 30 -- -F 499 -d 4 -o "$out" -o "$WORK/threads.json"
[ "$RECORD_EXIT" -eq 0 ] || fail "record exit $RECORD_EXIT: $(cat "$WORK/record.err")"
expect_folded_file "$out"

expect_chain "$out" hot_leaf_a "${ROOT_THREAD}worker_main;path_a;hot_leaf_a$" 100
expect_chain "$out" hot_leaf_b "${ROOT_THREAD}worker_main;path_b;hot_leaf_b$" 30

# Work split: hot_leaf_a does 3 units for each unit of hot_leaf_b, so its share of the two leaves'
# samples is 0.75. Binomial noise at the minimum sample count checked here (400) is sd 0.022; the
# tolerance 0.06 is 2.8 sd (false failure < 0.6%), tight enough to catch a 2:1 or 4:1 mix-up.
read -r _ a < <(chain_stats "$out" hot_leaf_a .)
read -r _ b < <(chain_stats "$out" hot_leaf_b .)
if [ $((a + b)) -lt 400 ]; then
	fail "work split: only $((a + b)) samples in the two leaves (need 400)"
else
	share=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a / (a + b) }')
	if awk -v s="$share" 'BEGIN { exit !(s >= 0.69 && s <= 0.81) }'; then
		pass "work split hot_leaf_a share $share (expected 0.75 +- 0.06)"
	else
		fail "work split hot_leaf_a share $share, expected 0.75 +- 0.06 ($a vs $b)"
	fi
fi

# The summary's sample count is what the folded file holds.
kept=$(summary_samples)
total=$(folded_total "$out")
[ "$kept" = "$total" ] || fail "summary says $kept samples, folded holds $total"
grep -q "lost" "$WORK/record.err" || fail "summary does not report lost samples"
grep -q "complete" "$WORK/record.err" || fail "summary does not report complete stacks"

# JSON: the same samples.
if command -v python3 >/dev/null; then
	python3 - "$WORK/threads.json" "$total" <<'PY' || fail "JSON report invalid or inconsistent"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["totals"]["samples"] == int(sys.argv[2]), r["totals"]
assert sum(s["count"] for s in r["stacks"]) == int(sys.argv[2])
assert all(s["stack"] for s in r["stacks"])
PY
fi

# --threads: every stack starts with the thread's name and id.
out=$WORK/threads-t.folded
record_attach record_threads 30 -- -F 199 -d 2 --threads --no-kernel -o "$out"
[ "$RECORD_EXIT" -eq 0 ] || fail "record --threads exit $RECORD_EXIT: $(cat "$WORK/record.err")"
expect_folded_file "$out"
n_workers=$(grep -cE '^hotworker-[12]-[0-9]+;' "$out")
[ "$n_workers" -gt 0 ] || fail "--threads: no hotworker-N-TID root frames: $(head -3 "$out")"
bad=$(grep -cvE '^[^;]+-[0-9]+;|^[0-9]+;' "$out")
[ "$bad" -eq 0 ] || fail "--threads: $bad stacks without a thread root frame"
grep -q '_\[k\]' "$out" && fail "--no-kernel: kernel frames present"
pass "--threads and --no-kernel"

finish
