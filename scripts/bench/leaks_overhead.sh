#!/bin/bash
# leaks_overhead.sh: what allocation tracking costs the target and the tool.
#  1. Throughput of a malloc-bound 2-thread fixture (tests/fixtures/malloc_bench.c): alone, under
#     `smolder leaks`, and under bpftrace doing memleak-style tracking (uprobe + uretprobe on malloc
#     with ustack, uprobe on free) -- same fixture, same run of this script.
#  2. smolder's own CPU time and peak RSS while 1M live allocations are tracked
#     (tests/fixtures/live_million.c).
# usage: scripts/bench/leaks_overhead.sh [BUILD_DIR]   (root; build first)
set -uo pipefail
BUILD=${1:-build}
SMOLDER=$BUILD/smolder
FX=$BUILD/tests/fixtures
SECONDS_RUN=${BENCH_SECONDS:-5}
LIBC=$(ldconfig -p | awk '/libc.so.6 .*x86-64/ {print $NF; exit}')
WORK=$(mktemp -d /tmp/smolder-bench-leaks.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# Mean ops/s over seconds FROM..TO of a malloc_bench output (the tracer is attached by then).
window_ops() { awk -v a="$2" -v b="$3" '$1=="sec" && $2>=a && $2<=b {s+=$4; n++} END {printf "%.0f", n ? s/n : 0}' "$1"; }
RUN=${BENCH_SECONDS:-10}
FROM=4
TO=$((RUN - 2))
kept() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", 100*a/b}'; }
# CPU time of a running process in clock ticks, and its "sec" lines so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
sec_lines() { grep -c '^sec' "$1"; }
# Fixture CPU per op over ~3 s from now: load-independent, unlike ops/s on a shared machine.
# Prints microseconds of the fixture's CPU (user + system: uprobe traps and BPF run there) per op.
cpu_per_op() {
	local pid=$1 out=$2 c0 c1 s0 s1
	[ -n "$pid" ] || { printf "n/a"; return; }
	c0=$(cpu_ticks "$pid"); s0=$(sec_lines "$out")
	sleep 3
	c1=$(cpu_ticks "$pid"); s1=$(sec_lines "$out")
	awk -v a="$s0" -v b="$s1" -v c=$((c1 - c0)) -v t="$(getconf CLK_TCK)" \
		'$1=="sec" && $2>=a && $2<b {s+=$4} END {if (s) printf "%.2f", c/t*1e6/s; else printf "n/a"}' "$out"
}
wait_for() { for _ in $(seq 150); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

echo "== malloc-bound fixture, 2 threads, ${RUN}s runs, throughput over seconds $FROM..$TO"
"$FX/malloc_bench" 2 "$RUN" >"$WORK/base.out"
BASE=$(window_ops "$WORK/base.out" $FROM $TO)
echo "baseline:        $BASE ops/s (one op = free + malloc)"

# smolder attaches to the running fixture at t=1s, like to a service.
"$FX/malloc_bench" 2 "$RUN" >"$WORK/smolder.out" &
BENCH=$!
sleep 1
"$SMOLDER" leaks -p "$BENCH" -o "$WORK/bench.json" >/dev/null 2>"$WORK/smolder.err" &
SMPID=$!
wait_for "tracking allocations" "$WORK/smolder.err"
sleep 1
SM_CPU=$(cpu_per_op "$BENCH" "$WORK/smolder.out")
wait "$BENCH"
wait "$SMPID"
SM=$(window_ops "$WORK/smolder.out" $FROM $TO)
TRACKED=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(t["allocs"], "allocs,", t["frees"], "frees tracked,", t["lost_events"], "lost,", t["stacks_throttled"], "stacks throttled")' "$WORK/bench.json")
echo "smolder leaks:   $SM ops/s ($(kept "$SM" "$BASE")% kept; $TRACKED)"
echo "smolder leaks:   $SM_CPU us of fixture CPU per malloc+free pair (3 s window after attach)"

cat >"$WORK/memleak.bt" <<BT
uprobe:$LIBC:malloc /pid == cpid/ { @size[tid] = arg0; @stack[tid] = ustack; }
uretprobe:$LIBC:malloc /pid == cpid/ { @bytes[retval] = @size[tid]; @where[retval] = @stack[tid]; }
uprobe:$LIBC:free /pid == cpid/ { delete(@bytes[arg0]); delete(@where[arg0]); }
END { clear(@size); clear(@stack); clear(@bytes); clear(@where); }
BT
bpftrace -c "$FX/malloc_bench 2 $RUN" "$WORK/memleak.bt" >"$WORK/bt.out" 2>"$WORK/bt.err" &
BTPID=$!
wait_for "^sec 1 " "$WORK/bt.out"
BT_CPU=$(cpu_per_op "$(pgrep -P "$BTPID" -f malloc_bench | head -1)" "$WORK/bt.out")
wait "$BTPID"
BT=$(window_ops "$WORK/bt.out" $FROM $TO)
echo "bpftrace:        $BT ops/s ($(kept "$BT" "$BASE")% kept)"
echo "bpftrace:        $BT_CPU us of fixture CPU per malloc+free pair"
awk -v s="$SM" -v b="$BT" 'BEGIN{ if (b > 0) printf "smolder keeps %.1fx the throughput bpftrace keeps\n", s/b }'

echo "== smolder with 1M live tracked allocations (12 s run)"
"$FX/live_million" 1000000 2 >"$WORK/live.out" &
LIVE=$!
/usr/bin/time -f "smolder: %U s user, %S s system, peak RSS %M KiB, wall %e s" \
	"$SMOLDER" leaks -q -p "$LIVE" -d 12 -o "$WORK/live.json" >/dev/null 2>"$WORK/time.err"
kill "$LIVE" 2>/dev/null
wait "$LIVE" 2>/dev/null
tail -1 "$WORK/time.err"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); t=r["totals"]; print("tracked live:", t["outstanding_allocs"], "allocations,", t["outstanding_bytes"], "bytes; complete:", r["complete"])' "$WORK/live.json"
