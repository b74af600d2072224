#!/usr/bin/env bash
# test_profile_load.sh: `smolder profile --during` with real load generators against real servers:
# wrk against the demo service (tests/fixtures/demo_server) and redis-benchmark against Debian's
# redis-server on a private port. The run ends with the load command, the operation count comes
# from the tool's own summary (wrk "N requests in", redis-benchmark "N requests completed in",
# summed over its tests) and the per-operation CPU figure is present.
source "$(dirname "$0")/lib.sh"
require_root_bpf
command -v wrk >/dev/null || { fail "wrk not installed (scripts/bootstrap.sh)"; finish; }
command -v redis-server >/dev/null || { fail "redis-server not installed"; finish; }

free_port() {
	local port=$1
	while ss -ltn "sport = :$port" | grep -q LISTEN; do port=$((port + 1)); done
	echo "$port"
}
wait_listen() {
	for _ in $(seq 100); do ss -ltn "sport = :$1" | grep -q LISTEN && return 0; sleep 0.05; done
	return 1
}

# --- wrk against the demo service -----------------------------------------------------------
port=$(free_port 18480)
"$FIXTURES/demo_server" "$port" 2 >"$WORK/demo.out" 2>&1 &
server=$!
CHILDREN+=("$server")
wait_listen "$port" || fail "demo_server did not listen on $port"
"$SMOLDER" profile -p "$server" --during "wrk -t1 -c4 -d3s http://127.0.0.1:$port/sort" \
	-o "$WORK/wrk.json" 2>"$WORK/wrk.err"
code=$?
if [ "$code" -eq 0 ] && python3 - "$WORK/wrk.json" >"$WORK/check" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["stop_reason"] == "load command finished", d["stop_reason"]
assert d["load"]["exit_status"] == 0, d["load"]
assert "requests in" in d["load"]["output_tail"], d["load"]["output_tail"]
assert d["ops"] and d["ops"] >= 50, d["ops"]
assert d["per_op"]["cpu_s"] > 0 and d["per_op"]["allocations"] > 0, d["per_op"]
names = {f["name"] for f in d["cpu"]["functions"]}
assert "handle_sort" in names, sorted(names)[:20]
assert any(f["kind"] == "cpu" for f in d["findings"]), d["findings"]
print("%d requests, %.2f ms CPU/request" % (d["ops"], d["per_op"]["cpu_s"] * 1e3))
PY
then
	pass "wrk against demo_server: $(cat "$WORK/check")"
else
	fail "wrk against demo_server: exit $code: $(cat "$WORK/check") $(tail -2 "$WORK/wrk.err")"
fi
kill "$server" 2>/dev/null

# --- redis-benchmark against redis-server ----------------------------------------------------
port=$(free_port 16479)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
	--dir "$WORK" >"$WORK/redis.out" 2>&1 &
redis=$!
CHILDREN+=("$redis")
wait_listen "$port" || fail "redis-server did not listen on $port"
"$SMOLDER" profile -p "$redis" --during "redis-benchmark -p $port -n 20000 -c 4 -t set,get" \
	-o "$WORK/redis.json" 2>"$WORK/redis.err"
code=$?
if [ "$code" -eq 0 ] && python3 - "$WORK/redis.json" >"$WORK/check" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["load"]["exit_status"] == 0, d["load"]
assert d["ops"] == 40000, d["ops"]
assert d["cpu"]["samples"] > 0 and d["per_op"]["cpu_s"] > 0, d["cpu"]["samples"]
assert d["command"] == "redis-server", d["command"]
print("%d operations, %.1f us CPU/op" % (d["ops"], d["per_op"]["cpu_s"] * 1e6))
PY
then
	pass "redis-benchmark against redis-server: $(cat "$WORK/check")"
else
	fail "redis-benchmark against redis-server: exit $code: $(cat "$WORK/check") $(tail -2 "$WORK/redis.err")"
fi
kill "$redis" 2>/dev/null

finish
