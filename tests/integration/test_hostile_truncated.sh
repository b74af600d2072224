#!/bin/bash
# test_hostile_truncated: one call path deeper than every frame limit (record 512, dump 256, leaks
# SMOLDER_ALLOC_MAX_FRAMES = 48). Each output must say the stack is truncated instead of rooting it
# at whatever frame the walk stopped in, and leaks must keep the path one site although its first
# learning snapshot (8 KiB) ends long before the kernel walker does.
source "$(dirname "$0")/lib.sh"
require_root_bpf

start_fixture deep_recursion 600 small 30
small=$FIXTURE_PID
start_fixture deep_recursion 600 big 30
big=$FIXTURE_PID
sleep 0.5

# record: every sample is truncated (frame limit), rooted at [truncated], flagged in JSON.
"$SMOLDER" record -p "$small" -d 2 -o "$WORK/cpu.folded" -o "$WORK/cpu.json" \
	2>"$WORK/record.err" || fail "record exited $?: $(tail -3 "$WORK/record.err")"
if [ -s "$WORK/cpu.folded" ] && ! grep -qv '^\[truncated\];deep_recurse_small;' "$WORK/cpu.folded"; then
	pass "record: every folded stack is rooted at [truncated]"
else
	fail "record: a stack not rooted at [truncated]: $(grep -v '^\[truncated\];' "$WORK/cpu.folded" | cut -c1-200 | head -2)"
fi
if python3 -c '
import json, sys; r = json.load(open(sys.argv[1])); t = r["totals"]
assert t["samples"] > 0 and t["truncated"] == t["samples"] and t["complete"] == 0, t
for s in r["stacks"]:
    assert s["truncated"] and s["stack"][0] == "[truncated]", s["stack"][:3]
    assert len(s["stack"]) >= 513, len(s["stack"])' "$WORK/cpu.json"; then
	pass "record: JSON stacks flagged truncated, totals agree"
else
	fail "record: JSON does not flag the truncated stacks"
fi
grep -q 'stacks: 0 complete, [1-9][0-9]* truncated' "$WORK/record.err" ||
	fail "record: summary does not count the truncated stacks: $(grep 'stacks:' "$WORK/record.err")"

# dump: 256 frames, then says why it stopped.
"$SMOLDER" dump -p "$small" 2>"$WORK/dump.err" | strip_checkout_paths >"$WORK/dump.txt" ||
	fail "dump exited non-zero: $(tail -3 "$WORK/dump.err")"
if grep -q '^  #255 ' "$WORK/dump.txt" && ! grep -q '^  #256 ' "$WORK/dump.txt" &&
	grep -q '(stack incomplete: frame limit reached)' "$WORK/dump.txt"; then
	pass "dump: 256 frames, then (stack incomplete: frame limit reached)"
else
	fail "dump: $(tail -3 "$WORK/dump.txt")"
fi

# leaks: one site for the path, rooted at [truncated], 48 walked frames + malloc + the marker.
"$SMOLDER" leaks -p "$big" -d 2 -i 0.5 -o "$WORK/leaks.json" -o "$WORK/leaks.folded" \
	>"$WORK/leaks.txt" 2>"$WORK/leaks.err" || fail "leaks exited $?: $(tail -3 "$WORK/leaks.err")"
if python3 -c '
import json, sys; r = json.load(open(sys.argv[1]))
sites = [s for s in r["sites"] if "deep_bottom" in s["stack"]]
assert len(sites) == 1, [(len(s["stack"]), s["allocations"]) for s in sites]
s = sites[0]
assert s["stack"][0] == "[truncated]" and s["stack_truncated"], s["stack"][:3]
assert s["stack"][-2:] == ["deep_bottom", "malloc"], s["stack"][-3:]
assert len(s["stack"]) == 50, len(s["stack"])
assert r["totals"]["truncated_sites"] >= 1' "$WORK/leaks.json" 2>"$WORK/py.err"; then
	pass "leaks: one site for the deep path, rooted at [truncated]"
else
	fail "leaks: deep path not one truncated site: $(tail -1 "$WORK/py.err")"
fi
grep -q '^\[heap\];\[truncated\];deep_recurse;' "$WORK/leaks.folded" ||
	fail "leaks: flame graph stack not rooted at [truncated]: $(cut -c1-120 "$WORK/leaks.folded")"
grep -q '^Stacks: [1-9][0-9]* of [0-9]* sites truncated' "$WORK/leaks.txt" ||
	fail "leaks: summary does not count truncated sites"
# Threads created and ended all the time: a sample of an exiting thread whose walk did not reach
# clone3 must not be rooted at start_thread (or wherever it stopped). Every root is a thread's
# real entry or [truncated].
start_fixture thread_churn 30
churn=$FIXTURE_PID
sleep 0.5
"$SMOLDER" record -p "$churn" -d 2 -F 499 -o "$WORK/churn.folded" 2>"$WORK/churn.err" ||
	fail "record thread_churn exited $?: $(tail -3 "$WORK/churn.err")"
roots=$(sed 's/ [0-9]*$//' "$WORK/churn.folded" | cut -d';' -f1 | sort -u | tr '\n' ' ')
if [ -s "$WORK/churn.folded" ] && ! sed 's/ [0-9]*$//' "$WORK/churn.folded" | cut -d';' -f1 |
	grep -qvx -e _start -e clone3 -e '\[truncated\]'; then
	pass "record thread_churn: every stack rooted at _start, clone3 or [truncated] ($roots)"
else
	fail "record thread_churn: roots $roots"
fi
exit $((FAILURES > 0))
