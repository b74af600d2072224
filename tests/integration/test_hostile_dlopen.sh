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

# A real runtime: pyenv's Python (shared libpython) imports sqlite3 after attach; ld.so maps
# _sqlite3 and libsqlite3 while Python allocates, so the maps may be read with libsqlite3 not yet
# mapped as code. Its first frames then had no rule, the kernel walker stopped there for the rest
# of the run, and every sqlite allocation was a [truncated] stack. The rule must be learned again
# once the library's code is known: the inserts' site runs through sqlite3_step to _start.
PY=""
for d in "${PYENV_ROOT:-/root/.pyenv}"/versions/3.11.* "${PYENV_ROOT:-/root/.pyenv}"/versions/3.12.*; do
	[ -x "$d/bin/python3" ] && PY="$d/bin/python3"
done
if [ -z "$PY" ]; then
	echo "skip: no pyenv Python 3.11/3.12 (shared libpython) for the sqlite3 import part"
	exit $((FAILURES > 0))
fi
# It imports sqlite3 0.5 s after leaks has started (the file go appears), not after a fixed delay
# that leaks' set-up (seconds on a busy machine) could outlast: the import must come after attach.
cat >"$WORK/late_import.py" <<'EOF2'
import os, sys, time
t0 = time.time()
while not os.path.exists(sys.argv[1]) and time.time() - t0 < 60:
    time.sleep(0.05)
time.sleep(0.5)
import sqlite3
c = sqlite3.connect(":memory:")
c.execute("create table t(x text)")
i = 0
while True:
    c.execute("insert into t values (?)", ("x" * 200 + str(i),))
    i += 1
    if i % 1000 == 0:
        time.sleep(0.01)
EOF2
"$PY" "$WORK/late_import.py" "$WORK/go" >"$WORK/late_import.out" 2>&1 &
LATE=$!
CHILDREN+=("$LATE")
sleep 0.3
"$SMOLDER" leaks -p "$LATE" -d 4 -o "$WORK/late.json" >"$WORK/late.txt" 2>"$WORK/late.err" &
LEAKS=$!
wait_for_line '^smolder: tracking allocations' "$WORK/late.err" 300
touch "$WORK/go"
wait "$LEAKS" || fail "leaks (late sqlite3 import) exited $?: $(tail -3 "$WORK/late.err")"
if python3 -c '
import json, sys; r = json.load(open(sys.argv[1]))
s = [s for s in r["sites"] if "sqlite3_step" in s["stack"]]
assert s, "no site through sqlite3_step: " + repr([x["stack"][-4:] for x in r["sites"][:3]])
s = max(s, key=lambda s: s["allocations"])
assert s["stack"][0] == "_start" and not s["stack_truncated"], ("truncated", s["stack"][:4])
assert any(f.startswith("<module> (") and f.endswith("/late_import.py:11)") for f in s["stack"]), \
    ("no module frame", s["stack"])
assert r["totals"]["unwind_rules_relearned"] >= 0' "$WORK/late.json" 2>"$WORK/late.py.err"; then
	pass "leaks: sqlite3 imported after attach unwinds through libsqlite3 to _start"
else
	fail "leaks: late sqlite3 import: $(tail -1 "$WORK/late.py.err")"
fi
exit $((FAILURES > 0))
