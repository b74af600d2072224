#!/usr/bin/env bash
# profile_overhead.sh [BUILD_DIR] [SECONDS] [ROUNDS]: throughput the demo service keeps under load
# (demo_load, 4 connections, SECONDS per run) while being profiled, side by side in one run:
# nothing attached; `smolder profile` (CPU + allocations + timeline); `smolder profile --no-memory`;
# `smolder record` + `smolder leaks` side by side; `perf record -g` (frame pointers, 99 Hz).
# Prints requests/s per mode (median over ROUNDS, modes interleaved so machine noise spreads
# evenly) and the share of the unprofiled throughput. Run as root.
set -uo pipefail
build=${1:-build}
seconds=${2:-8}
rounds=${3:-3}
fix=$build/tests/fixtures
smolder=$build/smolder
tmp=$(mktemp -d)
port=18680
while ss -ltn "sport = :$port" | grep -q LISTEN; do port=$((port + 1)); done
"$fix/demo_server" "$port" 2 >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do ss -ltn "sport = :$port" | grep -q LISTEN && break; sleep 0.1; done
"$fix/demo_load" "$port" 3 4 >/dev/null # warm-up: the session cache fills

load() { "$fix/demo_load" "$port" "$seconds" 4 | sed -nE 's/.* ([0-9]+) requests in ([0-9.]+) s.*/\1 \2/p'; }
rate() { awk '{ printf "%.0f\n", $1 / $2 }'; }

run_mode() {
	case $1 in
	none) load | rate ;;
	profile | profile-nomem)
		local extra=""
		[ "$1" = profile-nomem ] && extra=--no-memory
		"$smolder" -q profile -p "$server" $extra -o "$tmp/p.json" \
			--during "$fix/demo_load $port $seconds 4 >$tmp/load.out" 2>/dev/null
		sed -nE 's/.* ([0-9]+) requests in ([0-9.]+) s.*/\1 \2/p' "$tmp/load.out" | rate ;;
	record+leaks)
		"$smolder" -q record -p "$server" -o "$tmp/r.folded" 2>/dev/null &
		local r=$!
		"$smolder" -q leaks -p "$server" -o "$tmp/l.json" >/dev/null 2>&1 &
		local l=$!
		sleep 1.5 # both attached
		load | rate
		kill -INT $r $l
		wait $r $l ;;
	perf)
		perf record -g -F 99 -p "$server" -o "$tmp/perf.data" >/dev/null 2>&1 &
		local p=$!
		sleep 1
		load | rate
		kill -INT $p
		wait $p ;;
	esac
}

modes="none profile profile-nomem record+leaks perf"
declare -A results
for r in $(seq "$rounds"); do
	for m in $modes; do
		results[$m]+="$(run_mode "$m") "
	done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
base=$(echo "${results[none]}" | median)
printf "%-14s %12s %8s   (demo_server 2 threads, demo_load 4 connections, %s s x %s rounds)\n" \
	mode "requests/s" share "$seconds" "$rounds"
for m in $modes; do
	v=$(echo "${results[$m]}" | median)
	printf "%-14s %12s %7.1f%%   runs: %s\n" "$m" "$v" "$(echo "$v $base" | awk '{ print 100 * $1 / $2 }')" "${results[$m]}"
done
