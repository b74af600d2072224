#!/usr/bin/env bash
# test_hostile_outputs.sh: bad outputs and inputs are refused before a run starts, and nothing
# claims a file it did not write: -o under /proc, in a missing directory or naming a directory
# (record, leaks, flamegraph, diff: exit 1, one line, in well under the -d asked for); launching a
# missing command (exit 2 for record as for leaks); flamegraph on a directory (exit 1) and on
# /dev/zero (exit 1 at once, not an endless read); an interrupt before the first sample keeps the
# previous output; a late write failure exits 6 without "wrote"; temporary files left by a killed
# run are removed by the next one; -p with a thread id says which process to use.
source "$(dirname "$0")/lib.sh"
require_root_bpf

sleep 60 &
IDLE=$!
CHILDREN+=("$IDLE")
mkdir -p "$WORK/d.svg"

# refused CODE WHAT CMD...: exits CODE within 5 s (the runs ask for 30 s), one line on stderr.
refused() {
	local want=$1 what=$2 start end
	shift 2
	start=$(date +%s%N)
	expect_exit "$want" "$what" timeout 20 "$@"
	end=$(date +%s%N)
	[ $(((end - start) / 1000000)) -lt 5000 ] || fail "$what: took $(((end - start) / 1000000)) ms"
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "$what: not one line: $(cat "$WORK/err")"
	grep -q "wrote" "$WORK/err" && fail "$what: says 'wrote': $(cat "$WORK/err")"
}

for cmd in record leaks; do
	refused 1 "$cmd -o /proc/x.folded" "$SMOLDER" "$cmd" -p "$IDLE" -d 30 -o /proc/x.folded
	grep -q "/proc" "$WORK/err" || fail "$cmd: /proc not named: $(cat "$WORK/err")"
	refused 1 "$cmd -o missing dir" "$SMOLDER" "$cmd" -p "$IDLE" -d 30 -o "$WORK/no/x.json"
	refused 1 "$cmd -o directory" "$SMOLDER" "$cmd" -p "$IDLE" -d 30 -o "$WORK/d.svg"
	grep -q "directory" "$WORK/err" || fail "$cmd: directory not named: $(cat "$WORK/err")"
	refused 1 "$cmd -o /sys" "$SMOLDER" "$cmd" -p "$IDLE" -d 30 -o /sys/x.svg
	refused 2 "$cmd -- missing command" "$SMOLDER" "$cmd" -d 30 -o "$WORK/launch.json" \
		-- "$WORK/no-such-program"
	[ -e "$WORK/launch.json" ] && fail "$cmd: output written for a command that never ran"
done
printf 'a;b 3\na;c 1\n' >"$WORK/in.folded"
refused 1 "flamegraph -o /proc" "$SMOLDER" flamegraph "$WORK/in.folded" -o /proc/x.svg
refused 1 "diff -o directory" "$SMOLDER" diff "$WORK/in.folded" "$WORK/in.folded" -o "$WORK/d.svg"
refused 1 "flamegraph DIR" "$SMOLDER" flamegraph "$WORK" -o "$WORK/fg.svg"
grep -q "is a directory" "$WORK/err" || fail "flamegraph DIR: reason: $(cat "$WORK/err")"
refused 1 "flamegraph /dev/zero" "$SMOLDER" flamegraph /dev/zero -o "$WORK/fg.svg"
grep -q "binary" "$WORK/err" || fail "flamegraph /dev/zero: reason: $(cat "$WORK/err")"

# An interrupt before the first sample: the previous output stays, and the summary says why.
echo "previous 1" >"$WORK/keep.folded"
"$SMOLDER" record -p "$IDLE" -o "$WORK/keep.folded" 2>"$WORK/int.err" &
spid=$!
sleep 1.5
kill -INT "$spid"
wait "$spid"
code=$?
[ "$code" -eq 0 ] && pass "interrupt with no samples: exit 0" || fail "interrupt: exit $code"
[ "$(cat "$WORK/keep.folded")" = "previous 1" ] && pass "previous output kept" ||
	fail "previous output replaced: $(head -c 200 "$WORK/keep.folded")"
grep -q "nothing was sampled" "$WORK/int.err" && pass "says nothing was sampled" ||
	fail "no 'nothing was sampled': $(cat "$WORK/int.err")"
grep -q "wrote" "$WORK/int.err" && fail "interrupt: claims 'wrote': $(cat "$WORK/int.err")"

# A thread id (not the process id): refused at once, naming the process to use.
"$FIXTURES/record_threads" 30 >/dev/null 2>&1 &
BUSY=$!
CHILDREN+=("$BUSY")
sleep 0.3
tid=$(ls "/proc/$BUSY/task" | grep -vx "$BUSY" | head -1)
for cmd in record leaks dump; do
	refused 1 "$cmd -p TID" "$SMOLDER" "$cmd" -p "$tid"
	grep -q "use -p $BUSY" "$WORK/err" || fail "$cmd -p TID: process not named: $(cat "$WORK/err")"
done

# The output directory disappears during the run: exit 6, an error naming the file, no "wrote".
mkdir "$WORK/gone"
"$SMOLDER" record -p "$BUSY" -d 2 -o "$WORK/gone/x.folded" -o "$WORK/ok.folded" \
	2>"$WORK/late.err" &
spid=$!
sleep 1
rm -rf "$WORK/gone"
wait "$spid"
code=$?
[ "$code" -eq 6 ] && pass "late write failure: exit 6" || fail "late write failure: exit $code"
grep -q "cannot write $WORK/gone/x.folded" "$WORK/late.err" || fail "failure not named: $(cat "$WORK/late.err")"
grep -q "wrote $WORK/gone" "$WORK/late.err" && fail "claims to have written the lost file"
grep -q "wrote $WORK/ok.folded" "$WORK/late.err" && [ -s "$WORK/ok.folded" ] &&
	pass "the other output written and named" || fail "other output: $(cat "$WORK/late.err")"

# A temporary file of our naming, left by a SIGKILLed run, is removed by the next run.
touch "$WORK/ok.folded.tmp.Ab12Cd"
expect_exit 0 "record after a killed run" "$SMOLDER" record -p "$BUSY" -d 1 -o "$WORK/ok.folded"
[ -e "$WORK/ok.folded.tmp.Ab12Cd" ] && fail "stale temporary file not removed" ||
	pass "stale temporary file removed"
finish
