#!/usr/bin/env bash
# offcpu_cost.sh [BUILD_DIR] [SECONDS] [ROUNDS]: what off-CPU time costs at a high context-switch
# rate. The fixture offcpu_mix pingpong bounces a byte between two threads over two pipes as fast
# as it can (each round trip blocks each thread once: two blocks, two switches out and in), and
# prints its round trips per second. Side by side in one run, modes interleaved over ROUNDS (median
# reported; the machine is shared): nothing attached; `profile --no-memory --no-off-cpu` (on-CPU
# sampling only); `profile --no-memory` (off-CPU on: sched_switch per switch, stacks for blocks
# >= 1 ms, shorter ones sampled); and the worst case SMOLDER_OFFCPU_MIN_BLOCK_US=1 (a user stack
# for nearly every block). Prints per mode the rate, the cost per block against the mode without
# off-CPU (ns = (1/rate - 1/rate_base) / 2), and from the report: blocks measured, off-CPU records
# sent, lost (ring buffer full) and without a user stack, and with BPF_STATS=1 the off-CPU
# programs' own run time per block measured by the kernel (kernel.bpf_stats_enabled is set to 1
# for the run and restored after; it is machine-wide, so other BPF users pay its small cost
# meanwhile). The rate-based figure includes everything (tracepoint dispatch, ring buffer, the
# consumer's unwinding competing for the 2 CPUs); the BPF figure is the programs alone, including
# their runs for the machine's other switches and syscalls. Run as root.
set -uo pipefail
build=${1:-build}
seconds=${2:-5}
rounds=${3:-3}
fix=$build/tests/fixtures
smolder=$build/smolder
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

modes="none cpu-only offcpu offcpu-all"
if [ "${BPF_STATS:-0}" = 1 ]; then
	old_stats=$(cat /proc/sys/kernel/bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=1
	trap 'sysctl -qw kernel.bpf_stats_enabled=$old_stats; rm -rf "$tmp"' EXIT
fi
run_mode() { # MODE ROUND -> prints round trips/s; report in $tmp/MODE.ROUND.json
	local out=$tmp/$1.$2
	case $1 in
	none) "$fix/offcpu_mix" "$seconds" pingpong >"$out.out" ;;
	cpu-only) "$smolder" -q profile -d $((seconds + 10)) --no-memory --no-off-cpu \
		-o "$out.json" -- "$fix/offcpu_mix" "$seconds" pingpong >"$out.out" 2>/dev/null ;;
	offcpu) "$smolder" -q profile -d $((seconds + 10)) --no-memory \
		-o "$out.json" -- "$fix/offcpu_mix" "$seconds" pingpong >"$out.out" 2>/dev/null ;;
	offcpu-all) SMOLDER_OFFCPU_MIN_BLOCK_US=1 "$smolder" -q profile -d $((seconds + 10)) \
		--no-memory -o "$out.json" -- "$fix/offcpu_mix" "$seconds" pingpong \
		>"$out.out" 2>/dev/null ;;
	esac
	sed -nE 's/^round_trips_per_s ([0-9]+)/\1/p' "$out.out"
}

declare -A rates
for r in $(seq "$rounds"); do
	for m in $modes; do
		rates[$m]="${rates[$m]:-} $(run_mode "$m" "$r")"
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : 0) }'; }
base=$(echo "${rates[cpu-only]}" | median)
none=$(echo "${rates[none]}" | median)
echo "offcpu_mix pingpong, ${seconds}s per run, median of $rounds (rates: round trips/s; 2 blocks each)"
printf "%-11s %12s %10s %14s %10s %9s %8s %8s %13s\n" mode round_trips/s vs_none ns/block_vs_cpu \
	blocks records lost no_ustack bpf_ns/block
for m in $modes; do
	rate=$(echo "${rates[$m]}" | median)
	cost="-"
	if [ "$m" = offcpu ] || [ "$m" = offcpu-all ]; then
		cost=$(awk -v a="$rate" -v b="$base" 'BEGIN { if (a > 0 && b > 0) printf "%.0f", (1 / a - 1 / b) / 2 * 1e9; else print "-" }')
	fi
	stats="- - - - -"
	if [ -s "$tmp/$m.$rounds.json" ]; then
		stats=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
o = d.get("off_cpu")
if not o:
    print("- - - - -")
else:
    dr = d["dropped"]
    bpf = "%.0f" % (o["bpf_run_ns"] / o["blocks"]) if o.get("bpf_run_ns") and o["blocks"] else "-"
    print(o["blocks"], o["records"], dr["off_cpu_records"], dr["off_cpu_no_user_stack"], bpf)' "$tmp/$m.$rounds.json")
	fi
	# shellcheck disable=SC2086
	printf "%-11s %12s %9.1f%% %14s %10s %9s %8s %8s %13s\n" "$m" "$rate" \
		"$(awk -v a="$rate" -v b="$none" 'BEGIN { print (b > 0 ? 100 * a / b : 0) }')" "$cost" $stats
done
echo "rates per round:"
for m in $modes; do echo "  $m:${rates[$m]}"; done
