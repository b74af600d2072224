#!/usr/bin/env bash
# python_tree.sh: what reading Python frames in every process of a tree costs, and how much of a
# tree's Python time gets named. Run as root after building.
#  1. Throughput (wrk requests/s) of a 4-worker gunicorn (sync workers, a CPU-bound Python
#     handler) unprofiled, with the whole tree recorded (`record -p MASTER --children -F 99`: each
#     worker's Python frames read with its own config) and with one worker recorded
#     (`record -p WORKER -F 99`), interleaved over ROUNDS; smolder's CPU per run.
#  2. Coverage with workers replaced all the time (gunicorn --max-requests 50, a new worker every
#     ~50 requests): of the workers' samples, the share whose stack holds the app's Python function
#     (forked workers get the master's config copied at their fork), and the samples of processes
#     not examined yet (the summary's count).
#  3. What examining one process costs (python_open_bench): python_runtime_open on a non-Python
#     process and on Debian's python3, and python_runtime_fork (a forked worker's copy).
# Env: SECONDS_PER_RUN (default 8), ROUNDS (default 3), BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
secs=${SECONDS_PER_RUN:-8}
rounds=${ROUNDS:-3}
smolder=$(realpath "$build/smolder")
work=$(mktemp -d /tmp/smolder-bench-pytree.XXXXXX)
master=""
cleanup() {
	[ -n "$master" ] && kill "$master" 2>/dev/null && wait "$master" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/app.py" <<'EOF'
def handle(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(handle(20000)).encode()]
EOF
# Below the ephemeral port range (wrk's client ports).
port=$((20000 + RANDOM % 12000))

# start_gunicorn ARGS...: starts gunicorn on $port in $work, sets master.
start_gunicorn() {
	(cd "$work" && exec gunicorn -b "127.0.0.1:$port" "$@" app:app >"$work/gunicorn.log" 2>&1) &
	master=$!
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
}

# load: requests/s of a wrk run of secs seconds.
load() {
	wrk -t2 -c8 -d"${secs}s" "http://127.0.0.1:$port/" | awk '/^Requests\/sec/ { print $2 }'
}

# profiled PID ARGS...: load while `record -p PID ARGS` runs; prints "REQ_PER_S SMOLDER_CPU_S".
profiled() {
	local pid=$1 rec rps
	shift
	/usr/bin/time -f "%U %S" -o "$work/rec.time" "$smolder" record ${QUIET-"-q"} -p "$pid" "$@" -F 99 \
		-d $((secs + 2)) -o "$work/rec.folded" 2>"$work/rec.err" &
	rec=$!
	sleep 1.5
	rps=$(load)
	wait "$rec" || true
	echo "$rps $(awk '{ print $1 + $2 }' "$work/rec.time")"
}

start_gunicorn -w 4
worker=$(pgrep -P "$master" | head -1)
declare -A rps cpu
for cfg in plain tree one; do rps[$cfg]=""; cpu[$cfg]=""; done
for r in $(seq "$rounds"); do
	rps[plain]+=" $(load)"
	read -r a b < <(profiled "$master" --children)
	rps[tree]+=" $a"
	cpu[tree]+=" $b"
	read -r a b < <(profiled "$worker")
	rps[one]+=" $a"
	cpu[one]+=" $b"
	echo "round $r: plain ${rps[plain]##* } req/s, tree ${rps[tree]##* }, one worker ${rps[one]##* }" >&2
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
p=$(echo "${rps[plain]}" | median)
echo "gunicorn -w 4 under wrk -t2 -c8, ${secs}s runs, median of $rounds:"
echo "  unprofiled:                               $p req/s"
for cfg in tree one; do
	v=$(echo "${rps[$cfg]}" | median)
	c=$(echo "${cpu[$cfg]}" | median)
	label=$([ "$cfg" = tree ] && echo "whole tree recorded, Python in all 4" ||
		echo "one worker recorded (its Python)")
	printf "  %-40s %s req/s (%.1f%% of unprofiled); smolder CPU %.2f s per run\n" "$label:" \
		"$v" "$(awk -v v="$v" -v p="$p" 'BEGIN { print 100 * v / p }')" "$c"
done
kill "$master" && wait "$master" 2>/dev/null || true
master=""

# --- coverage while workers are replaced ---
start_gunicorn -w 2 --max-requests 50
read -r a b < <(QUIET="" profiled "$master" --children)
awk -v m="$master" '{ n = $NF; split($0, f, ";"); if (f[1] == "gunicorn [" m "]") next
	t += n; if ($0 ~ /;handle \(app\.py:[0-9]+\)/) h += n
	if ($0 ~ /\.py:[0-9]+\)/) py += n; split(f[1], r, "["); w[r[2]] = 1 }
	END { printf "gunicorn -w 2 --max-requests 50, whole tree recorded %ss: %d workers, %d samples; " \
		"%.1f%% hold Python frames, %.1f%% under handle (app.py)\n", '"$secs"', length(w), t,
		t ? 100 * py / t : 0, t ? 100 * h / t : 0 }' "$work/rec.folded"
grep -o '[0-9]* samples taken before their process was examined' "$work/rec.err" | sed 's/^/  /' || true
grep -o '[0-9]* frames unnamed ([0-9]* stale' "$work/rec.err" | sed 's/^/  /' || true
echo "  requests/s while recorded: $a; smolder CPU $b s"

# --- examining one process ---
sleep 20 &
other=$!
/usr/bin/python3 -c 'import time; time.sleep(20)' &
py=$!
sleep 0.5
"$build/python_open_bench" "$other" 200
"$build/python_open_bench" "$py" 50
kill "$other" "$py" 2>/dev/null || true
wait "$other" "$py" 2>/dev/null || true
