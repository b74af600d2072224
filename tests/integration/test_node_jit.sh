#!/usr/bin/env bash
# test_node_jit.sh: JavaScript frames on the real node. An HTTP server whose handler runs
# handleRequest -> renderPage -> computeChecksum under ab's load: with --perf-basic-prof, >= 80% of
# the samples are under handleRequest and the JS chain is in order below the event loop, JS frames
# are "name (file.js:LINE)_[j]" and green in the SVG; NODE_OPTIONS=--perf-basic-prof works the
# same. Without a perf map the JIT frames are unwound through by frame pointer ("[jit]"), the
# stacks stay complete and the summary says once how to get names. dump shows the JS frames of the
# main thread and of worker_threads; leaks attributes Buffers' native backing stores to the JS
# function that keeps them, and an addon's malloc to the JS function that called the addon.
# Interpreted functions are named with --interpreted-frames-native-stack.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/node_lib.sh"
require_root_bpf
[ -x "$NODE" ] || { fail "no node at $NODE"; finish; }
command -v ab >/dev/null || { fail "ab (apache2-utils) is not installed"; finish; }

HANDLE=$(js_frame handleRequest)
RENDER=$(js_frame renderPage)
CHECKSUM=$(js_frame computeChecksum)

# share FOLDED ERE: samples whose stack matches ERE, per cent of all samples (integer).
share() {
	awk -v re="$2" '{ n = $NF; t += n; if ($0 ~ re) m += n } END { print t ? int(m * 100 / t) : 0 }' "$1"
}

# record_server WHAT OUT [NODE_FLAGS...]: starts the server, warms it up under ab for 2 s, then
# records 3 s of it under load into OUT.folded and OUT.svg.
record_server() {
	local what=$1 out=$2 port
	shift 2
	start_node server "$@" || return 1
	port=$(awk '/^port/ {print $2}' "$WORK/node-server.out")
	ab -q -k -c 2 -t 7 "http://127.0.0.1:$port/" >"$WORK/ab.out" 2>&1 &
	CHILDREN+=("$!")
	sleep 2
	expect_exit 0 "$what: record" "$SMOLDER" record -p "$NODE_PID" -d 3 -o "$out.folded" \
		-o "$out.svg"
	cp "$WORK/err" "$out.err"
	stop_node
	rm -f "/tmp/perf-$NODE_PID.map"
}

# With --perf-basic-prof: the handler's share and the chain.
record_server "--perf-basic-prof" "$WORK/named" --perf-basic-prof
s=$(share "$WORK/named.folded" ";$HANDLE;")
[ "$s" -ge 80 ] && pass "$s% of samples under handleRequest" ||
	fail "only $s% of samples under handleRequest (need 80%)"
checksum=$(share "$WORK/named.folded" ";$CHECKSUM( |;)")
chain=$(share "$WORK/named.folded" ";uv_run;.*;$HANDLE;$RENDER;$CHECKSUM( |;)")
[ "$checksum" -gt 0 ] && [ "$chain" -ge $((checksum * 95 / 100)) ] &&
	pass "JS chain uv_run ... handleRequest;renderPage;computeChecksum in order ($chain% of $checksum%)" ||
	fail "JS chain in order in $chain% of samples, computeChecksum in $checksum%"
grep -q '(JIT)</title>' "$WORK/named.svg" || fail "SVG does not mark JIT frames"
grep -q '_\[j\]' "$WORK/named.svg" && fail "SVG shows the _[j] suffix"
grep -q 'JIT code without names' "$WORK/named.err" && fail "hint printed although names were found"

# The same through NODE_OPTIONS.
NODE_OPTIONS=--perf-basic-prof record_server "NODE_OPTIONS" "$WORK/env"
s=$(share "$WORK/env.folded" ";$HANDLE;$RENDER;$CHECKSUM( |;)")
[ "$s" -ge 50 ] && pass "NODE_OPTIONS=--perf-basic-prof: JS chain in $s%" ||
	fail "NODE_OPTIONS=--perf-basic-prof: JS chain in only $s% of samples"

# Without a perf map: unwound through by frame pointer, unnamed, one hint.
record_server "no perf map" "$WORK/anon"
s=$(share "$WORK/anon.folded" ";uv_run;(.*;)?\\[jit\\](;| )")
[ "$s" -ge 80 ] && pass "no perf map: $s% of samples through [jit] frames below uv_run" ||
	fail "no perf map: only $s% of samples reach uv_run through [jit] frames"
grep -qE '_\[j\]' "$WORK/anon.folded" && fail "no perf map but named JS frames"
n=$(grep -c 'start node with --perf-basic-prof' "$WORK/anon.err")
[ "$n" -eq 1 ] && pass "hint printed once" || fail "hint printed $n times: $(cat "$WORK/anon.err")"

# dump: JS frames of the main thread (busy loop) and of two worker_threads.
frame_re() { echo "^  #[0-9]+ 0x[0-9a-f]+ $1 \\("; }
start_node busy --perf-basic-prof && {
	# The main thread is in JS nearly all the time; a dump may still catch it writing the perf
	# map or compiling: up to 5 dumps, one must show the JS frames down to the event loop.
	sleep 1
	ok=""
	for attempt in 1 2 3 4 5; do
		expect_exit 0 "dump busy #$attempt" "$SMOLDER" dump -p "$NODE_PID"
		block=$(awk -v t="Thread $NODE_PID " 'index($0, t) == 1 {on = 1; next} /^Thread / {on = 0} on' "$WORK/out")
		if echo "$block" | grep -qE "$(frame_re '(turn|handleRequest|renderPage|computeChecksum)')" &&
			echo "$block" | grep -qE "$(frame_re uv_run)"; then
			ok=1
			break
		fi
		sleep 0.3
	done
	[ -n "$ok" ] && pass "dump: JS frames in the main thread, down to uv_run" ||
		fail "dump: no JS frame down to uv_run in the main thread in 5 dumps: $(echo "$block" | head -12)"
	stop_node
	rm -f "/tmp/perf-$NODE_PID.map"
}
start_node workers --perf-basic-prof && {
	sleep 1
	expect_exit 0 "dump workers" "$SMOLDER" dump -p "$NODE_PID"
	n=$(awk '/^Thread / {t = $0} /^  #[0-9]+ 0x[0-9a-f]+ (turn|handleRequest|renderPage|computeChecksum) \(/ {print t}' "$WORK/out" | sort -u | wc -l)
	[ "$n" -ge 2 ] && pass "dump: JS frames in $n worker threads" ||
		fail "dump: JS frames in $n threads (expected the 2 workers): $(head -c 1500 "$WORK/out")"
	stop_node
	rm -f "/tmp/perf-$NODE_PID.map"
}

# Interpreted functions: with every compiler off, JS runs in V8's interpreter, and only
# --interpreted-frames-native-stack gives each interpreted function a code copy of its own in the
# perf map (without it, every such frame is Builtins_InterpreterEntryTrampoline).
# (Maglev exists from V8 10.x, off by default where it is older, as in Debian 12's node 18.)
maglev=$("$NODE" --v8-options | grep -q -- '--maglev ' && echo --no-maglev)
# shellcheck disable=SC2086
start_node busy --perf-basic-prof --interpreted-frames-native-stack --no-opt --no-sparkplug \
	$maglev && {
	sleep 0.5
	expect_exit 0 "interpreter: record" "$SMOLDER" record -p "$NODE_PID" -d 2 -o "$WORK/i.folded"
	s=$(share "$WORK/i.folded" ";$HANDLE;$RENDER;$CHECKSUM( |;)")
	[ "$s" -ge 30 ] && pass "interpreter: JS chain named in $s% of samples" ||
		fail "interpreter: JS chain named in only $s% of samples (need 30%)"
	stop_node
	rm -f "/tmp/perf-$NODE_PID.map"
}

# leaks: the Buffers retainBuffers keeps are a leak whose stack holds retainBuffers.
start_node buffers --perf-basic-prof && {
	expect_exit 0 "leaks buffers" "$SMOLDER" leaks -p "$NODE_PID" -d 4 -o "$WORK/leaks.json"
	python3 - "$WORK/leaks.json" <<'PY' && pass "leak site held by retainBuffers" || fail "no leak site under retainBuffers"
import json, re, sys
d = json.load(open(sys.argv[1]))
for s in d["sites"]:
    st = s["stack"]
    js = [k for k, f in enumerate(st) if re.fullmatch(r"retainBuffers \(node_app\.js:\d+\)_\[j\]", f)]
    if s["verdict"] == "leak" and s["outstanding_bytes"] >= 1 << 20 and js and "uv_run" in st:
        # The JS frame's location is in its name: not given a second time (the text printed
        # "retainBuffers (node_app.js:N)_[j] (node_app.js:N)").
        if s["locations"][js[0]] is not None:
            print("JS frame with a second location:", s["locations"][js[0]], file=sys.stderr)
            sys.exit(1)
        sys.exit(0)
for s in d["sites"][:3]:
    print(s["verdict"], s["outstanding_bytes"], s["stack"], file=sys.stderr)
sys.exit(1)
PY
	stop_node
	rm -f "/tmp/perf-$NODE_PID.map"
}
# leaks: native memory an addon allocates for a JS function is that function's leak: the stack
# holds the addon's keep, then keepRecords.
if [ -f "$FIXTURES/leak_addon.node" ]; then
	SMOLDER_ADDON="$FIXTURES/leak_addon.node" start_node addon --perf-basic-prof && {
		expect_exit 0 "leaks addon" "$SMOLDER" leaks -p "$NODE_PID" -d 3 -o "$WORK/addon.json"
		python3 - "$WORK/addon.json" <<'PY' && pass "addon leak site: keep called by keepRecords" ||
import json, re, sys
d = json.load(open(sys.argv[1]))
for s in d["sites"]:
    st = s["stack"]
    if s["verdict"] == "leak" and s["outstanding_bytes"] >= 1 << 20 and "keep" in st and \
            any(re.fullmatch(r"keepRecords \(node_app\.js:\d+\)_\[j\]", f) for f in st) and \
            "uv_run" in st:
        sys.exit(0)
for s in d["sites"][:3]:
    print(s["verdict"], s["outstanding_bytes"], s["stack"][-12:], file=sys.stderr)
sys.exit(1)
PY
			fail "no leak site with keep under keepRecords"
		stop_node
		rm -f "/tmp/perf-$NODE_PID.map"
	}
else
	fail "no leak_addon.node fixture: node's headers (node_api.h: libnode-dev) were missing at configure"
fi
finish
