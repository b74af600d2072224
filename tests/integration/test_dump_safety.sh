#!/usr/bin/env bash
# test_dump_safety.sh: smolder never leaves a target stopped or traced. With the test hook
# SMOLDER_TEST_PAUSE_STOPPED_MS smolder holds the threads stopped while we: SIGKILL it (the kernel
# must release the threads), SIGTERM/SIGINT it (its handler detaches), attach a second smolder
# (refused: already traced, exit 3), SIGSEGV it, kill the target (dump ends, exit 2). Also: a target stopped
# with SIGSTOP before the dump stays stopped; a target creating and ending threads continuously
# is dumped repeatedly without hangs or leftovers.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ptrace_lib.sh"
require_root_bpf

start_fixture threads_known 120
wait_ready "$WORK/threads_known.out" || finish
PID=$FIXTURE_PID
spinner=$(tid_named "$PID" spinner)

# paused_dump PID [MS]: starts smolder dump holding the target MS (default 20000) ms; sets SPID
# once the threads are held.
paused_dump() {
	# env --default-signal: a background job of a script inherits SIGINT ignored.
	SMOLDER_TEST_PAUSE_STOPPED_MS=${2:-20000} env --default-signal=INT "$SMOLDER" dump -p "$1" >"$WORK/paused.out" \
		2>"$WORK/paused.err" &
	SPID=$!
	CHILDREN+=("$SPID")
	wait_stopped_by "$1" "$SPID"
}

# 1. SIGKILL of smolder while the threads are interrupted.
paused_dump "$PID"
t0=$(cpu_ticks "$PID" "$spinner")
sleep 0.3
t1=$(cpu_ticks "$PID" "$spinner")
[ "$t1" -eq "$t0" ] && pass "spinner held while smolder pauses" || fail "spinner ran while held"
kill -KILL "$SPID"
wait "$SPID" 2>/dev/null
sleep 0.1
assert_released "$PID" "SIGKILL of smolder"
t0=$(cpu_ticks "$PID" "$spinner")
sleep 0.3
t1=$(cpu_ticks "$PID" "$spinner")
[ "$t1" -gt "$t0" ] && pass "spinner runs after SIGKILL of smolder" || fail "spinner frozen"

# 2. SIGTERM, SIGINT, SIGHUP, and SIGSEGV standing in for a crash: the handler detaches, smolder
# dies of the signal.
for sig in TERM INT HUP SEGV; do
	paused_dump "$PID"
	kill -"$sig" "$SPID"
	wait "$SPID"
	rc=$?
	[ "$rc" -eq $((128 + $(kill -l "$sig"))) ] && pass "SIG$sig ends smolder (exit $rc)" || fail "SIG$sig: exit $rc"
	assert_released "$PID" "SIG$sig of smolder"
done

# 3. A second tracer is refused with the cause named and exit 3.
paused_dump "$PID"
expect_exit 3 "dump of an already traced process" "$SMOLDER" dump -p "$PID"
grep -q "already traced by PID $SPID" "$WORK/err" || fail "reason: $(cat "$WORK/err")"
[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "error is not one line: $(cat "$WORK/err")"
kill -KILL "$SPID"
wait "$SPID" 2>/dev/null
sleep 0.1
assert_released "$PID" "after the refused second tracer"

# 4. A target stopped before the dump (Ctrl-Z) is left stopped.
kill -STOP "$PID"
sleep 0.1
expect_exit 0 "dump of a stopped target" "$SMOLDER" dump -p "$PID"
[ "$(grep -c '^Thread ' "$WORK/out")" -eq 4 ] || fail "stopped target: $(cat "$WORK/out")"
grep -q "left stopped" "$WORK/err" || fail "no note that the target stays stopped: $(cat "$WORK/err")"
sleep 0.1
states=$(thread_states "$PID" | sort -u | tr -d '\n')
[ "$states" = "T" ] && pass "pre-stopped target stays stopped" || fail "states after: $states"
[ "$(tracer_pid "$PID")" = 0 ] && pass "pre-stopped target untraced" || fail "still traced"
kill -CONT "$PID"
sleep 0.1
assert_released "$PID" "after SIGCONT"

# 5. The target dies while smolder holds it: smolder finishes promptly with exit 2.
paused_dump "$PID" 2000
kill -KILL "$PID"
# The pause runs to its end (2 s); the dump must then finish promptly.
for i in $(seq 1 100); do
	kill -0 "$SPID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$SPID" 2>/dev/null; then
	fail "smolder still running 10 s after its target died"
	kill -KILL "$SPID"
fi
wait "$SPID"
rc=$?
[ "$rc" -eq 2 ] && pass "target killed during dump: exit 2" ||
	fail "target killed during dump: exit $rc; $(cat "$WORK/paused.err")"
grep -q "exited" "$WORK/paused.err" && pass "reason says the target exited" ||
	fail "no 'exited' reason: $(cat "$WORK/paused.err")"
if [ -d "/proc/$PID" ] && [ "$(awk '{print $3}' "/proc/$PID/stat")" != Z ]; then
	fail "target still there after SIGKILL"
fi

# 6. Thread churn: threads created and ending while attaching.
start_fixture thread_churn 120
wait_ready "$WORK/thread_churn.out" || finish
CPID=$FIXTURE_PID
ok=0
for i in $(seq 1 20); do
	timeout 10 "$SMOLDER" dump -p "$CPID" >"$WORK/churn.out" 2>"$WORK/churn.err"
	rc=$?
	if [ "$rc" -eq 0 ] && thread_block "$WORK/churn.out" steady | grep churn_steady_spin >/dev/null; then
		ok=$((ok + 1))
	else
		fail "churn dump $i: exit $rc: $(head -c 300 "$WORK/churn.err")"
	fi
done
[ "$ok" -eq 20 ] && pass "20 dumps of a thread-churning target"
assert_released "$CPID" "after churn dumps"

finish
