#!/usr/bin/env bash
# test_dump.sh: `smolder dump` on the threads_known fixture shows each thread where it is parked
# (main in read, spinner in its leaf, libworker inside our shared library with the inlined helper,
# sleeper in nanosleep), reports the stop time, leaves the target running and untraced; --json is
# valid JSON with the same content.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ptrace_lib.sh"
require_root_bpf

start_fixture threads_known 120
wait_ready "$WORK/threads_known.out" || finish
PID=$FIXTURE_PID

expect_exit 0 "dump -p PID" "$SMOLDER" dump -p "$PID"
cp "$WORK/out" "$WORK/dump.txt"
cp "$WORK/err" "$WORK/dump.err"
cat "$WORK/dump.txt"
[ "$(grep -c '^Thread ' "$WORK/dump.txt")" -eq 4 ] ||
	fail "expected 4 threads, got: $(grep '^Thread ' "$WORK/dump.txt" | tr '\n' ' ')"
head -1 "$WORK/dump.txt" | grep -x "Thread $PID (threads_known)" >/dev/null ||
	fail "first header is not the main thread: $(head -1 "$WORK/dump.txt")"
# Every frame line follows the DESIGN.md format.
bad=$(grep -v '^Thread ' "$WORK/dump.txt" | grep -v '^$' | grep -v '^  (' |
	grep -vE '^  #[0-9]+ 0x[0-9a-f]+ [^ ].*' || true)
[ -z "$bad" ] || fail "frame lines not in '  #N 0xADDR function (file:line)' form: $bad"

check_thread() { # NAME PATTERN... : each pattern appears in the thread's block, in order
	local name=$1 block
	shift
	block=$(thread_block "$WORK/dump.txt" "$name")
	[ -n "$block" ] || { fail "no block for thread $name"; return; }
	local last=0 p line
	for p in "$@"; do
		line=$(echo "$block" | grep -nE "$p" | head -1 | cut -d: -f1)
		if [ -z "$line" ]; then
			fail "thread $name: no frame matching '$p'"
		elif [ "$line" -lt "$last" ]; then
			fail "thread $name: '$p' out of order (leaf first expected)"
		else
			pass "thread $name: $p"
			last=$line
		fi
	done
}
# Patterns name the function field (after the address, before the location): the locations hold
# source paths, and thread_block has replaced the checkout's own part of them.
F='^  #[0-9]+ 0x[0-9a-f]+ '
check_thread threads_known "$F"'[^ ]*read ' "$F"'fixture_block_in_read \(<source>/tests/fixtures/threads_known\.c:[0-9]+\)' "$F"'main \('
check_thread spinner '^  #0 0x[0-9a-f]+ fixture_spin_leaf \(<source>/tests/fixtures/threads_known\.c:[0-9]+\)' "$F"'spinner_main ' "$F"'(start_thread|clone3?) '
check_thread libworker "$F"'threads_lib_mix .*\[inlined\]$' "$F"'threads_lib_spin \(<source>/tests/fixtures/libthreads_lib\.c:[0-9]+\)' "$F"'libworker_main '
check_thread sleeper "$F"'[^ ]*nanosleep[^ ]* ' "$F"'fixture_sleep_forever ' "$F"'sleeper_main '

grep -qE 'stopped for [0-9.]+ ms \(4 threads\)' "$WORK/dump.err" ||
	fail "stop time not reported: $(cat "$WORK/dump.err")"
assert_released "$PID" "after dump"
# Still alive and making progress.
tid=$(tid_named "$PID" spinner)
t0=$(cpu_ticks "$PID" "$tid")
sleep 0.3
t1=$(cpu_ticks "$PID" "$tid")
[ "$t1" -gt "$t0" ] && pass "spinner runs after dump" || fail "spinner does not run after dump"

expect_exit 0 "dump --json" "$SMOLDER" dump -p "$PID" --json
python3 - "$WORK/out" "$PID" <<'PY' || fail "dump --json content"
import json, sys
doc = json.load(open(sys.argv[1]))
pid = int(sys.argv[2])
assert doc["pid"] == pid, doc["pid"]
assert doc["stopped_ms"] > 0
names = {t["name"]: t for t in doc["threads"]}
assert set(names) == {"threads_known", "spinner", "libworker", "sleeper"}, names.keys()
def funcs(n): return [f["function"] for f in names[n]["frames"]]
assert "fixture_spin_leaf" == funcs("spinner")[0], funcs("spinner")
lib = names["libworker"]["frames"]
assert any(f["function"] == "threads_lib_mix" and f["inlined"] for f in lib), lib
assert any(f["function"] == "threads_lib_spin" and f["module"] == "libthreads_lib.so"
           and f["file"].endswith("libthreads_lib.c") and f["line"] for f in lib), lib
assert "fixture_block_in_read" in funcs("threads_known")
assert all(f["address"].startswith("0x") for t in doc["threads"] for f in t["frames"])
print("json ok")
PY
assert_released "$PID" "after dump --json"

expect_exit 2 "dump of a missing PID" "$SMOLDER" dump -p 4194000
finish
