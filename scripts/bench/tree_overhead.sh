#!/usr/bin/env bash
# tree_overhead.sh: what following a process tree costs. Two measurements, run as root after
# building:
#  1. Throughput (requests/s from wrk) of a 4-worker gunicorn (sync workers, a CPU-bound handler)
#     unprofiled, with the whole tree recorded (`record -p MASTER --children`, 99 Hz) and
#     leak-tracked (`leaks -p MASTER --children`: every worker's allocations, each in its own
#     books), and with one worker recorded (`record -p WORKER`, 99 Hz) plus `leaks` on it.
#     Configurations are interleaved over ROUNDS so background load hits each alike.
#  2. Following fork/exec: a loop that forks and execs /bin/true 100 times a second for SECONDS,
#     launched plainly, under `smolder record` and under `smolder leaks` (children followed by
#     default): the loop's mean fork+exec+wait latency and smolder's CPU time per fork.
# Env: SECONDS_PER_RUN (default 8), ROUNDS (default 3), BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
secs=${SECONDS_PER_RUN:-8}
rounds=${ROUNDS:-3}
smolder=$(realpath "$build/smolder")
work=$(mktemp -d /tmp/smolder-bench-tree.XXXXXX)
master=""
cleanup() {
	[ -n "$master" ] && kill "$master" 2>/dev/null && wait "$master" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/app.py" <<'EOF'
def app(environ, start_response):
    total = 0
    for i in range(20000):
        total += i * i % 7
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(total).encode()]
EOF
port=$((20000 + RANDOM % 20000))
(cd "$work" && exec gunicorn -w 4 -b "127.0.0.1:$port" app:app >"$work/gunicorn.log" 2>&1) &
master=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
worker=$(pgrep -P "$master" | head -1)

# load: prints requests/s of a wrk run of secs seconds.
load() {
	wrk -t2 -c8 -d"${secs}s" "http://127.0.0.1:$port/" | awk '/^Requests\/sec/ { print $2 }'
}

# profiled MODE: load while smolder watches (tree: record and leak-track the whole tree; one:
# record and leak-track one worker); prints "REQ_PER_S SMOLDER_CPU_S".
profiled() {
	local mode=$1 rec_pid leaks_pid rps
	if [ "$mode" = tree ]; then
		/usr/bin/time -f "%U %S" -o "$work/rec.time" "$smolder" record -q -p "$master" \
			--children -F 99 -d $((secs + 2)) -o "$work/rec.folded" &
		rec_pid=$!
		/usr/bin/time -f "%U %S" -o "$work/leaks.time" "$smolder" leaks -q -p "$master" \
			--children -d $((secs + 2)) -o "$work/leaks.json" >/dev/null &
		leaks_pid=$!
	else
		/usr/bin/time -f "%U %S" -o "$work/rec.time" "$smolder" record -q -p "$worker" \
			-F 99 -d $((secs + 2)) -o "$work/rec.folded" &
		rec_pid=$!
		/usr/bin/time -f "%U %S" -o "$work/leaks.time" "$smolder" leaks -q -p "$worker" \
			-d $((secs + 2)) -o "$work/leaks.json" >/dev/null &
		leaks_pid=$!
	fi
	sleep 1.5
	rps=$(load)
	wait "$rec_pid" "$leaks_pid" || true
	echo "$rps $(cat "$work/rec.time" "$work/leaks.time" | awk '{ s += $1 + $2 } END { print s }')"
}

declare -A rps cpu
for cfg in plain tree one; do rps[$cfg]=""; cpu[$cfg]=""; done
for r in $(seq "$rounds"); do
	rps[plain]+=" $(load)"
	read -r a b < <(profiled tree)
	rps[tree]+=" $a"
	cpu[tree]+=" $b"
	read -r a b < <(profiled one)
	rps[one]+=" $a"
	cpu[one]+=" $b"
	echo "round $r: plain ${rps[plain]##* } req/s, tree ${rps[tree]##* }, one worker ${rps[one]##* }" >&2
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
p=$(echo "${rps[plain]}" | median)
echo "gunicorn -w 4 under wrk -t2 -c8, ${secs}s runs, median of $rounds:"
echo "  unprofiled:                          $p req/s"
for cfg in tree one; do
	v=$(echo "${rps[$cfg]}" | median)
	c=$(echo "${cpu[$cfg]}" | median)
	label=$([ "$cfg" = tree ] && echo "whole tree recorded + leak-tracked" || echo "one worker recorded + leak-tracked")
	printf "  %-36s %s req/s (%.1f%% of unprofiled); smolder CPU %.2f s per run\n" "$label:" \
		"$v" "$(awk -v v="$v" -v p="$p" 'BEGIN { print 100 * v / p }')" "$c"
done
kill "$master" && wait "$master" 2>/dev/null || true
master=""

# --- fork/exec at 100/s ---
cat >"$work/forker.py" <<'EOF'
import os, sys, time
secs, rate = float(sys.argv[1]), 100.0
end, n, spent = time.monotonic() + secs, 0, 0.0
while time.monotonic() < end:
    t = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.execv("/bin/true", ["true"])
    os.waitpid(pid, 0)
    spent += time.monotonic() - t
    n += 1
    time.sleep(max(0.0, 1.0 / rate - (time.monotonic() - t)))
print(n, spent / n * 1e6)
EOF
echo "fork+exec+wait of /bin/true at 100/s for ${secs}s:"
read -r n us < <(python3 "$work/forker.py" "$secs")
echo "  plain:            $n forks, mean $us us per fork+exec+wait"
/usr/bin/time -f "%U %S" -o "$work/fork.time" "$smolder" record -q -F 99 -o "$work/fork.folded" \
	-- python3 "$work/forker.py" "$secs" >"$work/fork.out"
read -r n2 us2 <"$work/fork.out"
c=$(awk '{ print $1 + $2 }' "$work/fork.time")
echo "  under record:     $n2 forks, mean $us2 us per fork+exec+wait; smolder CPU $c s" \
	"($(awk -v c="$c" -v n="$n2" 'BEGIN { printf "%.0f", c / n * 1e6 }') us per followed fork)"
/usr/bin/time -f "%U %S" -o "$work/fork.time" "$smolder" leaks -q -o "$work/fork.json" \
	-- python3 "$work/forker.py" "$secs" >"$work/fork.out"
read -r n3 us3 < <(grep -E '^[0-9]+ [0-9.]+$' "$work/fork.out")
c=$(awk '{ print $1 + $2 }' "$work/fork.time")
echo "  under leaks:      $n3 forks, mean $us3 us per fork+exec+wait; smolder CPU $c s" \
	"($(awk -v c="$c" -v n="$n3" 'BEGIN { printf "%.0f", c / n * 1e6 }') us per followed fork)"
