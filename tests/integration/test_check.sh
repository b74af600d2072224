#!/usr/bin/env bash
# test_check.sh: `smolder check` on reports of real runs. check_workload does a fixed number of
# operations; CHECK_SLOW=1 makes each operation cost 40% more CPU, CHECK_LEAK_FACTOR=2 doubles its
# leak. The planted regressions must fail (exit 5, naming the metric), runs of the same build must
# pass against each other (every run against the median of the others: not flaky), bad budgets
# and reports must be exit 1 with one line, and the JUnit XML must validate against the JUnit
# schema (xmllint) and hold one test case per metric (python3's XML parser).
source "$(dirname "$0")/lib.sh"
require_root_bpf
command -v xmllint >/dev/null || { echo "FAIL: xmllint missing (apt-get install libxml2-utils)" >&2; exit 1; }
XSD="$(dirname "$0")/junit.xsd"
W="$FIXTURES/check_workload"
OPS=20000
cd "$WORK" || exit 1

# record_run NAME [ENV...]: a launch-mode CPU profile of OPS operations.
record_run() {
	local name=$1
	shift
	env "$@" "$SMOLDER" record -F 499 -o "$name.json" -o "$name.folded" -- "$W" "$OPS" \
		>/dev/null 2>"$name.err" || fail "record $name: $(tail -n 2 "$name.err")"
}

for i in 1 2 3 4; do record_run "same$i"; done
record_run slow CHECK_SLOW=1

# the planted CPU regression fails, naming the metric
expect_exit 5 "40% slower path fails against three baselines" "$SMOLDER" check slow.json \
	--baseline same1.json --baseline same2.json --baseline same3.json --ops "$OPS" -o junit.xml
grep -q '^cpu_s_per_op .*FAIL$' "$WORK/out" && pass "table names cpu_s_per_op as FAIL" ||
	fail "table: $(cat "$WORK/out")"
grep -q 'check failed: cpu_s_per_op .* regressed' "$WORK/err" && pass "stderr names the metric" ||
	fail "stderr: $(cat "$WORK/err")"

# JUnit: valid against the schema, one test case per table row, the failure carries a message
if xmllint --noout --schema "$XSD" junit.xml 2>"$WORK/xsd.err"; then pass "JUnit validates against junit.xsd"; else
	fail "JUnit schema: $(head -c 400 "$WORK/xsd.err")"
fi
rows=$(($(wc -l <"$WORK/out") - 1))
if python3 - junit.xml "$rows" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
rows = int(sys.argv[2])
assert root.tag == "testsuites", root.tag
suites = root.findall("testsuite")
assert len(suites) == 1, len(suites)
cases = suites[0].findall("testcase")
assert len(cases) == rows == int(suites[0].get("tests")), (len(cases), rows)
failed = [c for c in cases if c.find("failure") is not None]
assert int(suites[0].get("failures")) == len(failed) == int(root.get("failures")) >= 1
names = {c.get("name") for c in failed}
assert "cpu_s_per_op" in names, names
msg = [c.find("failure").get("message") for c in failed if c.get("name") == "cpu_s_per_op"][0]
assert "cpu_s_per_op" in msg and "regressed" in msg, msg
PY
then pass "JUnit: one testcase per metric, the failure names cpu_s_per_op"; else fail "JUnit structure"; fi

# the same build passes: each run against the median of the three others
for i in 1 2 3 4; do
	bases=()
	for j in 1 2 3 4; do [ "$j" -ne "$i" ] && bases+=(--baseline "same$j.json"); done
	expect_exit 0 "same build, run $i against the other three" "$SMOLDER" check "same$i.json" \
		"${bases[@]}" --ops "$OPS"
done

# a function's share, from folded and JSON alike: compute_result holds ~half the CPU, more when slow
cat >share.json <<'B'
{"checks": [{"metric": "function_share", "function": "compute_res.*", "regex": true,
             "max_regression_percent": 10}]}
B
expect_exit 5 "function_share regression (folded input)" "$SMOLDER" check slow.folded \
	--baseline same1.folded --baseline same2.folded --baseline same3.folded --budget share.json
grep -q '^function_share\[compute_res\.\*\] .*FAIL$' "$WORK/out" && pass "function_share row fails" ||
	fail "function_share: $(cat "$WORK/out")"
expect_exit 0 "function_share same build (JSON)" "$SMOLDER" check same4.json \
	--baseline same1.json --baseline same2.json --baseline same3.json --budget share.json

# the doubled leak fails on leaked bytes per 100 operations
LOPS=3000
"$SMOLDER" leaks -i 250ms -o leak1.json -- "$W" "$LOPS" 1000 >/dev/null 2>leak1.err ||
	fail "leaks run 1: $(tail -n 2 leak1.err)"
env CHECK_LEAK_FACTOR=2 "$SMOLDER" leaks -i 250ms -o leak2.json -- "$W" "$LOPS" 1000 \
	>/dev/null 2>leak2.err || fail "leaks run 2: $(tail -n 2 leak2.err)"
expect_exit 5 "doubled leak fails" "$SMOLDER" check leak2.json --baseline leak1.json --ops "$LOPS"
grep -q '^leaked_bytes_per_100_ops .*FAIL$' "$WORK/out" && pass "leaked_bytes_per_100_ops FAIL" ||
	fail "leak table: $(cat "$WORK/out")"
cat >leakbudget.json <<'B'
{"ops": 3000, "checks": [{"metric": "leaked_bytes_per_100_ops", "max": 40000},
                         {"metric": "peak_rss_bytes", "max": 524288000}]}
B
expect_exit 0 "leak budget holds for the base run" "$SMOLDER" check leak1.json --budget leakbudget.json
expect_exit 5 "leak budget fails for the doubled leak" "$SMOLDER" check leak2.json --budget leakbudget.json
grep -q "leaked_bytes_per_100_ops .* over the budget's max" "$WORK/err" &&
	pass "budget failure message" || fail "budget message: $(cat "$WORK/err")"

# bad input: exit 1 and one line naming the problem
printf '{"checks": [{"metric": "cpu_s_per_op", "max": 1,}]}' >bad1.json
expect_exit 1 "budget with a JSON syntax error" "$SMOLDER" check same1.json --budget bad1.json
one_line "budget syntax" "bad1.json: invalid JSON at line 1 column"
printf '{"checks": [{"metric": "cpu_per_op", "max": 1}]}' >bad2.json
expect_exit 1 "budget with an unknown metric" "$SMOLDER" check same1.json --budget bad2.json
one_line "unknown metric" 'unknown metric "cpu_per_op"'
printf '{"checks": [{"metric": "peak_rss_bytes", "max": 1}]}' >bad3.json
expect_exit 1 "budget metric the report lacks" "$SMOLDER" check same1.json --budget bad3.json
one_line "missing metric" "peak_rss_bytes: record report has no RSS series"
head -c 300 same1.json >truncated.json
expect_exit 1 "truncated report" "$SMOLDER" check truncated.json
one_line "truncated report" "truncated.json: invalid JSON"
printf '{"hello": "world"}\n' >other.json
expect_exit 1 "JSON that is no report" "$SMOLDER" check other.json
one_line "not a report" "not a smolder record, leaks or profile report"
expect_exit 1 "missing baseline file" "$SMOLDER" check same1.json --baseline nope.json
one_line "missing file" "cannot open nope.json"
expect_exit 1 "check -o with a non-XML name" "$SMOLDER" check same1.json -o out.json
expect_exit 1 "no CURRENT" "$SMOLDER" check
[ ! -e out.json ] && pass "no output on usage errors" || fail "out.json written"
finish
