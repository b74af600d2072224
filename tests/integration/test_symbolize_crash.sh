#!/usr/bin/env bash
# test_symbolize_crash.sh: a crash of libelf/libdw while symbolizing costs the addresses it happened
# on, not the run (issue 11 item 1). The target runs code from a copy of a plugin; the test
# truncates the copy on disk while smolder holds it open (a library rewritten in place): the target
# dies of SIGBUS, and libelf faults (SIGBUS) as soon as it reads that file at symbolization. record
# and leaks must still exit 0 and write every output, the plugin's frames as module+0xOFFSET, the
# other frames named, with one warning per crash on stderr.
source "$(dirname "$0")/lib.sh"
require_root_bpf

# truncate_when_loaded OUT COPY SMOLDER_PID ERR: waits (5 s) for the target's "loaded" line in
# OUT, then (20 s) for smolder's start line in ERR (its set-up takes seconds on a loaded machine)
# and for smolder to hold COPY open twice (the unwinder's copy and the symbolizer's libelf: it opens
# a newly mapped object at its next look at the maps), lets it sample there, then truncates COPY to
# 0 bytes. A fixed sleep truncated the copy before a slow set-up had opened it.
truncate_when_loaded() {
	local out=$1 copy=$2 smolder=$3 err=$4 i fd held=0
	wait_for_line '^loaded' "$out" 50 || fail "the plugin copy was never loaded: $(head -c 300 "$out")"
	for i in $(seq 1 200); do
		# fd links name the file, so compare whole link targets, never a pattern.
		held=0
		grep -q '^smolder: \(profiling\|tracking allocations\)' "$err" || { sleep 0.1; continue; }
		for fd in /proc/"$smolder"/fd/*; do
			[ "$(readlink "$fd" 2>/dev/null)" = "$copy" ] && held=$((held + 1))
		done
		[ "$held" -ge 2 ] && break
		sleep 0.1
	done
	[ "$held" -ge 2 ] || echo "smolder holds $copy open $held time(s) after 20 s"
	sleep 0.5
	: >"$copy"
}

# crash_checks WHAT ERR OUTPUT COPY_NAME: the warning was printed, OUTPUT names the copy's frames
# by offset and the rest by function.
crash_checks() {
	local what=$1 err=$2 output=$3 name=$4
	grep -q 'symbolization crashed (signal 7)' "$err" &&
		pass "$what: the libelf crash (SIGBUS) was survived with a warning" ||
		fail "$what: no crash warning (the test proves nothing): $(head -c 600 "$err")"
	grep -qF "$name+0x" "$output" && pass "$what: the truncated object's frames as $name+0xOFFSET" ||
		fail "$what: no $name+0x frame in $output: $(head -c 600 "$output")"
	grep -q '__libc_start_call_main' "$output" &&
		pass "$what: the other frames are still named" ||
		fail "$what: frames outside the truncated object are not named: $(head -c 600 "$output")"
}

# record: samples in plugin_run of the copy; the run ends when the target dies.
cp "$FIXTURES/libgen_alpha.so" "$WORK/libcrash_gen.so"
"$FIXTURES/gen_reload" "$WORK/libcrash_gen.so" "$FIXTURES/libgen_omega.so" 8 >"$WORK/g.out" 2>&1 &
TARGET=$!
CHILDREN+=("$TARGET")
wait_for_line '^loaded' "$WORK/g.out" 50
"$SMOLDER" record -p "$TARGET" -F 199 -d 20 -o "$WORK/r.folded" -o "$WORK/r.json" \
	>"$WORK/r.out" 2>"$WORK/r.err" &
SMOLDER_PID=$!
CHILDREN+=("$SMOLDER_PID")
truncate_when_loaded "$WORK/g.out" "$WORK/libcrash_gen.so" "$SMOLDER_PID" "$WORK/r.err"
wait "$SMOLDER_PID"
rc=$?
wait "$TARGET"
trc=$?
[ "$trc" -eq 135 ] || fail "record: the target was not killed by SIGBUS (status $trc): the test proves nothing"
[ "$rc" -eq 0 ] && pass "record: exit 0 after the target died" ||
	fail "record: exit $rc: $(tail -3 "$WORK/r.err")"
python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); assert d["totals"]["samples"] > 0' \
	"$WORK/r.json" && pass "record: JSON written with samples" || fail "record: no JSON with samples"
crash_checks record "$WORK/r.err" "$WORK/r.folded" libcrash_gen.so

# leaks: a leak in the copy's plugin_store, attached (-p) before the copy is loaded.
cp "$FIXTURES/libleak_plugin.so" "$WORK/libcrash_leak.so"
"$FIXTURES/leak_dlopen" "$WORK/libcrash_leak.so" 1 20 >"$WORK/t.out" 2>&1 &
TARGET=$!
CHILDREN+=("$TARGET")
sleep 0.2
"$SMOLDER" leaks -p "$TARGET" -d 20 -o "$WORK/l.json" >"$WORK/l.out" 2>"$WORK/l.err" &
SMOLDER_PID=$!
CHILDREN+=("$SMOLDER_PID")
truncate_when_loaded "$WORK/t.out" "$WORK/libcrash_leak.so" "$SMOLDER_PID" "$WORK/l.err"
wait "$SMOLDER_PID"
rc=$?
[ "$rc" -eq 0 ] && pass "leaks: exit 0 after the target died" ||
	fail "leaks: exit $rc: $(tail -3 "$WORK/l.err")"
python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); assert d["sites"]' "$WORK/l.json" &&
	pass "leaks: JSON written with sites" || fail "leaks: no JSON with sites"
crash_checks leaks "$WORK/l.err" "$WORK/l.json" libcrash_leak.so
finish
