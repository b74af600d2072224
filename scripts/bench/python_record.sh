#!/usr/bin/env bash
# python_record.sh: what `smolder record` costs a Python service, and how its Python shares
# compare with perf's. Run as root after building. Three parts, one run:
#  1. BPF cost per sample (kernel.bpf_stats_enabled: run_time_ns / run_cnt of profile_sample) with
#     the Python walk at a 30-deep call chain (python_service.py --depth 30, Debian's python3), and
#     on the native bench_spin fixture (no walk) for reference. Goal <= 5 us.
#  2. Throughput kept by the CPU-bound Python service at 99 Hz and 999 Hz (units per wall second
#     and per CPU second of the serving thread, rounds interleaved with unprofiled runs). Goals
#     >= 99% and >= 97%. Then the same with the two runs side by side (2b), which the shared
#     machine's changing load cannot tell apart.
#  3. Accuracy next to perf: pyenv's python3.12 -X perf (perf-map trampolines name Python
#     functions), profiled in the same run by `perf record -a --call-graph dwarf` and by smolder;
#     share of each leaf Python function (innermost Python frame) of python_service.py --phases
#     (10/30/40/20% by construction). Goal: within 3 points of each other.
# Env: SECONDS_PER_RUN (default 6), ROUNDS (default 3), ACCURACY_SECONDS (default 8), BUILD_DIR
# (default build), PY312.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
secs=${SECONDS_PER_RUN:-6}
rounds=${ROUNDS:-3}
smolder=$(realpath "$build/smolder")
service=$(realpath scripts/bench/python_service.py)
py312=${PY312:-$(ls -d /root/.pyenv/versions/3.12.*/bin/python3 2>/dev/null | head -1)}
work=$(mktemp -d /tmp/smolder-bench-python.XXXXXX)
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled="$stats_before"; rm -rf "$work"' EXIT

# start_service PYTHON ARGS...: starts the service, waits for "ready", sets SVC.
start_service() {
	local python=$1
	shift
	"$python" "$@" >"$work/svc.out" 2>&1 &
	SVC=$!
	for _ in $(seq 100); do grep -q ready "$work/svc.out" && return; sleep 0.05; done
}

# prog_stats PID: "RUN_TIME_NS RUN_CNT" of the profile_sample program(s) smolder PID holds (its
# fds' prog_id in /proc/PID/fdinfo): other smolder runs on the machine load their own.
prog_stats() {
	local ids
	ids=$(grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -u | tr '\n' ' ')
	bpftool prog show -j | python3 -c '
import json, sys
ids = {int(x) for x in sys.argv[1].split()}
t = c = 0
for p in json.load(sys.stdin):
    if p.get("name") == "profile_sample" and p.get("id") in ids:
        t += p.get("run_time_ns", 0); c += p.get("run_cnt", 0)
print(t, c)' "$ids"
}

# bpf_cost CMD...: runs smolder record at 999 Hz on the already started $SVC and prints the BPF
# program's mean ns per run over the middle of the recording.
bpf_cost() {
	"$smolder" record -q -p "$SVC" -F 999 -d "$secs" -o "$work/cost.folded" &
	local rec=$!
	sleep 1.5
	read -r t0 c0 < <(prog_stats "$rec")
	sleep $((secs - 3))
	read -r t1 c1 < <(prog_stats "$rec")
	wait "$rec" || true
	awk -v t="$((t1 - t0))" -v c="$((c1 - c0))" 'BEGIN { if (c) printf "%.2f us over %d samples", t / c / 1000, c; else print "no samples" }'
}

sysctl -qw kernel.bpf_stats_enabled=1
start_service /usr/bin/python3 "$service" $((secs + 2)) --depth 30
py_cost=$(bpf_cost)
wait "$SVC" || true
depth=$(awk -F';' '{ n = 0; for (i = 1; i <= NF; i++) if ($i ~ /python_service\.py:[0-9]+\)$/) n++; if (n > m) m = n } END { print m + 0 }' "$work/cost.folded")
"$build/tests/fixtures/bench_spin" $((secs + 2)) >/dev/null &
SVC=$!
native_cost=$(bpf_cost)
wait "$SVC" || true
sysctl -qw kernel.bpf_stats_enabled="$stats_before"
echo "BPF cost per sample: Python service ($depth Python frames deep, Debian python3.11): $py_cost; native bench_spin (no walk): $native_cost"

# 2. Throughput.
run_once() { # HZ or plain: prints "UNITS_PER_WALL_S UNITS_PER_CPU_S"
	local hz=$1
	start_service /usr/bin/python3 "$service" "$secs" --depth 30
	if [ "$hz" != plain ]; then
		"$smolder" record -q -p "$SVC" -F "$hz" -o "$work/t.folded" 2>/dev/null || true
	fi
	wait "$SVC" || true
	awk '/^units/ { printf "%.0f %.0f\n", $2 / $4, $2 / $6 }' "$work/svc.out"
}
declare -A wall cpu
for cfg in plain 99 999; do wall[$cfg]=""; cpu[$cfg]=""; done
for r in $(seq "$rounds"); do
	for cfg in plain 99 999; do
		read -r w c < <(run_once "$cfg")
		wall[$cfg]+="$w "; cpu[$cfg]+="$c "
	done
	echo "round $r: units/s plain ${wall[plain]}| 99 Hz ${wall[99]}| 999 Hz ${wall[999]}" >&2
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for hz in 99 999; do
	echo "$hz Hz: throughput $(awk -v a="$(echo "${wall[$hz]}" | median)" -v b="$(echo "${wall[plain]}" | median)" 'BEGIN { printf "%.1f%%", 100 * a / b }') of unprofiled (wall)," \
		"$(awk -v a="$(echo "${cpu[$hz]}" | median)" -v b="$(echo "${cpu[plain]}" | median)" 'BEGIN { printf "%.1f%%", 100 * a / b }') (per CPU second of the serving thread); median of $rounds rounds of ${secs}s"
done

# 2b. The same, side by side: each round starts two identical services at once and records one of
# them, so that both run under the same machine load. Rounds run one after another (above) see the
# shared machine's load change between them by more than the effect measured. The unprofiled twin
# still takes the per-CPU cpu-clock interrupts and the BPF program's early return for a foreign
# tgid (the events sample every CPU), so this ratio leaves out that part of the cost: about 0.1%
# at 999 Hz (a timer interrupt of ~1 us per sample).
pair_once() { # HZ|plain: prints "WALL_RATIO CPU_RATIO" (first service / its twin)
	local hz=$1 a b
	/usr/bin/python3 "$service" "$secs" --depth 30 >"$work/pa.out" 2>&1 &
	a=$!
	/usr/bin/python3 "$service" "$secs" --depth 30 >"$work/pb.out" 2>&1 &
	b=$!
	for _ in $(seq 100); do grep -q ready "$work/pa.out" && break; sleep 0.05; done
	if [ "$hz" != plain ]; then
		"$smolder" record -q -p "$a" -F "$hz" -o "$work/p.folded" 2>/dev/null || true
	fi
	wait "$a" "$b" || true
	paste <(awk '/^units/ { print $2 / $4, $2 / $6 }' "$work/pa.out") \
		<(awk '/^units/ { print $2 / $4, $2 / $6 }' "$work/pb.out") |
		awk '{ printf "%.4f %.4f\n", $1 / $3, $2 / $4 }'
}
# "plain" pairs record neither service: their ratios are the noise floor of this measurement.
declare -A pwall pcpu
for hz in plain 99 999; do pwall[$hz]=""; pcpu[$hz]=""; done
for r in $(seq "$rounds"); do
	for hz in plain 99 999; do
		read -r w c < <(pair_once "$hz")
		pwall[$hz]+="$w "; pcpu[$hz]+="$c "
	done
	echo "pair round $r: first/twin per CPU s: none recorded ${pcpu[plain]}| 99 Hz ${pcpu[99]}| 999 Hz ${pcpu[999]}" >&2
done
for hz in plain 99 999; do
	echo "$hz Hz side by side: throughput $(echo "${pwall[$hz]}" | median | awk '{ printf "%.1f%%", 100 * $1 }') of the unprofiled twin's (wall)," \
		"$(echo "${pcpu[$hz]}" | median | awk '{ printf "%.1f%%", 100 * $1 }') (per CPU second); median of $rounds pairs of ${secs}s, single pairs" \
		"$(echo "${pcpu[$hz]}" | tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f-%.1f%%", 100 * lo, 100 * hi }')"
done

# 3. Accuracy next to perf.
if [ -z "$py312" ]; then
	echo "accuracy vs perf: skipped (no pyenv python 3.12; set PY312)"
	exit 0
fi
# ACCURACY_SECONDS (default 8): at 999 Hz on a loaded machine a 4 s window gave each tool ~1000
# samples of the service, whose sampling error alone (1.5 points on a 30% share) is half the goal.
acc=${ACCURACY_SECONDS:-8}
start_service "$py312" -X perf "$service" $((acc + 3)) --phases
perf record -q -a -F 999 --call-graph dwarf -o "$work/perf.data" -- sleep "$acc" 2>/dev/null &
perf_pid=$!
"$smolder" record -q -p "$SVC" -F 999 -d "$acc" -o "$work/acc.folded"
wait "$perf_pid" || true
wait "$SVC" || true
perf script -i "$work/perf.data" -F pid,ip,sym 2>/dev/null |
	awk -v pid="$SVC" '/^ *[0-9]+ *$/ { keep = ($1 == pid) } keep' >"$work/perf.txt" || true
python3 - "$work/perf.txt" "$work/acc.folded" <<'PY'
import re, sys
phases = ["phase_a", "phase_b", "phase_c", "phase_hash"]
def shares(counts):
    n = sum(counts.values())
    return n, {p: 100 * counts.get(p, 0) / max(n, 1) for p in phases}
# perf script: a sample header line, then frames leaf first; Python frames are py::NAME:FILE.
perf = {}
leaf = None
for line in open(sys.argv[1], errors="replace"):
    if not line.strip():
        if leaf in phases:
            perf[leaf] = perf.get(leaf, 0) + 1
        leaf = None
        continue
    m = re.search(r"py::([A-Za-z_0-9.<>]+):", line)
    if m and leaf is None:
        leaf = m.group(1)
if leaf in phases:
    perf[leaf] = perf.get(leaf, 0) + 1
ours = {}
for line in open(sys.argv[2], errors="replace"):
    frames, _, count = line.rstrip("\n").rpartition(" ")
    py = [re.match(r"^([^ ]+) \(.*python_service\.py:\d+\)$", f) for f in frames.split(";")]
    py = [m.group(1) for m in py if m]
    if py and py[-1] in phases:
        ours[py[-1]] = ours.get(py[-1], 0) + int(count)
np_, ps = shares(perf)
no, os_ = shares(ours)
print(f"accuracy vs perf (python3.12 -X perf, --call-graph dwarf, same run): perf {np_} samples, smolder {no}")
worst = 0
for p in phases:
    d = abs(ps[p] - os_[p])
    worst = max(worst, d)
    print(f"  {p:11s} perf {ps[p]:5.1f}%  smolder {os_[p]:5.1f}%  (by construction {dict(zip(phases, [10, 30, 40, 20]))[p]}%)  diff {d:.1f} points")
print(f"  largest difference {worst:.1f} points (goal <= 3)")
PY
