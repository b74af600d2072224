#!/usr/bin/env bash
# test_node_smoke.sh: record, dump and leaks never crash on the real node (v20, 98 MB ET_EXEC that
# maps part of its own text a second time for V8's builtins), across process shapes: idle event
# loop, busy loop, worker_threads, each without and with --perf-basic-prof
# --interpreted-frames-native-stack. Each run exits 0, writes
# valid outputs, names the event loop and leaves the target running.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/node_lib.sh"
require_root_bpf
[ -x "$NODE" ] || { fail "no node at $NODE"; finish; }

json_ok() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null; }
# no_crash WHAT: the last command's symbolization did not crash. A crash costs only an address
# (symbolizer_batch.c) and would pass every other check here: node's remapped text reported twice
# to libdwfl crashed on every node address.
no_crash() {
	grep -q 'symbolization crashed\|symbolization process failed' "$WORK/err" &&
		fail "$1: $(grep -m1 'symbolization' "$WORK/err")"
}

for flags in "" "--perf-basic-prof --interpreted-frames-native-stack"; do
	for shape in idle busy workers; do
		what="$shape${flags:+ $flags}"
		# shellcheck disable=SC2086
		start_node "$shape" $flags || continue

		expect_exit 0 "$what: dump" "$SMOLDER" dump -p "$NODE_PID"
		no_crash "$what: dump"
		grep -q '^Thread ' "$WORK/out" || fail "$what: dump printed no thread"
		grep -qE '^  #[0-9]+ 0x[0-9a-f]+ uv_run ' "$WORK/out" ||
			fail "$what: dump shows no uv_run: $(head -c 400 "$WORK/out")"

		rm -f "$WORK/r.folded" "$WORK/r.json" "$WORK/l.json"
		expect_exit 0 "$what: record" "$SMOLDER" record -p "$NODE_PID" -d 1 \
			-o "$WORK/r.folded" -o "$WORK/r.json"
		no_crash "$what: record"
		# An idle loop may not run during the second: no sample, no output (as documented).
		if [ "$shape" != idle ]; then
			json_ok "$WORK/r.json" || fail "$what: record JSON does not load"
			bad=$(grep -cvE '^[^ ].* [0-9]+$' "$WORK/r.folded")
			[ "$bad" -eq 0 ] || fail "$what: $bad malformed folded lines"
			grep -q ';uv_run;' "$WORK/r.folded" ||
				fail "$what: no sample in the event loop (uv_run)"
		fi

		expect_exit 0 "$what: leaks" "$SMOLDER" leaks -p "$NODE_PID" -d 1 -o "$WORK/l.json"
		no_crash "$what: leaks"
		json_ok "$WORK/l.json" || fail "$what: leaks JSON does not load"

		kill -0 "$NODE_PID" 2>/dev/null || fail "$what: node died"
		stop_node
		rm -f "/tmp/perf-$NODE_PID.map"
	done
done
finish
