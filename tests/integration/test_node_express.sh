#!/usr/bin/env bash
# test_node_express.sh: a real Express application (Debian's node-express) under ab, with and
# without --perf-basic-prof. record names the JS handler and the chain below it (Express's router
# frames, then cpuHandler, in order above the event loop); dump shows the handler in the main
# thread; leaks attributes the Buffers a route keeps to its handler (leakHandler) through Express's
# router. Without a perf map, record still exits 0 with complete stacks through [jit] frames.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/node_lib.sh"
require_root_bpf
[ -x "$NODE" ] || { fail "no node at $NODE"; finish; }
command -v ab >/dev/null || { fail "ab (apache2-utils) is not installed"; finish; }
# Debian's node finds its packaged modules there by default; other builds of node need NODE_PATH.
export NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}
[ -f /usr/share/nodejs/express/package.json ] ||
	{ fail "Express is not installed (Debian package node-express)"; finish; }

APP="$SOURCE_DIR/tests/fixtures/js/express_app.js"
line() { grep -n "^function $1(" "$APP" | cut -d: -f1; }
CPU="cpuHandler \\(express_app\\.js:$(line cpuHandler)\\)_\\[j\\]"
# Express's router: Layer.handle, or the router function V8 inlined it into.
ROUTER='[^;]+ \((layer|route|index)\.js:[0-9]+\)_\[j\]'

# share FOLDED ERE: samples whose stack matches ERE, per cent of all samples (integer).
share() {
	awk -v re="$2" '{ n = $NF; t += n; if ($0 ~ re) m += n } END { print t ? int(m * 100 / t) : 0 }' "$1"
}

# start_express [NODE_FLAGS...]: starts the app in $WORK, sets APP_PID and PORT.
start_express() {
	(cd "$WORK" && exec "$NODE" "$@" "$APP") >"$WORK/app.out" 2>&1 &
	APP_PID=$!
	CHILDREN+=("$APP_PID")
	for i in $(seq 1 200); do
		grep -q '^ready' "$WORK/app.out" 2>/dev/null && break
		sleep 0.05
	done
	PORT=$(awk '/^port/ {print $2}' "$WORK/app.out")
	[ -n "$PORT" ] || { fail "express app did not start: $(head -c 400 "$WORK/app.out")"; return 1; }
}
stop_express() {
	kill "$APP_PID" 2>/dev/null
	wait "$APP_PID" 2>/dev/null
	rm -f "/tmp/perf-$APP_PID.map"
}

start_express --perf-basic-prof && {
	# 4 at a time: a request is always queued, so the main thread is in the handler whenever it
	# runs, even on a loaded machine (dump catches it there).
	ab -q -k -c 4 -t 8 "http://127.0.0.1:$PORT/cpu" >"$WORK/ab.out" 2>&1 &
	CHILDREN+=("$!")
	sleep 1.5 # warm-up: the handlers reach their optimised tiers
	expect_exit 0 "perf map: record" "$SMOLDER" record -p "$APP_PID" -d 2 -o "$WORK/r.folded"
	s=$(share "$WORK/r.folded" ";$CPU(;| )")
	chain=$(share "$WORK/r.folded" ";uv_run;.*;$ROUTER;$CPU(;| )")
	[ "$s" -ge 50 ] && pass "perf map: $s% of samples under cpuHandler" ||
		fail "perf map: only $s% of samples under cpuHandler (need 50%)"
	[ "$s" -gt 0 ] && [ "$chain" -ge $((s * 95 / 100)) ] &&
		pass "perf map: uv_run ... Express's router ... cpuHandler in order ($chain% of $s%)" ||
		fail "perf map: chain in order in $chain% of samples, cpuHandler in $s%"
	# dump: the main thread in the handler, above Express's router and the event loop.
	ok=""
	for attempt in $(seq 1 10); do
		expect_exit 0 "perf map: dump #$attempt" "$SMOLDER" dump -p "$APP_PID"
		block=$(awk -v t="Thread $APP_PID " 'index($0, t) == 1 {on = 1; next} /^Thread / {on = 0} on' "$WORK/out")
		if echo "$block" | grep -qE '^  #[0-9]+ 0x[0-9a-f]+ cpuHandler \(.*express_app\.js:' &&
			echo "$block" | grep -qE '^  #[0-9]+ 0x[0-9a-f]+ [^ ]+ \(.*/(layer|route|index)\.js:' &&
			echo "$block" | grep -qE '^  #[0-9]+ 0x[0-9a-f]+ uv_run '; then
			ok=1
			break
		fi
		sleep 0.2
	done
	[ -n "$ok" ] && pass "perf map: dump shows cpuHandler above Express's router and uv_run" ||
		fail "perf map: no dump with cpuHandler, the router and uv_run in 10: $(echo "$block" | head -12)"
	wait "${CHILDREN[-1]}" 2>/dev/null
	# leaks: every /leak request keeps a 32 KiB Buffer.
	ab -q -c 1 -t 5 "http://127.0.0.1:$PORT/leak" >"$WORK/ab2.out" 2>&1 &
	CHILDREN+=("$!")
	sleep 0.5
	expect_exit 0 "perf map: leaks" "$SMOLDER" leaks -p "$APP_PID" -d 3 -o "$WORK/l.json"
	python3 - "$WORK/l.json" "$(line leakHandler)" <<'PY' &&
import json, re, sys
d, line = json.load(open(sys.argv[1])), sys.argv[2]
# The Buffers are attributed to leakHandler, called by Express's router. V8 re-optimising the
# router mid-run (inlining Layer.handle into dispatch) changes the JS stack, and the truncated
# roots differ with depth: the blocks may spread over a few sites, each grown (leak or plateau).
held, ok = 0, False
for s in d["sites"]:
    st = s["stack"]
    js = [k for k, f in enumerate(st) if f == "leakHandler (express_app.js:%s)_[j]" % line]
    if not js or not re.fullmatch(r"\S+ \((layer|route|index)\.js:\d+\)_\[j\]", st[js[0] - 1]):
        continue
    held += s["outstanding_bytes"]
    ok |= s["verdict"] in ("leak", "plateau") and s["outstanding_bytes"] >= 256 << 10
if ok and held >= 1 << 20:
    sys.exit(0)
print("held by leakHandler:", held, file=sys.stderr)
for s in d["sites"][:3]:
    print(s["verdict"], s["outstanding_bytes"], s["stack"][-16:], file=sys.stderr)
sys.exit(1)
PY
		pass "perf map: leak site held by leakHandler, called by Express's router" ||
		fail "perf map: no leak site under leakHandler (called from the router)"
	kill -0 "$APP_PID" 2>/dev/null || fail "perf map: the app died"
	stop_express
}

start_express && {
	ab -q -k -c 2 -t 3 "http://127.0.0.1:$PORT/cpu" >"$WORK/ab.out" 2>&1 &
	CHILDREN+=("$!")
	sleep 0.5
	expect_exit 0 "no perf map: record" "$SMOLDER" record -p "$APP_PID" -d 2 -o "$WORK/a.folded" \
		-o "$WORK/a.json"
	s=$(share "$WORK/a.folded" ";uv_run;(.*;)?\\[jit\\](;| )")
	[ "$s" -ge 50 ] && pass "no perf map: $s% of samples reach uv_run through [jit] frames" ||
		fail "no perf map: only $s% of samples reach uv_run through [jit] frames"
	python3 -c 'import json,sys; t = json.load(open(sys.argv[1]))["totals"]
assert t["samples"] > 0 and t["truncated"] * 10 <= t["samples"], t' "$WORK/a.json" &&
		pass "no perf map: at most 10% of the stacks truncated" ||
		fail "no perf map: truncated stacks: $(grep -o '"totals": {[^}]*' "$WORK/a.json")"
	kill -0 "$APP_PID" 2>/dev/null || fail "no perf map: the app died"
	stop_express
}
finish
