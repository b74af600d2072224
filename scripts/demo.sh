#!/usr/bin/env bash
# demo.sh: sets up the machine, builds smolder, starts the bundled demo service and profiles it with
# one `smolder profile --during` run while demo_load drives it (CPU, allocation growth, /proc
# timeline, per-request figures), then prints the findings and where the report is. Run as root.
# DEMO_SECONDS (default 30) sets the length of the load. Packages: bootstrap sets build and demo.
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
stop_all() {
	[ -n "$server" ] && kill "$server" 2>/dev/null
	wait 2>/dev/null || true
}
trap stop_all EXIT

# Find a free loopback port.
while ss -ltn "sport = :$port" | grep -q LISTEN; do port=$((port + 1)); done
build/tests/fixtures/demo_server "$port" 4 >"$out/demo-server.log" 2>&1 &
server=$!
for _ in $(seq 50); do ss -ltn "sport = :$port" | grep -q LISTEN && break; sleep 0.1; done
echo "demo: demo_server pid $server on 127.0.0.1:$port"

# One run: CPU stacks, allocation growth and the /proc timeline while demo_load drives the service
# for $seconds s; the run ends with the load command, whose request count gives per-request figures.
rc=0
build/smolder profile -p "$server" \
	--during "build/tests/fixtures/demo_load $port $seconds 4" \
	-o "$out/demo-profile.json" -o "$out/demo-cpu.svg" -o "$out/demo-cpu.folded" || rc=$?
echo "findings:"
grep -o '"text": "[^"]*"' "$out/demo-profile.json" | sed 's/^"text": "/  - /; s/"$//' || true
echo
echo "demo: results"
echo "  profile report (JSON): $out/demo-profile.json"
echo "  CPU flame graph:       $out/demo-cpu.svg"
echo "  CPU folded stacks:     $out/demo-cpu.folded"
exit $rc
