#!/bin/bash
# test_hostile_static: a `gcc -static` service (.eh_frame without .eh_frame_hdr, glibc inside the
# executable) unwinds completely in record, leaks and dump. Before the unwinder indexed .eh_frame
# itself, every stack of such a binary stopped at its leaf ("no unwind information").
source "$(dirname "$0")/lib.sh"
require_root_bpf

start_fixture static_service 30
sleep 0.5

# record: the worker's CPU stack reaches clone3 and every stack is complete.
"$SMOLDER" record -p "$FIXTURE_PID" -d 2 -o "$WORK/cpu.folded" -o "$WORK/cpu.json" \
	2>"$WORK/record.err" || fail "record exited $?: $(tail -3 "$WORK/record.err")"
if grep -q '^clone3;start_thread;static_worker;static_crunch ' "$WORK/cpu.folded"; then
	pass "record: clone3;start_thread;static_worker;static_crunch"
else
	fail "record: no complete worker stack: $(head -3 "$WORK/cpu.folded")"
fi
if python3 -c '
import json, sys; t = json.load(open(sys.argv[1]))["totals"]
assert t["samples"] > 20 and t["truncated"] * 20 <= t["samples"], t' "$WORK/cpu.json"; then
	pass "record: at most 5% of the samples truncated"
else
	fail "record: truncated stacks: $(grep -o '"totals": {[^}]*' "$WORK/cpu.json")"
fi

# leaks: the leak site reaches _start, not marked truncated.
"$SMOLDER" leaks -p "$FIXTURE_PID" -d 2 -i 0.5 -o "$WORK/leaks.json" >"$WORK/leaks.txt" \
	2>"$WORK/leaks.err" || fail "leaks exited $?: $(tail -3 "$WORK/leaks.err")"
if python3 -c '
import json, sys; r = json.load(open(sys.argv[1]))
s = max((s for s in r["sites"] if "static_store" in s["stack"]), key=lambda s: s["outstanding_bytes"])
assert s["stack"][:4] == ["_start", "__libc_start_main", "__libc_start_call_main", "main"], s["stack"]
assert s["stack"][-3:] == ["static_serve", "static_store", "malloc"], s["stack"]
assert not s["stack_truncated"], s' "$WORK/leaks.json"; then
	pass "leaks: _start ... static_serve;static_store;malloc, complete"
else
	fail "leaks: static_store site incomplete"
fi

# dump: both threads reach their roots, no "(stack incomplete" line.
"$SMOLDER" dump -p "$FIXTURE_PID" 2>"$WORK/dump.err" | strip_checkout_paths >"$WORK/dump.txt" ||
	fail "dump exited non-zero: $(tail -3 "$WORK/dump.err")"
if grep -q ' _start (' "$WORK/dump.txt" && grep -q ' clone3 (' "$WORK/dump.txt" &&
	! grep -q 'stack incomplete' "$WORK/dump.txt"; then
	pass "dump: main thread to _start, worker to clone3, nothing incomplete"
else
	fail "dump: $(cat "$WORK/dump.txt")"
fi
exit $((FAILURES > 0))
