# test_leaks_lifecycle: how a `smolder leaks` run ends and fails: launch mode with SIGTERM, target
# exit, Ctrl-C (SIGINT) on an attached run, --min-age, and clear errors for a missing target or a
# target without a findable allocator.
source "$(dirname "$0")/lib.sh"
require_root_bpf

# A pid that does not exist (a process that just exited): exit 2.
true &
GONE=$!
wait "$GONE"
expect_exit 2 "nonexistent pid" "$SMOLDER" leaks -p "$GONE" -d 1 -o "$WORK/none.json"

# Launch mode, stopped by SIGTERM: the report is still written, the child is ended and reaped.
"$SMOLDER" leaks -o "$WORK/launch.json" -o "$WORK/launch.folded" -- "$FIXTURES/leak_linear" \
	>"$WORK/launch.txt" 2>"$WORK/launch.err" &
SM=$!
CHILDREN+=("$SM")
sleep 4
kill -TERM "$SM"
wait "$SM"
code=$?
if [ -s "$WORK/launch.json" ] && python3 -c '
import json,sys; r=json.load(open(sys.argv[1]))
assert r["stop_reason"]=="interrupted", r["stop_reason"]
assert any("store_put" in s["stack"] for s in r["sites"]), "no store_put site"
' "$WORK/launch.json"; then pass "launch + SIGTERM writes the report (exit $code)"; else
	fail "launch + SIGTERM: exit $code, $(tail -3 "$WORK/launch.err")"
fi
[ -s "$WORK/launch.folded" ] && pass "launch + SIGTERM writes the folded file" || fail "no folded file"
if [ -n "$(pids_by_cmdline --exact "$FIXTURES/leak_linear")" ]; then fail "launched fixture still running"; else
	pass "launched fixture ended"
fi

# Attached run ended by the target's exit; --min-age longer than the run hides every block.
start_fixture leak_linear
TPID=$FIXTURE_PID
"$SMOLDER" leaks -p "$TPID" --min-age 3600 -o "$WORK/exit.json" >"$WORK/exit.txt" 2>"$WORK/exit.err" &
SM=$!
sleep 4
kill -9 "$TPID"
wait "$SM"
code=$?
if [ "$code" -eq 0 ] && python3 -c '
import json,sys; r=json.load(open(sys.argv[1]))
assert r["stop_reason"]=="target exited", r["stop_reason"]
assert r["totals"]["outstanding_bytes"]==0, r["totals"]
assert r["totals"]["tracked_allocs"]>0, r["totals"]
' "$WORK/exit.json"; then pass "target exit ends the run; --min-age hides young blocks"; else
	fail "target exit: exit $code, $(tail -3 "$WORK/exit.err")"
fi

# SIGINT on an attached run: outputs written, target untouched.
start_fixture churn
TPID=$FIXTURE_PID
"$SMOLDER" leaks -p "$TPID" -o "$WORK/int.json" >"$WORK/int.txt" 2>"$WORK/int.err" &
SM=$!
sleep 3
kill -INT "$SM"
wait "$SM"
code=$?
[ "$code" -eq 0 ] && [ -s "$WORK/int.json" ] && pass "SIGINT writes the report" ||
	fail "SIGINT: exit $code, $(tail -3 "$WORK/int.err")"
kill -0 "$TPID" 2>/dev/null && pass "attached target still runs after the run" ||
	fail "attached target died"

# A static binary has no allocator symbols smolder can find: a clear error, exit 2.
cat >"$WORK/static.c" <<'SRC'
#include <unistd.h>
int main(void) { for (;;) pause(); }
SRC
if cc -static -s -o "$WORK/static" "$WORK/static.c" 2>/dev/null; then
	"$WORK/static" &
	SP=$!
	CHILDREN+=("$SP")
	expect_exit 2 "target without allocator functions" "$SMOLDER" leaks -p "$SP" -d 1 -o "$WORK/s.json"
	grep -q "no allocator functions" "$WORK/err" && pass "allocator error is explained" ||
		fail "allocator error message: $(cat "$WORK/err")"
else
	fail "cannot build a static test binary (libc6-dev static libs missing)"
fi
finish
