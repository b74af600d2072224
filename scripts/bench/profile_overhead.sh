#!/usr/bin/env bash
# profile_overhead.sh [BUILD_DIR] [SECONDS] [ROUNDS]: throughput the demo service keeps under wrk
# load (2 threads, 4 connections, the four request paths in turn, SECONDS per run) while being
# profiled, side by side in one run: nothing attached; `smolder profile` (CPU + allocations +
# timeline); `smolder profile --ops-probe route_request` (the same plus a uprobe per request);
# `smolder profile --no-memory`; `smolder record` + `smolder leaks` side by side; `perf record -g`
# (99 Hz, frame pointers: what the distro's perf does by default). Prints requests/s per mode
# (median over ROUNDS, modes interleaved so machine noise spreads evenly) and the share of the
# unprofiled throughput, and smolder profile's own CPU seconds and peak RSS. Run as root.
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
cat >"$tmp/paths.lua" <<'LUA'
local paths = {"/hash", "/sort", "/render", "/session"}
local i = 0
request = function()
	i = i + 1
	return wrk.format("GET", paths[(i % #paths) + 1])
end
LUA
wrk_cmd="wrk -t2 -c4 -d${seconds}s -s $tmp/paths.lua http://127.0.0.1:$port/"
$wrk_cmd >/dev/null # warm-up: the session cache fills

rate() { sed -nE 's/^Requests\/sec: *([0-9.]+).*/\1/p' | awk '{ printf "%.0f\n", $1 }'; }
smolder_cost() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["smolder"]; print("%.2f s CPU, %.0f MiB" % (d["cpu_s"], d["max_rss_bytes"] / 2**20))' "$1"; }

declare -A results
run_mode() {
	case $1 in
	none) $wrk_cmd | rate ;;
	profile | profile-probe | profile-nomem)
		local extra=""
		[ "$1" = profile-nomem ] && extra=--no-memory
		[ "$1" = profile-probe ] && extra="--ops-probe route_request"
		"$smolder" -q profile -p "$server" $extra -o "$tmp/p.json" \
			--during "$wrk_cmd >$tmp/load.out" 2>/dev/null
		# run_mode runs in a command substitution: the cost goes through a file.
		echo -n "$(smolder_cost "$tmp/p.json"); " >>"$tmp/cost.$1"
		rate <"$tmp/load.out" ;;
	record+leaks)
		"$smolder" -q record -p "$server" -o "$tmp/r.folded" 2>/dev/null &
		local r=$!
		"$smolder" -q leaks -p "$server" -o "$tmp/l.json" >/dev/null 2>&1 &
		local l=$!
		sleep 1.5 # both attached
		$wrk_cmd | rate
		kill -INT $r $l
		wait $r $l ;;
	perf)
		perf record -g -F 99 -p "$server" -o "$tmp/perf.data" >/dev/null 2>&1 &
		local p=$!
		sleep 1
		$wrk_cmd | rate
		kill -INT $p
		wait $p ;;
	esac
}

modes="none profile profile-probe profile-nomem record+leaks perf"
for r in $(seq "$rounds"); do
	for m in $modes; do
		results[$m]+="$(run_mode "$m") "
	done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
base=$(echo "${results[none]}" | median)
printf "%-14s %12s %8s   (demo_server 2 threads, wrk -t2 -c4, %s s x %s rounds, load %s)\n" \
	mode "requests/s" share "$seconds" "$rounds" "$(cut -d' ' -f1-3 /proc/loadavg)"
for m in $modes; do
	v=$(echo "${results[$m]}" | median)
	printf "%-14s %12s %7.1f%%   runs: %s%s\n" "$m" "$v" \
		"$(echo "$v $base" | awk '{ print 100 * $1 / $2 }')" "${results[$m]}" \
		"$([ -s "$tmp/cost.$m" ] && echo "  smolder: $(cat "$tmp/cost.$m")")"
done
