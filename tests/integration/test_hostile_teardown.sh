#!/usr/bin/env bash
# test_hostile_teardown.sh: every wait at the end of a run is bounded: `leaks -- CMD` where CMD
# ignores SIGTERM ends anyway (CMD is killed after the grace period, with a warning, and not left
# running), and the outputs are written before.
source "$(dirname "$0")/lib.sh"
require_root_bpf

start=$(date +%s)
timeout 60 "$SMOLDER" leaks -d 1 -o "$WORK/t.json" -- \
	sh -c 'trap "" TERM; echo $$ >"$0"; while :; do sleep 0.05; done' "$WORK/child.pid" \
	>"$WORK/out" 2>"$WORK/err"
code=$?
took=$(($(date +%s) - start))
[ "$code" -ne 124 ] && pass "leaks ended ($took s, exit $code)" || fail "leaks hung on a child ignoring SIGTERM"
[ "$took" -lt 40 ] || fail "leaks took $took s to end"
grep -q "killing it" "$WORK/err" && pass "the kill is said" || fail "no warning: $(cat "$WORK/err")"
[ -s "$WORK/t.json" ] && pass "report written" || fail "no report"
child=$(cat "$WORK/child.pid" 2>/dev/null)
if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
	fail "launched child $child left running"
	kill -9 "$child"
else
	pass "launched child gone"
fi
finish
