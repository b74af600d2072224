#!/usr/bin/env bash
# check_noise.sh [BUILD_DIR] [PAIRS] [record|profile]: the false-failure rate of `smolder check` on
# this machine:
# runs of the same build checked against each other must pass. Records PAIRS+1 launch-mode CPU
# profiles and PAIRS+1 leak reports of tests/fixtures/check_workload (fixed work), then counts
# failures of (a) PAIRS consecutive pairs with one baseline, (b) every run against the median of
# three others, each with the default 10% allowance; for CPU also with the sampled CPU time
# (samples / frequency, cpu_time_s removed) instead of the kernel's accounting, to show why check
# prefers the latter. Then the planted regressions (CHECK_SLOW=1: +40% CPU per op;
# CHECK_LEAK_FACTOR=2) against three baselines: how often they are caught. Run as root.
# With "profile": the same over PAIRS+1 `smolder profile` reports (on-CPU, kernel CPU accounting,
# allocations and timeline of one run each; every default check: per-op CPU, leak, RSS growth,
# peak RSS, drops) and planted regressions in profile runs.
set -uo pipefail
build=${1:-build}
pairs=${2:-20}
kind=${3:-record}
S="$build/smolder"
W="$build/tests/fixtures/check_workload"
OPS=20000
LOPS=3000
work=$(mktemp -d /tmp/smolder-check-noise.XXXXXX)
trap 'rm -rf "$work"' EXIT

runs=$((pairs + 1))
if [ "$kind" = profile ]; then
	prof() { # NAME [ENV...]
		local name=$1
		shift
		env "$@" "$S" -q profile -F 499 -i 250ms --ops "$OPS" -o "$work/$name.json" -- "$W" \
			"$OPS" >/dev/null 2>&1 || echo "  profile $name failed"
	}
	echo "check_noise: $runs profile runs of the same build (load: $(cut -d' ' -f1-3 /proc/loadavg))"
	for i in $(seq 1 "$runs"); do prof "prof$i"; done
	for i in 1 2 3; do
		prof "slow$i" CHECK_SLOW=1
		prof "leak$i" CHECK_LEAK_FACTOR=2
	done
	echo "  (load at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
fi
[ "$kind" = profile ] || echo "check_noise: $runs CPU runs and $runs leak runs of the same build (load: $(cut -d' ' -f1-3 /proc/loadavg))"
for i in $(seq 1 "$runs"); do
	[ "$kind" = profile ] && break
	"$S" -q record -F 499 -o "$work/cpu$i.json" -- "$W" "$OPS" >/dev/null 2>&1
	python3 - "$work/cpu$i.json" "$work/scpu$i.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["totals"].pop("cpu_time_s", None)
json.dump(d, open(sys.argv[2], "w"))
PY
	"$S" -q leaks -i 250ms -o "$work/mem$i.json" -- "$W" "$LOPS" 1000 >/dev/null 2>&1
done
for i in 1 2 3; do
	[ "$kind" = profile ] && break
	CHECK_SLOW=1 "$S" -q record -F 499 -o "$work/slow$i.json" -- "$W" "$OPS" >/dev/null 2>&1
	CHECK_LEAK_FACTOR=2 "$S" -q leaks -i 250ms -o "$work/leak$i.json" -- "$W" "$LOPS" 1000 \
		>/dev/null 2>&1
done

# rate PREFIX OPS: failures among consecutive pairs, and each run vs the median of 3 others
rate() {
	local p=$1 ops=$2 fail_pair=0 fail_med=0 i j n
	for i in $(seq 1 "$pairs"); do
		"$S" -q check "$work/$p$((i + 1)).json" --baseline "$work/$p$i.json" --ops "$ops" \
			>"$work/out" 2>&1 || { fail_pair=$((fail_pair + 1)); grep FAIL "$work/out" | sed 's/^/    /'; }
	done
	for i in $(seq 1 "$runs"); do
		local bases=()
		for n in 1 2 3; do
			j=$(((i + n - 1) % runs + 1))
			bases+=(--baseline "$work/$p$j.json")
		done
		"$S" -q check "$work/$p$i.json" "${bases[@]}" --ops "$ops" >"$work/out" 2>&1 ||
			{ fail_med=$((fail_med + 1)); grep FAIL "$work/out" | sed 's/^/    /'; }
	done
	echo "  $p: single baseline $fail_pair/$pairs pairs failed; median of 3: $fail_med/$runs failed"
}
echo "false failures (same build):"
if [ "$kind" = profile ]; then
	rate prof "$OPS"
	for what in slow:cpu_s_per_op leak:leaked_bytes_per_100_ops; do
		caught=0
		for i in 1 2 3; do
			"$S" -q check "$work/${what%%:*}$i.json" --baseline "$work/prof1.json" \
				--baseline "$work/prof2.json" --baseline "$work/prof3.json" >"$work/out" 2>&1
			if [ $? -eq 5 ] && grep -q "^${what#*:} .*FAIL" "$work/out"; then
				caught=$((caught + 1))
			else # why not: the row, and the site's verdict for a leak
				grep "^${what#*:} " "$work/out" | sed 's/^/    missed: /'
				python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print("    verdicts:", [(s["verdict"], s["outstanding_bytes"]) for s in d["memory"]["sites"][:2]])' \
					"$work/${what%%:*}$i.json" 2>/dev/null
			fi
		done
		echo "planted ${what%%:*} (profile) caught on ${what#*:}: $caught/3"
	done
	exit 0
fi
rate cpu "$OPS"
rate scpu "$OPS"
rate mem "$LOPS"
caught=0
for i in 1 2 3; do
	"$S" -q check "$work/slow$i.json" --baseline "$work/cpu1.json" --baseline "$work/cpu2.json" \
		--baseline "$work/cpu3.json" --ops "$OPS" >"$work/out" 2>&1
	[ $? -eq 5 ] && grep -q '^cpu_s_per_op .*FAIL' "$work/out" && caught=$((caught + 1))
done
echo "planted +40% CPU per op caught: $caught/3"
caught=0
for i in 1 2 3; do
	"$S" -q check "$work/leak$i.json" --baseline "$work/mem1.json" --baseline "$work/mem2.json" \
		--baseline "$work/mem3.json" --ops "$LOPS" >"$work/out" 2>&1
	[ $? -eq 5 ] && grep -q '^leaked_bytes_per_100_ops .*FAIL' "$work/out" && caught=$((caught + 1))
done
echo "planted doubled leak caught: $caught/3"
