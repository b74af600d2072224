#!/bin/bash
# test_hostile_dlopen: a library dlopened after `smolder leaks` attached allocates: its frames must
# be named (the symbolizer learns each maps generation of the target) and the stack complete.
source "$(dirname "$0")/lib.sh"
require_root_bpf

start_fixture leak_dlopen "$FIXTURES/libleak_plugin.so" 1.5 3
sleep 0.3
"$SMOLDER" leaks -p "$FIXTURE_PID" -d 4 -i 0.5 -o "$WORK/leaks.json" >"$WORK/leaks.txt" \
	2>"$WORK/leaks.err" || fail "leaks exited $?: $(tail -3 "$WORK/leaks.err")"
grep -q loaded "$WORK/leak_dlopen.out" || fail "the fixture did not load its plugin"
if python3 -c '
import json, sys; r = json.load(open(sys.argv[1]))
s = max((s for s in r["sites"] if "main" in s["stack"]), key=lambda s: s["outstanding_bytes"])
assert s["stack"][-3:] == ["plugin_leak", "plugin_store", "malloc"], s["stack"]
assert s["stack"][0] == "_start" and s["stack_complete"] and s["unknown_frames"] == 0, s' \
	"$WORK/leaks.json"; then
	pass "leaks: the dlopened plugin's frames are named, the stack complete"
else
	fail "leaks: plugin frames not named: $(grep -A8 '"stack"' "$WORK/leaks.json" | head -10 | tr -d ' \n')"
fi
exit $((FAILURES > 0))
