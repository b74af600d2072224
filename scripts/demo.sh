#!/usr/bin/env bash
# demo.sh: sets up the machine, builds smolder and runs one `smolder profile` command that launches
# the bundled demo service on a free port (demo_server 0), waits until it listens, and drives it
# with demo_load on $PORT for DEMO_SECONDS (default 30) while collecting CPU stacks, allocation
# growth, the /proc timeline and per-request figures (requests counted by a uprobe on the service's
# request router). Then prints the findings, per-request figures and where the reports are (the
# HTML report, the JSON report, the on-CPU flame graph). Run as root. Packages:
# bootstrap sets build and demo.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${DEMO_SECONDS:-30}
out=$(pwd)/out

bash scripts/bootstrap.sh build demo
cmake -S . -B build >/dev/null
cmake --build build -j2 >/dev/null
mkdir -p "$out"

# One command: launch, wait for the port, load, profile; the run ends with the load command.
rc=0
build/smolder profile --ops-probe route_request \
	--during "build/tests/fixtures/demo_load \$PORT $seconds 4" \
	-o "$out/demo-report.html" -o "$out/demo-profile.json" -o "$out/demo-cpu.svg" \
	-o "$out/demo-cpu.folded" \
	-- build/tests/fixtures/demo_server 0 4 >"$out/demo-server.log" || rc=$?
echo "findings:"
grep -o '"text": "[^"]*"' "$out/demo-profile.json" | sed 's/^"text": "/  - /; s/"$//' || true
python3 - "$out/demo-profile.json" <<'PY' || true
import json, sys
d = json.load(open(sys.argv[1]))
po = d.get("per_op") or {}
if po:
    print("per request (%d requests counted by --ops-probe route_request on port %s):" %
          (d["ops"], d["load"]["port"]))
    print("  CPU %.3f ms, %.1f allocations, %.1f B leaked (%.0f B per 100), RSS %+.1f B" %
          (po["cpu_s"] * 1e3, po.get("allocations", 0), po.get("leaked_bytes", 0),
           po.get("leaked_bytes_per_100_ops", 0), po["rss_growth_bytes"]))
PY
echo
echo "demo: results"
echo "  report (HTML):         $out/demo-report.html"
echo "  profile report (JSON): $out/demo-profile.json"
echo "  CPU flame graph:       $out/demo-cpu.svg"
echo "  CPU folded stacks:     $out/demo-cpu.folded"
exit $rc
