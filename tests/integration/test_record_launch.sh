#!/usr/bin/env bash
# test_record_launch.sh: `smolder record -- CMD ARGS` with real eBPF: the command is profiled from
# its start (its main-thread chain is complete), smolder returns CMD's exit status (128+N when CMD
# dies of a signal; a command that cannot run at all is exit 2, nothing written), SIGINT is
# forwarded, and outputs are complete files in every case.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/record_lib.sh"
require_root_bpf

# A run to completion: the fixture exits 0 after 2 s; smolder ends with it.
out=$WORK/launch.folded
expect_exit 0 "launch runs CMD to completion" \
	"$SMOLDER" record -F 499 -o "$out" -- "$FIXTURES/record_sharedlib" 2
expect_folded_file "$out"
grep -q "target exited" "$WORK/err" || fail "launch: run did not end on target exit: $(cat "$WORK/err")"
expect_chain "$out" foo_leaf "${ROOT_MAIN}main;run_lib_work;foo_entry;foo_middle;foo_leaf$" 100

# No -o: smolder-PID.svg in the current directory, its name printed.
(cd "$WORK" && "$SMOLDER" record -- "$FIXTURES/record_qsort" 1 >"$WORK/out" 2>"$WORK/err")
code=$?
svg=$(sed -nE 's/.*wrote (smolder-[0-9]+\.svg).*/\1/p' "$WORK/err")
if [ "$code" -ne 0 ] || [ -z "$svg" ] || ! xmllint --noout "$WORK/$svg" 2>/dev/null; then
	fail "default output: exit $code, file '$svg': $(cat "$WORK/err")"
else
	pass "default output $svg"
fi

# Exit status is CMD's.
expect_exit 7 "launch returns CMD's exit status" \
	"$SMOLDER" record -o "$WORK/seven.folded" -- sh -c 'exit 7'
[ -f "$WORK/seven.folded" ] || fail "launch: no output for a short command"
# A command that cannot run is a missing target, found before anything starts (as for leaks).
expect_exit 2 "launch of a missing command" \
	"$SMOLDER" record -o "$WORK/missing.folded" -- /nonexistent/command
[ -e "$WORK/missing.folded" ] && fail "launch of a missing command wrote an output"
expect_exit $((128 + 9)) "launch: CMD killed by SIGKILL" \
	"$SMOLDER" record -o "$WORK/killed.folded" -- sh -c 'kill -9 $$'

# -d ends profiling; smolder then waits for CMD and returns its status.
start=$(date +%s.%N)
expect_exit 0 "launch with -d shorter than CMD" \
	"$SMOLDER" record -d 1 -o "$WORK/d.folded" -- "$FIXTURES/record_threads" 3
expect_folded_file "$WORK/d.folded"
grep -q "duration elapsed" "$WORK/err" || fail "launch -d: not ended by duration: $(cat "$WORK/err")"

# SIGINT to smolder: forwarded to CMD, which dies of it; outputs still written.
"$SMOLDER" record -o "$WORK/int.folded" -o "$WORK/int.json" -- "$FIXTURES/record_threads" 30 \
	>"$WORK/int.out" 2>"$WORK/int.err" &
spid=$!
CHILDREN+=("$spid")
sleep 1.5
kill -INT "$spid"
for _ in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$spid" 2>/dev/null; then
	fail "launch: smolder still running 5 s after SIGINT"
else
	wait "$spid"
	code=$?
	[ "$code" -eq 130 ] && pass "launch: SIGINT forwarded, exit 130" ||
		fail "launch: SIGINT gave exit $code, expected 130: $(cat "$WORK/int.err")"
fi
expect_folded_file "$WORK/int.folded"
[ -s "$WORK/int.json" ] || fail "launch: JSON output missing after SIGINT"
[ -n "$(pids_by_cmdline "$FIXTURES/record_threads 30")" ] && fail "launch: CMD still running after SIGINT"

finish
