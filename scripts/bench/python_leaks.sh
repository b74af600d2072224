#!/usr/bin/env bash
# python_leaks.sh: what `smolder leaks` costs a Python service and how exact its Python leak rate
# is. Run as root after building. Two parts, one run (Debian's python3):
#  1. Throughput kept by python_service.py --depth 30 --alloc (each unit allocates and frees a
#     1 KiB bytearray through malloc, 30 Python frames deep: every allocation walks the Python
#     chain in BPF) while `leaks` is attached, rounds interleaved with unprofiled runs; then
#     side by side with an untracked twin (same machine load).
#  2. Leak-rate error: tests/fixtures/python/leak_cache.py leaks 4097 bytes per 10 ms tick on a
#     fixed schedule (409700 B/s); the rate `leaks` gives its Python line, and the bounded cache's
#     verdict.
# Env: SECONDS_PER_RUN (default 6), ROUNDS (default 3), BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
secs=${SECONDS_PER_RUN:-6}
rounds=${ROUNDS:-3}
smolder=$(realpath "$build/smolder")
service=$(realpath scripts/bench/python_service.py)
work=$(mktemp -d /tmp/smolder-bench-pyleaks.XXXXXX)
trap 'rm -rf "$work"' EXIT

run_once() { # plain|leaks: prints "UNITS_PER_WALL_S UNITS_PER_CPU_S"
	/usr/bin/python3 "$service" "$secs" --depth 30 --alloc >"$work/svc.out" 2>&1 &
	local svc=$!
	for _ in $(seq 100); do grep -q ready "$work/svc.out" && break; sleep 0.05; done
	if [ "$1" = leaks ]; then
		"$smolder" leaks -q -p "$svc" -o "$work/l.json" >/dev/null 2>&1 || true
	fi
	wait "$svc" || true
	awk '/^units/ { printf "%.0f %.0f\n", $2 / $4, $2 / $6 }' "$work/svc.out"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A wall cpu
for cfg in plain leaks; do wall[$cfg]=""; cpu[$cfg]=""; done
for r in $(seq "$rounds"); do
	for cfg in plain leaks; do
		read -r w c < <(run_once "$cfg")
		wall[$cfg]+="$w "; cpu[$cfg]+="$c "
	done
	echo "round $r: units/s plain ${wall[plain]}| leaks ${wall[leaks]}" >&2
done
walks=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(t.get("python_walks",0), t.get("allocs",0))' "$work/l.json")
echo "leaks attached to python_service.py --depth 30 --alloc: throughput" \
	"$(awk -v a="$(echo "${wall[leaks]}" | median)" -v b="$(echo "${wall[plain]}" | median)" 'BEGIN { printf "%.1f%%", 100 * a / b }') of unprofiled (wall)," \
	"$(awk -v a="$(echo "${cpu[leaks]}" | median)" -v b="$(echo "${cpu[plain]}" | median)" 'BEGIN { printf "%.1f%%", 100 * a / b }') per CPU second;" \
	"python walks / tracked allocations in the last run: $walks; median of $rounds rounds of ${secs}s"

# The same side by side: two identical services at once, `leaks` on one of them (its uprobes are
# the process's own: the twin pays nothing), so that both run under the same machine load; rounds
# run one after another (above) see the shared machine's load change by more than the effect.
pair_once() { # leaks|plain: prints "WALL_RATIO CPU_RATIO" (first service / its twin)
	local a b
	/usr/bin/python3 "$service" "$secs" --depth 30 --alloc >"$work/pa.out" 2>&1 &
	a=$!
	/usr/bin/python3 "$service" "$secs" --depth 30 --alloc >"$work/pb.out" 2>&1 &
	b=$!
	for _ in $(seq 100); do grep -q ready "$work/pa.out" && break; sleep 0.05; done
	if [ "$1" = leaks ]; then
		"$smolder" leaks -q -p "$a" -o "$work/pl.json" >/dev/null 2>&1 || true
	fi
	wait "$a" "$b" || true
	paste <(awk '/^units/ { print $2 / $4, $2 / $6 }' "$work/pa.out") \
		<(awk '/^units/ { print $2 / $4, $2 / $6 }' "$work/pb.out") |
		awk '{ printf "%.4f %.4f\n", $1 / $3, $2 / $4 }'
}
# "plain" pairs track neither service: their ratios are the noise floor of this measurement.
declare -A pwall pcpu
for cfg in plain leaks; do pwall[$cfg]=""; pcpu[$cfg]=""; done
for r in $(seq "$rounds"); do
	for cfg in plain leaks; do
		read -r w c < <(pair_once "$cfg")
		pwall[$cfg]+="$w "; pcpu[$cfg]+="$c "
	done
	echo "pair round $r: first/twin per CPU s: none tracked ${pcpu[plain]}| leaks ${pcpu[leaks]}" >&2
done
for cfg in plain leaks; do
	echo "side by side, $cfg: throughput $(echo "${pwall[$cfg]}" | median | awk '{ printf "%.1f%%", 100 * $1 }') of the untracked twin's (wall)," \
		"$(echo "${pcpu[$cfg]}" | median | awk '{ printf "%.1f%%", 100 * $1 }') per CPU second; median of $rounds pairs of ${secs}s, single pairs" \
		"$(echo "${pcpu[$cfg]}" | tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f-%.1f%%", 100 * lo, 100 * hi }')"
done

cp tests/fixtures/python/leak_cache.py "$work/"
(cd "$work" && exec /usr/bin/python3 leak_cache.py < <(sleep $((secs * 2 + 5))) >"$work/lc.out" 2>&1) &
lc=$!
for _ in $(seq 100); do grep -q ready "$work/lc.out" 2>/dev/null && break; sleep 0.05; done
"$smolder" leaks -q -p "$lc" -d $((secs * 2)) -i 0.5 -o "$work/lc.json" >/dev/null 2>&1 || true
kill "$lc" 2>/dev/null || true
python3 - "$work/lc.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
want = 4097 / 0.01
leak = [s for s in r["sites"] if any(f.startswith("leak_step (leak_cache.py:") for f in s["stack"])
        and s["stack"][-1] == "malloc"]
cache = [s for s in r["sites"] if any(f.startswith("cache_step (leak_cache.py:") for f in s["stack"])
         and s["stack"][-1] == "malloc" and s["outstanding_bytes"] > 100000]
rate = leak[0]["growth_bytes_per_s"] if leak else 0
print(f"leak rate at leak_step: {rate:.0f} B/s, expected {want:.0f}: error {100 * (rate - want) / want:+.2f}%;"
      f" verdict {leak[0]['verdict'] if leak else None}; bounded cache: {[s['verdict'] for s in cache]}"
      f" ({r['duration_s']:.0f} s run)")
PY
