#!/usr/bin/env bash
# test_profile_load.sh: `smolder profile --during` with real load generators against real servers
# launched by profile itself, each one command with $PORT: wrk against the demo service
# (tests/fixtures/demo_server on port 0: the kernel picks, profile finds it in /proc and gives it
# to wrk as $PORT; --ops-probe counts route_request calls, which must agree with wrk's own count)
# and redis-benchmark against Debian's redis-server (ops parsed from its summaries, CPU functions
# name redis's own functions). Then -p mode: an already running server, $PORT found at once.
source "$(dirname "$0")/lib.sh"
require_root_bpf
command -v wrk >/dev/null || { fail "wrk not installed (scripts/bootstrap.sh)"; finish; }
command -v redis-server >/dev/null || { fail "redis-server not installed"; finish; }

free_port() {
	local port=$1
	while ss -ltn "sport = :$port" | grep -q LISTEN; do port=$((port + 1)); done
	echo "$port"
}

# --- launch mode: wrk against the demo service on $PORT, operations from --ops-probe ------------
"$SMOLDER" profile --ops-probe route_request \
	--during 'wrk -t1 -c4 -d3s http://127.0.0.1:$PORT/sort' \
	-o "$WORK/wrk.json" -- "$FIXTURES/demo_server" 0 2 >"$WORK/demo.out" 2>"$WORK/wrk.err"
code=$?
if [ "$code" -eq 0 ] && python3 - "$WORK/wrk.json" >"$WORK/check" 2>&1 <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
assert d["stop_reason"] == "load command finished", d["stop_reason"]
load = d["load"]
assert load["exit_status"] == 0, load
assert load["port"] and load["port"] > 0, load
assert ("127.0.0.1:%d/sort" % load["port"]) in load["output_tail"], load["output_tail"]
wrk = int(re.search(r"(\d+) requests in", load["output_tail"]).group(1))
assert d["ops_source"] == "probe", d["ops_source"]
# The probe counts calls during the load window; wrk counts responses it read. They differ by the
# requests in flight when wrk stops (4 connections) and by a request or two at the edges.
assert wrk >= 50 and abs(d["ops"] - wrk) <= 0.05 * wrk + 8, (d["ops"], wrk)
assert d["dropped"]["ops_probe_calls"] == 0, d["dropped"]
po = d["per_op"]
assert po["window"] == "load" and po["cpu_s"] > 0 and po["allocations"] > 0, po
names = {f["name"] for f in d["cpu"]["functions"]}
assert "handle_sort" in names, sorted(names)[:20]
assert any(f["kind"] == "cpu" for f in d["findings"]), d["findings"]
print("port %d: %d calls of route_request, wrk %d requests, %.2f ms CPU/request" %
      (load["port"], d["ops"], wrk, po["cpu_s"] * 1e3))
PY
then
	pass "wrk against demo_server on \$PORT: $(cat "$WORK/check")"
else
	fail "wrk against demo_server on \$PORT: exit $code: $(cat "$WORK/check") $(tail -3 "$WORK/wrk.err")"
fi
[ -n "$(pids_by_cmdline "$FIXTURES/demo_server 0 2")" ] && fail "launched demo_server left running"

# --- launch mode: redis-benchmark against redis-server -----------------------------------------
port=$(free_port 16479)
"$SMOLDER" profile --during 'redis-benchmark -p $PORT -n 20000 -c 4 -t set,get' \
	-o "$WORK/redis.json" -- redis-server --port "$port" --bind 127.0.0.1 --save '' \
	--appendonly no --dir "$WORK" >"$WORK/redis.out" 2>"$WORK/redis.err"
code=$?
if [ "$code" -eq 0 ] && python3 - "$WORK/redis.json" "$port" >"$WORK/check" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["load"]["exit_status"] == 0, d["load"]
assert d["load"]["port"] == int(sys.argv[2]), d["load"]
assert d["ops"] == 40000 and d["ops_source"] == "load_output", (d["ops"], d["ops_source"])
assert d["cpu"]["samples"] > 0 and d["per_op"]["cpu_s"] > 0, d["cpu"]["samples"]
assert d["command"] == "redis-server", d["command"]
names = {f["name"] for f in d["cpu"]["functions"]}
redis = names & {"aeMain", "aeProcessEvents", "readQueryFromClient", "processInputBuffer",
                 "processCommand", "call", "setCommand", "getCommand", "writeToClient"}
assert len(redis) >= 2, sorted(names)[:40]
print("%d operations, %.1f us CPU/op, %s" % (d["ops"], d["per_op"]["cpu_s"] * 1e6,
                                           ", ".join(sorted(redis))))
PY
then
	pass "redis-benchmark against redis-server on \$PORT: $(cat "$WORK/check")"
else
	fail "redis-benchmark against redis-server: exit $code: $(cat "$WORK/check") $(tail -3 "$WORK/redis.err")"
fi

# --- -p mode: a running server's port is found at once ------------------------------------------
"$FIXTURES/demo_server" 0 1 >"$WORK/demo_p.out" 2>&1 &
server=$!
CHILDREN+=("$server")
wait_for_line listening "$WORK/demo_p.out" 50
want=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/demo_p.out")
"$SMOLDER" profile -p "$server" --no-memory -o "$WORK/p.json" \
	--during 'wrk -t1 -c1 -d1s http://127.0.0.1:$PORT/hash' 2>"$WORK/p.err"
code=$?
got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["load"]["port"], d["ops"] or 0)' "$WORK/p.json" 2>/dev/null)
if [ "$code" -eq 0 ] && [ -n "$want" ] && [ "${got%% *}" = "$want" ] && [ "${got##* }" != 0 ]; then
	pass "-p: \$PORT is the running server's port ($want), ops ${got##* }"
else
	fail "-p with \$PORT: exit $code, port/ops '$got', server said '$want': $(tail -2 "$WORK/p.err")"
fi
kill -0 "$server" 2>/dev/null || fail "-p target was ended by profile"
kill "$server" 2>/dev/null

finish
