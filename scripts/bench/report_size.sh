#!/usr/bin/env bash
# report_size.sh [BUILD_DIR] [SECONDS]: size and generation time of profile's HTML report.
# 1. A real run: `smolder profile` on the demo service during demo_load for SECONDS (default 60),
#    -o .html .json .folded (the off-CPU folded is written beside); the page's size by part
#    (timeline charts, each flame graph, the rest) and its generation time re-measured on the run's
#    own JSON and folded stacks (html_render_bench: median of 5 renders).
# 2. Synthetic 10-minute and 1-hour runs at the bounds a long run reaches: a timeline of 600 /
#    3600 points, 100 memory sites with 240-point series and 25-frame stacks, on-CPU folded stacks
#    of 20000 / 60000 unique lines and off-CPU of 5000 / 15000 (gen_folded.pl: a service's shape,
#    names up to ~60 characters).
# Side by side, the reference: the same on-CPU stacks as a standalone SVG from `smolder flamegraph`
# (no frame budget, minwidth 0.1 px), which is what the page would carry without its bounds.
# Run as root (the real run attaches with eBPF).
set -uo pipefail
build=${1:-build}
seconds=${2:-60}
cd "$(dirname "$0")/../.." || exit 1
smolder=$build/smolder
bench=$build/html_render_bench
fix=$build/tests/fixtures
for f in "$smolder" "$bench" "$fix/demo_server" "$fix/demo_load"; do
	[ -x "$f" ] || { echo "report_size.sh: $f missing: build first" >&2; exit 1; }
done
work=$(mktemp -d /tmp/smolder-report-size.XXXXXX)
server=""
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT

# parts HTML: bytes of the page by part.
parts() {
	python3 - "$1" <<'PY'
import re, sys
page = open(sys.argv[1]).read()
def span(pattern):
    m = re.search(pattern, page, re.S)
    return len(m.group(0)) if m else 0
charts = span(r'<section id="timeline">.*?</section>')
graphs = {g: span(r'<svg id="%s-svg".*?</svg>' % g) for g in ("cpu", "offcpu", "mem")}
frames = {g: len(re.findall(r'<g sm:x=', re.search(r'<svg id="%s-svg".*?</svg>' % g, page, re.S).group(0)))
          if re.search(r'<svg id="%s-svg"' % g, page) else 0 for g in ("cpu", "offcpu", "mem")}
rest = len(page) - charts - sum(graphs.values())
print("    page %.0f KiB: timeline %.0f KiB, on-CPU graph %.0f KiB (%d frames), off-CPU %.0f KiB "
      "(%d frames), memory %.0f KiB (%d frames), rest %.0f KiB" %
      (len(page) / 1024, charts / 1024, graphs["cpu"] / 1024, frames["cpu"],
       graphs["offcpu"] / 1024, frames["offcpu"], graphs["mem"] / 1024, frames["mem"], rest / 1024))
PY
}

# kib FILE: its size in KiB.
kib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { print b / 1024 }'; }

# reference FOLDED: the standalone SVG of the same stacks (size, time).
reference() {
	local t0 t1
	t0=$(date +%s%N)
	"$smolder" flamegraph "$1" -o "$work/ref.svg" 2>/dev/null
	t1=$(date +%s%N)
	printf '    reference: smolder flamegraph SVG of the on-CPU stacks: %.0f KiB in %.0f ms\n' \
		"$(kib "$work/ref.svg")" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1e6 }')"
}

# --- 1. real run ------------------------------------------------------------------------------
port=18780
while ss -ltn "sport = :$port" | grep -q LISTEN; do port=$((port + 1)); done
"$fix/demo_server" "$port" 4 >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do ss -ltn "sport = :$port" | grep -q LISTEN && break; sleep 0.1; done
echo "real run: smolder profile -p DEMO_SERVER --during 'demo_load PORT $seconds 4' -o real.html -o real.json -o real.folded"
"$smolder" profile -p "$server" --during "$fix/demo_load $port $seconds 4" \
	-o "$work/real.html" -o "$work/real.json" -o "$work/real.folded" 2>"$work/real.err" ||
	{ echo "profile failed: $(tail -3 "$work/real.err")" >&2; exit 1; }
kill "$server" 2>/dev/null
server=""
off=$work/real.offcpu.folded
[ -s "$off" ] || off=-
read -r parse_ms render_ms bytes < <("$bench" "$work/real.json" "$work/real.folded" "$off" \
	"$work/rerender.html" 5)
points=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['timeline']))" "$work/real.json")
printf '  %s s run: HTML %.0f KiB, JSON %.0f KiB, %s timeline points, %s on-CPU folded lines; generation %s ms (+%s ms reading the folded stacks)\n' \
	"$seconds" "$(kib "$work/real.html")" "$(kib "$work/real.json")" "$points" \
	"$(wc -l <"$work/real.folded")" "$render_ms" "$parse_ms"
parts "$work/real.html"
reference "$work/real.folded"

# --- 2. synthetic long runs -------------------------------------------------------------------
# gen_json MINUTES: a profile JSON at the size a run of MINUTES reaches (1 s interval).
gen_json() {
	python3 - "$1" <<'PY'
import json, random, sys
minutes = int(sys.argv[1]); n = min(minutes * 60, 3600); dur = minutes * 60.0
random.seed(7)
words = "http request handler parse json buffer cache lookup insert session worker queue".split()
def name(i):
    return "%s::%s_%s<%d>" % (random.choice(words), random.choice(words), random.choice(words), i)
tl = [{"t": dur * (i + 1) / n, "cpu_user_pct": random.uniform(40, 90), "cpu_sys_pct": random.uniform(2, 15),
       "rss_bytes": 200e6 + i * 1e5, "rss_anon_bytes": 150e6, "rss_file_bytes": 50e6,
       "heap_bytes": 100e6 + i * 8e4, "threads": 16, "fds": 120, "read_bytes": 4096 * i,
       "write_bytes": 8192, "net_rx_bytes": 5e6, "net_tx_bytes": 9e6, "ctx_voluntary": 20000,
       "ctx_involuntary": 300, "minor_faults": 800, "major_faults": 0, "host_cpu_pct": 70,
       "mem_available_bytes": 20e9} for i in range(n)]
sites = [{"stack": [name(k) for k in range(25)] + ["malloc"], "locations": ["src/x.c:%d" % k for k in range(26)],
          "function": name(99), "location": "src/y.c:42", "outstanding_bytes": 1e6 * (100 - s),
          "allocations": 100000, "growth_bytes": 5e5 * (100 - s), "growth_bytes_per_s": 1000.0 * (100 - s),
          "verdict": "leak" if s < 5 else "plateau", "confidence": 0.9,
          "series": [{"t": dur * j / 240, "bytes": 1e4 * j} for j in range(240)]} for s in range(100)]
doc = {"pid": 1234, "command": "service", "duration_s": dur, "interval_s": 1.0, "frequency_hz": 99,
       "stop_reason": "load command finished",
       "load": {"command": "wrk -t4 -c64 -d%dm http://127.0.0.1:8080/" % minutes, "exit_status": 0,
                "start_s": 0.5, "end_s": dur, "output_tail": "Running test\n" * 40},
       "ops": 1e7, "per_op": {"cpu_s": 1e-4, "allocations": 30, "leaked_bytes": 12, "rss_growth_bytes": 4},
       "cpu": {"samples": int(dur * 99 * 2), "cpu_s": dur * 1.5,
               "functions": [{"name": name(i), "self": 0.01, "total": 0.1} for i in range(50)]},
       "off_cpu": {"seconds": dur * 10},
       "memory": {"totals": {"outstanding_bytes": 5e9, "tracked_allocs": 1e9, "leaked_bytes": 1e8}, "sites": sites},
       "timeline": tl,
       "findings": [{"kind": "cpu", "text": "41%% of CPU in %s (x.c:1)" % name(1), "impact": 0.41},
                    {"kind": "memory", "text": "leak leaks 12 B per operation", "impact": 0.3}],
       "dropped": {"cpu_samples": 0}, "smolder": {"cpu_s": 12.0, "max_rss_bytes": 80e6}}
json.dump(doc, sys.stdout)
PY
}
for spec in "10 20000 5000" "60 60000 15000"; do
	read -r minutes cpu_lines off_lines <<<"$spec"
	gen_json "$minutes" >"$work/syn.json"
	perl scripts/bench/gen_folded.pl "$cpu_lines" 42 >"$work/syn.folded"
	perl scripts/bench/gen_folded.pl "$off_lines" 43 >"$work/syn.offcpu.folded"
	read -r parse_ms render_ms bytes < <("$bench" "$work/syn.json" "$work/syn.folded" \
		"$work/syn.offcpu.folded" "$work/syn.html" 5)
	printf '  synthetic %s-minute run (%s on-CPU / %s off-CPU folded lines, JSON %.0f KiB): HTML %.0f KiB, generation %s ms (+%s ms reading the folded stacks)\n' \
		"$minutes" "$cpu_lines" "$off_lines" "$(kib "$work/syn.json")" "$(kib "$work/syn.html")" \
		"$render_ms" "$parse_ms"
	parts "$work/syn.html"
	reference "$work/syn.folded"
done
