#!/usr/bin/env bash
# record_overhead.sh: what `smolder record` costs the profiled program and the machine. Runs the
# 2-thread CPU-bound fixture bench_spin unprofiled and profiled (attached with -p) at 99 Hz and
# 999 Hz, interleaved so that background load on the shared machine hits every configuration
# alike, and reports throughput relative to unprofiled (goals: >= 99% at 99 Hz, >= 97% at 999 Hz),
# plus smolder's own CPU time and peak RSS (from /usr/bin/time). Run as root after building.
# Env: SECONDS_PER_RUN (default 5), ROUNDS (default 3), BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
secs=${SECONDS_PER_RUN:-5}
rounds=${ROUNDS:-3}
smolder=$build/smolder
spin=$build/tests/fixtures/bench_spin
work=$(mktemp -d /tmp/smolder-bench-overhead.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Throughput two ways: units per wall second (what the service sees, but other load on the shared
# machine moves it by tens of percent) and units per CPU second of the fixture (insensitive to
# other load; the profiler's interrupt-time work is charged to the task it interrupts).
run_plain() {
	"$spin" "$secs" | awk '{ printf "%d %.0f\n", $2, $2 / $4 }'
}

# run_profiled HZ: prints "UNITS UNITS_PER_CPU_S SMOLDER_CPU_S SMOLDER_MAXRSS_KB SAMPLES".
run_profiled() {
	local hz=$1 pid units
	"$spin" "$secs" >"$work/spin.out" &
	pid=$!
	/usr/bin/time -f "%U %S %M" -o "$work/time" \
		"$smolder" record -q -p "$pid" -F "$hz" -o "$work/p.folded" 2>"$work/err" || true
	wait "$pid"
	units=$(awk '{ printf "%d %.0f", $2, $2 / $4 }' "$work/spin.out")
	read -r user sys rss <"$work/time"
	echo "$units $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }') $rss $(awk '{ s += $NF } END { print s + 0 }' "$work/p.folded")"
}

declare -A units ucpu cpu rss samples
for cfg in plain 99 999; do units[$cfg]=""; ucpu[$cfg]=""; cpu[$cfg]=""; rss[$cfg]=""; samples[$cfg]=""; done
for r in $(seq "$rounds"); do
	read -r u uc < <(run_plain)
	units[plain]+="$u "; ucpu[plain]+="$uc "
	for hz in 99 999; do
		read -r u uc c m s < <(run_profiled "$hz")
		units[$hz]+="$u "; ucpu[$hz]+="$uc "; cpu[$hz]+="$c "; rss[$hz]+="$m "; samples[$hz]+="$s "
	done
	echo "round $r: units plain ${units[plain]}| 99 Hz ${units[99]}| 999 Hz ${units[999]}" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
base=$(echo "${units[plain]}" | median)
cbase=$(echo "${ucpu[plain]}" | median)
echo "bench_spin ${secs}s x $rounds rounds, 2 threads; unprofiled median $base units, $cbase units/CPU-s"
for hz in 99 999; do
	m=$(echo "${units[$hz]}" | median)
	cm=$(echo "${ucpu[$hz]}" | median)
	echo "$hz Hz: throughput $(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.1f%%", 100 * a / b }') of unprofiled (wall)," \
		"$(awk -v a="$cm" -v b="$cbase" 'BEGIN { printf "%.1f%%", 100 * a / b }') (per CPU second);" \
		"smolder CPU $(echo "${cpu[$hz]}" | median) s per ${secs}s run" \
		"($(awk -v c="$(echo "${cpu[$hz]}" | median)" -v s="$secs" 'BEGIN { printf "%.2f%%", 100 * c / s }') of one core);" \
		"peak RSS $(echo "${rss[$hz]}" | median) KiB; samples $(echo "${samples[$hz]}" | median)"
done
