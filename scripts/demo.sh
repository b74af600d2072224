#!/usr/bin/env bash
# demo.sh: sets up the machine, builds smolder, starts the bundled demo service under load, profiles
# its CPU (flame graph) and its memory growth (leak report) at the same time, and prints where the
# results are. Run as root. DEMO_SECONDS (default 30) sets the length of the profile.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${DEMO_SECONDS:-30}
out=$(pwd)/out
port=${DEMO_PORT:-18080}

bash scripts/bootstrap.sh build demo
cmake -S . -B build >/dev/null
cmake --build build -j2 >/dev/null
mkdir -p "$out"

server=""
load=""
stop_all() {
	[ -n "$load" ] && kill "$load" 2>/dev/null
	[ -n "$server" ] && kill "$server" 2>/dev/null
	wait 2>/dev/null || true
}
trap stop_all EXIT

# Find a free loopback port.
while ss -ltn "sport = :$port" | grep -q LISTEN; do port=$((port + 1)); done
build/tests/fixtures/demo_server "$port" 4 >"$out/demo-server.log" 2>&1 &
server=$!
for _ in $(seq 50); do ss -ltn "sport = :$port" | grep -q LISTEN && break; sleep 0.1; done
echo "demo: demo_server pid $server on 127.0.0.1:$port; load for $((seconds + 8)) s"
build/tests/fixtures/demo_load "$port" $((seconds + 8)) 4 >"$out/demo-load.log" 2>&1 &
load=$!
sleep 2 # let the service warm up: its cache fills, as in a real deployment

build/smolder record -p "$server" -d "$seconds" -o "$out/demo-cpu.svg" -o "$out/demo-cpu.folded" &
record=$!
build/smolder leaks -p "$server" -d "$seconds" -o "$out/demo-leaks.json" -o "$out/demo-leaks.svg" \
	>"$out/demo-leaks.txt" &
leaks=$!
rc=0
wait "$record" || rc=$?
wait "$leaks" || rc=$?
wait "$load" || true
load=""
cat "$out/demo-load.log"
echo
head -n 30 "$out/demo-leaks.txt" || true
echo
echo "demo: results"
echo "  CPU flame graph:     $out/demo-cpu.svg"
echo "  CPU folded stacks:   $out/demo-cpu.folded"
echo "  leak report (JSON):  $out/demo-leaks.json"
echo "  leak report (text):  $out/demo-leaks.txt"
echo "  memory flame graph:  $out/demo-leaks.svg"
exit $rc
