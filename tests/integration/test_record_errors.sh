#!/usr/bin/env bash
# test_record_errors.sh: `smolder record` error paths and run endings on the real binary: a PID that
# does not exist, a kernel thread and a zombie give exit 2 with one line; missing privilege gives
# exit 3 naming the capability; SIGTERM and SIGINT end an attached run cleanly with complete
# outputs, and a second SIGINT during the flush changes nothing; target exit ends the run.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/record_lib.sh"
require_root_bpf

one_line() {
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "$1: error is not one line: $(cat "$WORK/err")"
}

expect_exit 2 "nonexistent PID" "$SMOLDER" record -p 4194303 -d 1 -o "$WORK/x.folded"
one_line "nonexistent PID"
expect_exit 2 "kernel thread" "$SMOLDER" record -p 2 -d 1 -o "$WORK/x.folded"
one_line "kernel thread"
grep -q "kernel thread" "$WORK/err" || fail "kernel thread message: $(cat "$WORK/err")"

# A zombie: a child that exited and is not reaped by its parent (sleep).
sh -c 'sh -c "exit 0" & exec sleep 5' &
zparent=$!
CHILDREN+=("$zparent")
sleep 0.3
zombie=$(ps -o pid=,stat= --ppid "$zparent" | awk '$2 ~ /^Z/ { print $1 }' | head -1)
if [ -z "$zombie" ]; then
	fail "could not create a zombie for the test"
else
	expect_exit 2 "zombie" "$SMOLDER" record -p "$zombie" -d 1 -o "$WORK/x.folded"
	one_line "zombie"
fi
[ -e "$WORK/x.folded" ] && fail "an output was written for a failed attach"

# Missing privilege: an unprivileged user profiling its own process cannot load BPF. With
# --backend bpf that is an error naming the capability (exit 3); the default (auto) falls back to
# ptrace instead, which test_record_ptrace.sh covers.
if command -v setpriv >/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		sleep 5 &
	upid=$!
	CHILDREN+=("$upid")
	sleep 0.2
	stage_for_user "$SMOLDER" || fail "cannot stage smolder for an unprivileged user"
	expect_exit 3 "unprivileged user" setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=-all --bounding-set=-all -- "$STAGE/smolder" record --backend bpf \
		-p "$upid" -d 1 -o /tmp/smolder-unpriv-$$.folded
	one_line "unprivileged user"
	grep -qE "CAP_BPF|CAP_PERFMON|perf_event_paranoid" "$WORK/err" ||
		fail "privilege message names no capability: $(cat "$WORK/err")"
	rm -f /tmp/smolder-unpriv-$$.folded
else
	fail "setpriv (util-linux) missing: cannot test the privilege error"
fi

# SIGTERM ends a run without -d; outputs complete.
start_fixture record_threads 30
fpid=$FIXTURE_PID
sleep 0.3
"$SMOLDER" record -p "$fpid" -o "$WORK/term.folded" -o "$WORK/term.json" 2>"$WORK/term.err" &
spid=$!
CHILDREN+=("$spid")
sleep 2
kill -TERM "$spid"
wait "$spid"
code=$?
[ "$code" -eq 0 ] && pass "SIGTERM ends the run (exit 0)" || fail "SIGTERM: exit $code: $(cat "$WORK/term.err")"
expect_folded_file "$WORK/term.folded"
grep -q "interrupted" "$WORK/term.err" || fail "SIGTERM: summary does not say interrupted"
kill -0 "$fpid" 2>/dev/null || fail "SIGTERM to smolder killed the attached target"

# SIGINT twice, the second one during the flush: nothing changes, outputs complete.
"$SMOLDER" record -p "$fpid" -o "$WORK/int.folded" 2>"$WORK/int.err" &
spid=$!
CHILDREN+=("$spid")
sleep 2
kill -INT "$spid"
sleep 0.01
kill -INT "$spid" 2>/dev/null
wait "$spid"
code=$?
[ "$code" -eq 0 ] && pass "double SIGINT ends the run (exit 0)" || fail "double SIGINT: exit $code"
expect_folded_file "$WORK/int.folded"
[ "$(folded_total "$WORK/int.folded")" -gt 0 ] || fail "double SIGINT: empty profile"

# Target exit ends a run without -d.
start_fixture record_threads 2
"$SMOLDER" record -p "$FIXTURE_PID" -o "$WORK/exit.folded" 2>"$WORK/exit.err"
code=$?
[ "$code" -eq 0 ] || fail "target exit: exit $code: $(cat "$WORK/exit.err")"
grep -q "target exited" "$WORK/exit.err" || fail "target exit: summary: $(cat "$WORK/exit.err")"
expect_folded_file "$WORK/exit.folded"

finish
