#!/usr/bin/env bash
# node_record_overhead.sh: what `smolder record` costs a CPU-bound node process. Runs the request
# loop of tests/fixtures/js/node_app.js (handleRequest -> renderPage -> computeChecksum, JIT code
# unwound by frame pointer and named from its perf map) for SECONDS_PER_RUN unprofiled and
# profiled (attached with -p) at 99 Hz and 999 Hz, interleaved so background load hits every
# configuration alike; reports requests per wall second and per CPU second of node relative to
# unprofiled, smolder's CPU time and peak RSS, and the symbolization time of the run.
# Env: SECONDS_PER_RUN (default 5), ROUNDS (default 3), BUILD_DIR (default build),
# NODE_FLAGS (default --perf-basic-prof). Run as root after building.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
secs=${SECONDS_PER_RUN:-5}
rounds=${ROUNDS:-3}
flags=${NODE_FLAGS---perf-basic-prof}
smolder=$build/smolder
app=$PWD/tests/fixtures/js/node_app.js
work=$(mktemp -d /tmp/smolder-bench-node.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work" # node --perf-basic-prof writes isolate-*-v8.log files into its working directory
smolder=$OLDPWD/$smolder
[ "${build:0:1}" = / ] && smolder=$build/smolder

# "REQUESTS REQUESTS_PER_CPU_S" from the fixture's last line.
parse() { awk '/^requests/ { printf "%d %.0f\n", $2, $2 / $6 }' "$1"; }

run_plain() {
	local pid
	# shellcheck disable=SC2086
	node $flags "$app" bench "$secs" >"$work/plain.out" &
	pid=$!
	wait "$pid" || true
	rm -f "/tmp/perf-$pid.map"
	parse "$work/plain.out"
}

# run_profiled HZ: "REQUESTS REQUESTS_PER_CPU_S SMOLDER_CPU_S SMOLDER_MAXRSS_KB SAMPLES SYM_S".
run_profiled() {
	local hz=$1 pid
	# shellcheck disable=SC2086
	node $flags "$app" bench "$secs" >"$work/node.out" &
	pid=$!
	sleep 0.3
	/usr/bin/time -f "%U %S %M" -o "$work/time" \
		"$smolder" record -p "$pid" -F "$hz" -o "$work/p.folded" 2>"$work/err" || true
	wait "$pid" || true
	rm -f "/tmp/perf-$pid.map"
	read -r user sys rss <"$work/time"
	echo "$(parse "$work/node.out") $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }') $rss" \
		"$(awk '{ s += $NF } END { print s + 0 }' "$work/p.folded")" \
		"$(sed -n 's/.*unique addresses in \([0-9.]*\) s.*/\1/p' "$work/err")"
}

declare -A units ucpu cpu rss samples sym
for cfg in plain 99 999; do units[$cfg]=""; ucpu[$cfg]=""; cpu[$cfg]=""; rss[$cfg]=""; samples[$cfg]=""; sym[$cfg]=""; done
for r in $(seq "$rounds"); do
	read -r u uc < <(run_plain)
	units[plain]+="$u "; ucpu[plain]+="$uc "
	for hz in 99 999; do
		read -r u uc c m s y < <(run_profiled "$hz")
		units[$hz]+="$u "; ucpu[$hz]+="$uc "; cpu[$hz]+="$c "; rss[$hz]+="$m "; samples[$hz]+="$s "; sym[$hz]+="$y "
	done
	echo "round $r: requests plain ${units[plain]}| 99 Hz ${units[99]}| 999 Hz ${units[999]}" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
base=$(echo "${units[plain]}" | median)
cbase=$(echo "${ucpu[plain]}" | median)
echo "node request loop ${secs}s x $rounds rounds, node flags '$flags'; unprofiled median $base requests, $cbase requests/CPU-s"
for hz in 99 999; do
	m=$(echo "${units[$hz]}" | median)
	cm=$(echo "${ucpu[$hz]}" | median)
	echo "$hz Hz: throughput $(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.1f%%", 100 * a / b }') of unprofiled (wall)," \
		"$(awk -v a="$cm" -v b="$cbase" 'BEGIN { printf "%.1f%%", 100 * a / b }') (per CPU second);" \
		"smolder CPU $(echo "${cpu[$hz]}" | median) s, peak RSS $(($(echo "${rss[$hz]}" | median) / 1024)) MiB," \
		"$(echo "${samples[$hz]}" | median) samples, symbolized in $(echo "${sym[$hz]}" | median) s"
done
