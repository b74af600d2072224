#!/usr/bin/env bash
# profile_overhead.sh [BUILD_DIR] [SECONDS] [ROUNDS]: throughput the demo service keeps under wrk
# load (2 threads, 4 connections, the four request paths in turn, SECONDS per run) while being
# profiled, side by side in one run: nothing attached; `smolder profile` (CPU + allocations +
# timeline); `smolder profile --ops-probe route_request` (the same plus a uprobe per request);
# `smolder profile --no-memory`; `smolder record` + `smolder leaks` side by side; `perf record -g`
# (99 Hz, frame pointers: what the distro's perf does by default). Prints per mode (median over
# ROUNDS, modes interleaved so machine noise spreads evenly) requests/s and requests per CPU second
# of the server (/proc/PID/stat utime+stime over the load: on a shared machine wall-clock rates
# swing with the neighbours, while the profiler's in-process cost - BPF programs run in the
# target's context - shows as CPU per request), each as a share of the unprofiled figure, and
# smolder profile's own CPU seconds and peak RSS. Run as root.
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
# The server's CPU seconds so far (utime + stime).
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$server/stat"; }
# wrk output on stdin, server CPU seconds used: "REQ/S REQ-PER-CPU-S".
figures() {
	local out cpu=$1
	out=$(cat)
	echo "$(echo "$out" | rate) $(echo "$out" | sed -nE 's/^ *([0-9]+) requests in.*/\1/p' | awk -v c="$cpu" '{ printf "%.0f", (c > 0 ? $1 / c : 0) }')"
}
smolder_cost() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["smolder"]; print("%.2f s CPU, %.0f MiB" % (d["cpu_s"], d["max_rss_bytes"] / 2**20))' "$1"; }

declare -A results percpu
run_mode() {
	case $1 in
	none) $wrk_cmd ;;
	profile | profile-probe | profile-nomem)
		local extra=""
		[ "$1" = profile-nomem ] && extra=--no-memory
		[ "$1" = profile-probe ] && extra="--ops-probe route_request"
		rm -f "$tmp/p.json" "$tmp/load.out" # a failed run must not reuse the last one's
		if ! "$smolder" -q profile -p "$server" $extra -o "$tmp/p.json" \
			--during "$wrk_cmd >$tmp/load.out" 2>"$tmp/err"; then
			echo "$1 failed: $(head -c 300 "$tmp/err")" >&2
			return
		fi
		# run_mode runs in a command substitution: the cost goes through a file.
		echo -n "$(smolder_cost "$tmp/p.json"); " >>"$tmp/cost.$1"
		cat "$tmp/load.out" ;;
	record+leaks)
		"$smolder" -q record -p "$server" -o "$tmp/r.folded" 2>/dev/null &
		local r=$!
		"$smolder" -q leaks -p "$server" -o "$tmp/l.json" >/dev/null 2>&1 &
		local l=$!
		sleep 1.5 # both attached
		$wrk_cmd
		kill -INT $r $l
		wait $r $l ;;
	perf)
		perf record -g -F 99 -p "$server" -o "$tmp/perf.data" >/dev/null 2>&1 &
		local p=$!
		sleep 1
		$wrk_cmd
		kill -INT $p
		wait $p ;;
	esac
}

modes="none profile profile-probe profile-nomem record+leaks perf"
for r in $(seq "$rounds"); do
	for m in $modes; do
		c0=$(server_cpu)
		out=$(run_mode "$m")
		c1=$(server_cpu)
		read -r rps per_cpu <<<"$(echo "$out" | figures "$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')")"
		results[$m]+="$rps "
		percpu[$m]+="$per_cpu "
	done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
base=$(echo "${results[none]}" | median)
base_cpu=$(echo "${percpu[none]}" | median)
printf "%-14s %10s %7s %12s %7s   (demo_server 2 threads, wrk -t2 -c4, %s s x %s rounds, load %s)\n" \
	mode "req/s" share "req/CPU-s" share "$seconds" "$rounds" "$(cut -d' ' -f1-3 /proc/loadavg)"
for m in $modes; do
	v=$(echo "${results[$m]}" | median)
	c=$(echo "${percpu[$m]}" | median)
	printf "%-14s %10s %6.1f%% %12s %6.1f%%   req/s runs: %s req/CPU-s runs: %s\n" "$m" "$v" \
		"$(echo "$v $base" | awk '{ print 100 * $1 / $2 }')" "$c" \
		"$(echo "$c $base_cpu" | awk '{ print 100 * $1 / $2 }')" "${results[$m]}" "${percpu[$m]}"
	[ -s "$tmp/cost.$m" ] && echo "               smolder: $(cat "$tmp/cost.$m")"
done
exit 0
