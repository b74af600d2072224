#!/usr/bin/env bash
# test_record_ptrace.sh: `smolder record --backend ptrace` on the record_threads fixture (known
# chains, 3:1 work split): complete chains for both hot leaves, the same hot chains and split as
# the eBPF backend on the same fixture, the target released afterwards; and as an ordinary user,
# `record` without --backend falls back to ptrace with a one-line notice.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/record_lib.sh"
source "$(dirname "$0")/ptrace_lib.sh"
require_root_bpf

# leaf_share FOLDED: hot_leaf_a's share of the two leaves' samples.
leaf_share() {
	local a b
	read -r _ a < <(chain_stats "$1" hot_leaf_a .)
	read -r _ b < <(chain_stats "$1" hot_leaf_b .)
	awk -v a="$a" -v b="$b" 'BEGIN { if (a + b == 0) print "nan"; else printf "%.3f", a / (a + b) }'
}

# 1. ptrace backend.
pt=$WORK/ptrace.folded
start_fixture record_threads 30
sleep 0.5
PID=$FIXTURE_PID
"$SMOLDER" record --backend ptrace -p "$PID" -F 199 -d 4 -o "$pt" -o "$WORK/ptrace.json" \
	>"$WORK/record.out" 2>"$WORK/record.err"
rc=$?
[ "$rc" -eq 0 ] && pass "record --backend ptrace exit 0" || fail "exit $rc: $(cat "$WORK/record.err")"
cat "$WORK/record.err"
expect_folded_file "$pt"
grep -q "ptrace backend: .* ticks" "$WORK/record.err" || fail "no ptrace cost line in the summary"
assert_released "$PID" "after record --backend ptrace"
expect_chain "$pt" hot_leaf_a "${ROOT_THREAD}worker_main;path_a;hot_leaf_a$" 300
expect_chain "$pt" hot_leaf_b "${ROOT_THREAD}worker_main;path_b;hot_leaf_b$" 80
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/ptrace.json" ||
	fail "ptrace.json is not valid JSON"

# 2. eBPF backend on the same process: same hot chains, same split (within sampling noise: both
# shares have sd ~0.02 at these counts; 0.08 is ~3 sd of the difference).
bpf=$WORK/bpf.folded
"$SMOLDER" record --backend bpf -p "$PID" -F 199 -d 4 -o "$bpf" >/dev/null 2>"$WORK/bpf.err" ||
	fail "record --backend bpf failed: $(cat "$WORK/bpf.err")"
top_chains() { # the two heaviest user chains, root first, kernel frames dropped
	sed -E 's/;[^;]*_\[k\]//g; s/ ([0-9]+)$/ \1/' "$1" |
		awk '{c = $NF; $NF = ""; sub(/ $/, ""); n = split($0, f, ";");
		      s = f[n - 2] ";" f[n - 1] ";" f[n]; t[s] += c} END {for (s in t) print t[s], s}' |
		sort -nr | head -2 | awk '{print $2}' | sort
}
if [ "$(top_chains "$pt")" = "$(top_chains "$bpf")" ]; then
	pass "same two hot chains from both backends: $(top_chains "$pt" | tr '\n' ' ')"
else
	fail "hot chains differ: ptrace [$(top_chains "$pt" | tr '\n' ' ')] bpf [$(top_chains "$bpf" | tr '\n' ' ')]"
fi
sp=$(leaf_share "$pt")
sb=$(leaf_share "$bpf")
if awk -v p="$sp" -v b="$sb" 'BEGIN { d = p - b; if (d < 0) d = -d; exit !(d <= 0.08 && p >= 0.67 && p <= 0.83) }'; then
	pass "work split: ptrace $sp, eBPF $sb (expected 0.75)"
else
	fail "work split: ptrace $sp vs eBPF $sb (expected both 0.75, within 0.08)"
fi
kill "$PID"
wait "$PID" 2>/dev/null

# 2b. Launch mode with the ptrace backend, CMD killed by SIGKILL while sampled at 999 Hz (so often
# while its threads are held): smolder must collect its exit (threads it still traced are reaped
# by their tracer, or the leader's exit never comes), return 137 and write the output. 5 rounds.
for round in 1 2 3 4 5; do
	"$SMOLDER" record --backend ptrace -F 999 -o "$WORK/killed$round.folded" -- \
		"$FIXTURES/record_threads" 30 >/dev/null 2>"$WORK/killed.err" &
	spid=$!
	CHILDREN+=("$spid")
	sleep 1
	kill -KILL "$(pgrep -P "$spid" | head -1)" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$spid" 2>/dev/null; then
		fail "launch --backend ptrace, round $round: smolder still running 10 s after CMD was killed"
		kill -KILL "$spid"
		break
	fi
	wait "$spid"
	rc=$?
	[ "$rc" -eq 137 ] || fail "launch --backend ptrace, round $round: exit $rc, expected 137: $(tail -2 "$WORK/killed.err")"
	[ -s "$WORK/killed$round.folded" ] || fail "launch --backend ptrace, round $round: no output"
done
pass "launch --backend ptrace: CMD killed while sampled, smolder returned 137 (5 rounds)"

# 3. Unprivileged: no CAP_BPF/CAP_PERFMON, so auto falls back to ptrace on one's own process.
TEST_USER=smoldertest
id "$TEST_USER" >/dev/null 2>&1 || useradd -M -r -s /usr/sbin/nologin "$TEST_USER" ||
	{ fail "cannot create $TEST_USER"; finish; }
as_user=(setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --clear-groups --inh-caps=-all
	--bounding-set=-all --)
chmod 777 "$WORK"
stage_for_user "$SMOLDER" "$FIXTURES/record_threads" || { fail "cannot stage binaries"; finish; }
"${as_user[@]}" "$STAGE/record_threads" 30 >/dev/null 2>&1 &
UPID=$!
CHILDREN+=("$UPID")
sleep 0.5
(cd "$WORK" && "${as_user[@]}" "$STAGE/smolder" record -p "$UPID" -d 3 -o "$WORK/user.folded") \
	>/dev/null 2>"$WORK/user.err"
rc=$?
[ "$rc" -eq 0 ] && pass "unprivileged record exit 0" || fail "unprivileged record: exit $rc: $(cat "$WORK/user.err")"
grep -q "using the ptrace backend" "$WORK/user.err" && pass "fallback notice" ||
	fail "no fallback notice: $(cat "$WORK/user.err")"
[ "$(grep -c "ptrace backend (" "$WORK/user.err")" -eq 1 ] || fail "fallback notice not one line"
expect_chain "$WORK/user.folded" hot_leaf_a "${ROOT_THREAD}worker_main;path_a;hot_leaf_a$" 100
assert_released "$UPID" "after unprivileged record"
finish
