# node_lib.sh: helpers for the tests on the real node (sourced after lib.sh): starting the
# tests/fixtures/js/node_app.js fixture in a given shape.

NODE=${NODE:-/usr/bin/node}
NODE_APP="$SOURCE_DIR/tests/fixtures/js/node_app.js"

# start_node SHAPE [NODE_FLAGS...]: starts node_app.js SHAPE under $NODE with the flags, waits for
# its "ready" line (10 s), sets NODE_PID. Returns 1 (after fail) when it does not get ready.
start_node() {
	local shape=$1 i
	shift
	# In $WORK: node --perf-basic-prof writes isolate-*-v8.log files into its working directory.
	(cd "$WORK" && exec "$NODE" "$@" "$NODE_APP" "$shape") >"$WORK/node-$shape.out" 2>&1 &
	NODE_PID=$!
	CHILDREN+=("$NODE_PID")
	for i in $(seq 1 200); do
		grep -q '^ready' "$WORK/node-$shape.out" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "node $shape did not get ready: $(head -c 300 "$WORK/node-$shape.out")"
	return 1
}

# stop_node: kills NODE_PID and reaps it.
stop_node() {
	kill "$NODE_PID" 2>/dev/null
	wait "$NODE_PID" 2>/dev/null
}

# js_line NAME: the line of "function NAME(" in node_app.js (what V8 writes in its perf map).
js_line() {
	grep -n "^function $1(" "$NODE_APP" | cut -d: -f1
}

# js_frame NAME: the folded name of node_app.js's function NAME, as an ERE.
js_frame() {
	echo "$1 \\(node_app\\.js:$(js_line "$1")\\)_\\[j\\]"
}
