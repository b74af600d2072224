#!/usr/bin/env bash
# test_check_profile.sh: `smolder check` on real `smolder profile` reports (on-CPU samples, the
# kernel's CPU accounting, allocation tracking and the /proc timeline in one run). check_workload
# does a fixed number of operations; CHECK_SLOW=1 makes each one cost 40% more CPU,
# CHECK_LEAK_FACTOR=2 doubles its leak. The planted regressions must fail (exit 5) naming
# cpu_s_per_op / leaked_bytes_per_100_ops; every same-build run must pass against the three
# others with every default check (each run in turn: not flaky; a single baseline is not enough
# for the leak verdicts of runs this short, see README "Noise"); a budget on a profile report
# holds or fails by its numbers; off-CPU share gates; malformed budgets and reports are exit 1
# with one line.
source "$(dirname "$0")/lib.sh"
require_root_bpf
W="$FIXTURES/check_workload"
OPS=20000
cd "$WORK" || exit 1

# profile_run NAME OPS [RATE] [ENV...]: a launch-mode profile of OPS operations, the count given.
# CPU runs go as fast as the CPU allows (~1.5 s: CPU per op is steadiest); leak runs at 1000
# operations/s for 3 s, so the growth analysis has 12 points and the leak verdict is steady.
profile_run() {
	local name=$1 ops=$2 rate=$3
	shift 3
	env "$@" "$SMOLDER" profile -F 499 -i 250ms --ops "$ops" -o "$name.json" -- "$W" "$ops" \
		$rate >/dev/null 2>"$name.err" || fail "profile $name: $(tail -n 2 "$name.err")"
}

for i in 1 2 3 4; do profile_run "same$i" "$OPS" ""; done
profile_run slow "$OPS" "" CHECK_SLOW=1
LOPS=3000
for i in 1 2 3; do profile_run "leak$i" "$LOPS" 1000; done
profile_run leaky "$LOPS" 1000 CHECK_LEAK_FACTOR=2

# the reports are profile reports with per-operation figures and the kernel's CPU accounting
python3 - same1.json <<'PY' && pass "profile report: per_op, cpu_s_measured, memory sites" ||
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ops"] == 20000, d["ops"]
assert d["per_op"]["cpu_s"] > 0 and d["per_op"]["leaked_bytes"] > 128, d["per_op"]
assert d["cpu"]["cpu_s_measured"] is True, d["cpu"]
assert any(s["verdict"] == "leak" for s in d["memory"]["sites"]), d["memory"]["sites"][:2]
PY
	fail "profile report content: $(head -c 300 same1.json)"

# the planted CPU regression fails against three baselines, naming the metric
expect_exit 5 "40% slower path fails" "$SMOLDER" check slow.json --baseline same1.json \
	--baseline same2.json --baseline same3.json -o junit.xml
grep -q '^cpu_s_per_op .*FAIL$' "$WORK/out" && pass "table names cpu_s_per_op as FAIL" ||
	fail "table: $(cat "$WORK/out")"
grep -q 'check failed: cpu_s_per_op .* regressed' "$WORK/err" && pass "stderr names cpu_s_per_op" ||
	fail "stderr: $(cat "$WORK/err")"
grep -q '^leaked_bytes_per_100_ops .* pass$' "$WORK/out" && pass "the slow run's leak still passes" ||
	fail "slow run leak row: $(cat "$WORK/out")"
grep -q 'name="cpu_s_per_op"' junit.xml && grep -q '<failure' junit.xml &&
	pass "JUnit holds the failed cpu_s_per_op case" || fail "junit: $(head -c 400 junit.xml)"

# the doubled leak fails on leaked bytes per 100 operations (per_op.leaked_bytes of the report)
# ("defaults": false: this gate only, plus the drop gate; the RSS growth per op of 3000-op launched
# runs holds their start-up, see README "Noise")
printf '{"defaults": false, "checks": [{"metric": "leaked_bytes_per_100_ops", "max_regression_percent": 10}]}' >leak.json
expect_exit 5 "doubled leak fails" "$SMOLDER" check leaky.json --baseline leak1.json \
	--baseline leak2.json --baseline leak3.json --budget leak.json
grep -q '^leaked_bytes_per_100_ops .*FAIL$' "$WORK/out" && pass "leaked_bytes_per_100_ops FAIL" ||
	fail "leak table: $(cat "$WORK/out")"
expect_exit 0 "same-build leak run passes" "$SMOLDER" check leak3.json --baseline leak1.json \
	--baseline leak2.json --budget leak.json
[ "$(grep -c . "$WORK/out")" -eq 3 ] && grep -q '^dropped_ratio ' "$WORK/out" &&
	pass "\"defaults\": false: the named check and the drop gate only" ||
	fail "defaults false: $(cat "$WORK/out")"

# the same build passes: each run against the three others (default checks: per-op forms)
for i in 1 2 3 4; do
	bases=()
	for j in 1 2 3 4; do [ "$j" -ne "$i" ] && bases+=(--baseline "same$j.json"); done
	expect_exit 0 "same build, run $i against the other three" "$SMOLDER" check "same$i.json" \
		"${bases[@]}"
	grep -q '^cpu_s_per_op ' "$WORK/out" && grep -q '^leaked_bytes_per_100_ops ' "$WORK/out" ||
		fail "run $i: the per-op rows are missing: $(cat "$WORK/out")"
done

# absolute budgets on a profile report: 256 B leaked per operation = 25600 per 100 operations
cat >budget.json <<'B'
{"checks": [{"metric": "leaked_bytes_per_100_ops", "max": 40000},
            {"metric": "cpu_s_per_op", "max": 0.01},
            {"metric": "function_share", "function": "compute_result", "max": 0.9},
            {"metric": "dropped_ratio", "max": 0.01}]}
B
expect_exit 0 "budget holds for the base runs" "$SMOLDER" check same1.json --budget budget.json
expect_exit 0 "budget holds for the base leak run" "$SMOLDER" check leak1.json --budget budget.json
expect_exit 5 "budget fails for the doubled leak" "$SMOLDER" check leaky.json --budget budget.json
grep -q "leaked_bytes_per_100_ops .* over the budget's max" "$WORK/err" &&
	pass "budget failure names leaked_bytes_per_100_ops" || fail "budget message: $(cat "$WORK/err")"
printf '{"checks": [{"metric": "function_share", "function": "compute_result", "max_regression_percent": 10}]}' >share.json
expect_exit 5 "compute_result's share grows in the slow run" "$SMOLDER" check slow.json \
	--baseline same1.json --baseline same2.json --baseline same3.json --budget share.json
grep -q '^function_share\[compute_result\] .*FAIL$' "$WORK/out" && pass "function_share row fails" ||
	fail "function_share: $(cat "$WORK/out")"

# off-CPU share: offcpu_mix's sleeper is off CPU ~70% of the time and its main thread waits in
# pthread_join throughout, so far more than half of the threads' time is off CPU
"$SMOLDER" profile -F 499 --no-memory -o off.json -- "$FIXTURES/offcpu_mix" 2 sleep >/dev/null \
	2>off.err || fail "profile offcpu_mix: $(tail -n 2 off.err)"
printf '{"checks": [{"metric": "off_cpu_share", "max": 0.5}]}' >off_budget.json
expect_exit 5 "off_cpu_share over 0.5 fails" "$SMOLDER" check off.json --budget off_budget.json
grep -q '^off_cpu_share .*FAIL$' "$WORK/out" && pass "off_cpu_share row fails" ||
	fail "off_cpu_share: $(cat "$WORK/out")"
printf '{"checks": [{"metric": "off_cpu_share", "max": 0.99}]}' >off_budget2.json
expect_exit 0 "off_cpu_share under 0.99 holds" "$SMOLDER" check off.json --budget off_budget2.json
python3 -c 'import json; d = json.load(open("off.json")); d.pop("off_cpu"); json.dump(d, open("nooff.json", "w"))'
expect_exit 1 "off_cpu_share of a report without off-CPU data" "$SMOLDER" check nooff.json \
	--budget off_budget.json
one_line "no off-CPU data" "off_cpu_share"

# bad input: exit 1 and one line naming the problem
printf '{"checks": [{"metric": "cpu_s_per_op", "max": "fast"}]}' >bad1.json
expect_exit 1 "budget with a non-numeric max" "$SMOLDER" check same1.json --budget bad1.json
one_line "non-numeric max" "bad1.json"
printf '{"checks": [{"metric": "cpu_s_per_op", "maximum": 1}]}' >bad2.json
expect_exit 1 "budget with an unknown key" "$SMOLDER" check same1.json --budget bad2.json
one_line "unknown key" "maximum"
head -c 500 same1.json >cut.json
expect_exit 1 "truncated profile report" "$SMOLDER" check cut.json --baseline same2.json
one_line "truncated report" "cut.json: invalid JSON"
python3 -c 'import json; d = json.load(open("same1.json")); d["per_op"]["cpu_s"] = "x"; d["ops"] = None; json.dump(d, open("odd.json", "w"))'
printf '{"checks": [{"metric": "cpu_s_per_op", "max": 1}]}' >cpu.json
expect_exit 1 "profile report without a usable operation count" "$SMOLDER" check odd.json --budget cpu.json
one_line "no ops" "cpu_s_per_op"
finish
