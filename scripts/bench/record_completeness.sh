#!/usr/bin/env bash
# record_completeness.sh: stack completeness of `smolder record` next to `perf record --call-graph
# dwarf` with its default 8 KiB stack copy and with the largest copy perf accepts (65528 bytes), on
# the record fixtures (built -O2 -g -fomit-frame-pointer), and output size next to perf.data.
# A stack is complete when its root frame is the thread's entry (_start, or clone3/clone for
# threads). Per-task perf events do not fire on this machine, so perf records system-wide (-a) and
# its samples are filtered by PID; its perf.data size is scaled to the target's share of samples.
# Env: SECONDS_PER_RUN (default 3), HZ (default 499), STACK_COPY (smolder copy bytes, default
# built-in), BUILD_DIR (default build), FIXTURE_LIST (default: all six, record_bigframe_debugframe
# being record_bigframe built with .debug_frame only). Run as root after building.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
secs=${SECONDS_PER_RUN:-3}
hz=${HZ:-499}
smolder=$(realpath "$build/smolder")
fixtures=$(realpath "$build/tests/fixtures")
work=$(mktemp -d /tmp/smolder-bench-completeness.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT

ROOTS='^(_start|clone3|__clone3|clone|__clone)$'

# folded_complete FILE: "COMPLETE TOTAL" by root frame.
folded_complete() {
	awk -v roots="$ROOTS" '{ n = $NF; split($0, f, ";"); sub(/ [0-9]+$/, "", f[1]);
		total += n; if (f[1] ~ roots) ok += n } END { print ok + 0, total + 0 }' "$1"
}

# perf_complete PERFDATA PID: "COMPLETE TOTAL ALL" (ALL: samples of every process).
perf_complete() {
	local all
	all=$(perf script -i "$1" -F tid 2>/dev/null | wc -l)
	perf script -i "$1" --pid "$2" -F comm,tid,ip,sym 2>/dev/null | awk -v roots="$ROOTS" -v all="$all" '
		/^[^ \t]/ { if (inside) { total++; if (last ~ roots) ok++ } inside = 1; last = ""; next }
		/^[ \t]+[0-9a-f]+ / { s = $2; last = s; next }
		END { if (inside) { total++; if (last ~ roots) ok++ } print ok + 0, total + 0, all }'
}

printf "%-26s %22s %22s %22s %12s %14s\n" fixture smolder "perf dwarf 8K" "perf dwarf 64K" \
	"smolder out" "perf.data/tgt"
for fixture in ${FIXTURE_LIST:-record_threads record_sharedlib record_qsort record_bigframe record_bigframe_debugframe record_cpp}; do
	"$fixtures/$fixture" 60 >/dev/null &
	pid=$!
	pids+=("$pid")
	sleep 0.5
	SMOLDER_STACK_COPY=${STACK_COPY:-} "$smolder" record -q -p "$pid" -F "$hz" -d "$secs" \
		-o "$work/s.folded" 2>"$work/s.err"
	read -r s_ok s_total < <(folded_complete "$work/s.folded")
	cols=()
	sizes=()
	for copy in 8192 65528; do
		perf record -q -a --call-graph "dwarf,$copy" -F "$hz" -o "$work/perf.data" \
			-- sleep "$secs" >/dev/null 2>&1
		read -r p_ok p_total p_all < <(perf_complete "$work/perf.data" "$pid")
		cols+=("$(awk -v a="$p_ok" -v b="$p_total" 'BEGIN { printf "%d/%d %5.1f%%", a, b, b ? 100 * a / b : 0 }')")
		sizes+=("$(stat -c %s "$work/perf.data") $p_total $p_all")
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	# perf.data bytes attributable to the target (64K run): size * target samples / all samples.
	read -r psize ptgt pall <<<"${sizes[1]}"
	printf "%-26s %22s %22s %22s %10s B %12s B\n" "$fixture" \
		"$(awk -v a="$s_ok" -v b="$s_total" 'BEGIN { printf "%d/%d %5.1f%%", a, b, b ? 100 * a / b : 0 }')" \
		"${cols[0]}" "${cols[1]}" "$(stat -c %s "$work/s.folded")" \
		"$(awk -v s="$psize" -v t="$ptgt" -v a="$pall" 'BEGIN { printf "%d", a ? s * t / a : 0 }')"
done
