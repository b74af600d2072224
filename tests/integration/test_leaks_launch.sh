# test_leaks_launch: `smolder leaks -- CMD` tracks from the first instruction. The fixture
# allocates only at startup (50 x 3000 B in a constructor, before main; 20 x 7000 B at the top of
# main) and exits: every one of those blocks must be in the report, on its own stack. Allocations
# on a coroutine's stack keep their frames. Also: a command that does not exist, and a static
# program without allocator functions, are clear errors.
source "$(dirname "$0")/lib.sh"
require_root_bpf

# Exit right away: nothing to attach to after the fact, the counts must still all be there.
"$SMOLDER" leaks -o "$WORK/quick.json" -- "$FIXTURES/launch_startup" >"$WORK/quick.txt" \
	2>"$WORK/quick.err"
code=$?
if [ "$code" -eq 0 ] && python3 -c '
import json,sys; r=json.load(open(sys.argv[1]))
assert r["stop_reason"]=="target exited", r["stop_reason"]
by=sorted((s["outstanding_allocs"], s["outstanding_bytes"]) for s in r["sites"])
assert (50, 150000) in by and (20, 140000) in by, by
' "$WORK/quick.json"; then pass "immediate exit: all 70 startup blocks seen"; else
	fail "immediate exit: exit $code, $(tail -3 "$WORK/quick.err")"
fi

# Stay a moment so symbols resolve: the constructor's blocks are attributed to the constructor.
"$SMOLDER" leaks -o "$WORK/slow.json" -- "$FIXTURES/launch_startup" 1500 >"$WORK/slow.txt" \
	2>"$WORK/slow.err"
code=$?
if [ "$code" -eq 0 ] && python3 -c '
import json,sys; r=json.load(open(sys.argv[1]))
def site(fn):
    s=[s for s in r["sites"] if fn in s["stack"]]
    assert len(s)==1, (fn, [x["stack"] for x in r["sites"]])
    return s[0]
c=site("startup_init")
assert (c["outstanding_allocs"], c["outstanding_bytes"])==(50, 150000), c
m=site("main_alloc")
assert (m["outstanding_allocs"], m["outstanding_bytes"])==(20, 140000), m
assert "main" in m["stack"], m["stack"]
' "$WORK/slow.json"; then pass "constructor and main allocations on their own stacks"; else
	fail "startup stacks: exit $code, $(tail -3 "$WORK/slow.err")"
fi

# A coroutine's stack (makecontext) ends a few hundred bytes above the allocating frame, with a
# guard page above: the probe's stack copy must stop at that end, not fail as a whole (which left
# the stack at its first frame, coro_alloc, marked truncated). Nothing calls the coroutine's entry
# (glibc's __start_context is reached by a return pushed by hand), so its stack stays truncated
# there; the frames below it must all be present. It stays a moment so that its objects are read
# while it runs (a program gone within milliseconds keeps the frames its maps named at exec).
"$SMOLDER" leaks -o "$WORK/coro.json" -- "$FIXTURES/leak_coroutine" 500 >"$WORK/coro.txt" \
	2>"$WORK/coro.err"
code=$?
if [ "$code" -eq 0 ] && python3 -c '
import json,sys; r=json.load(open(sys.argv[1]))
s=[s for s in r["sites"] if "coro_alloc" in s["stack"]]
assert len(s)==1, [x["stack"] for x in r["sites"]]
assert (s[0]["outstanding_allocs"], s[0]["outstanding_bytes"])==(40, 200000), s[0]
st=s[0]["stack"]
assert st.index("coro_body")==st.index("coro_alloc")-1, st
' "$WORK/coro.json"; then pass "coroutine stack copied up to its end: coro_body under coro_alloc"; else
	fail "coroutine stack: exit $code, $(tail -3 "$WORK/coro.err")"
fi

expect_exit 2 "launch of a missing command" "$SMOLDER" leaks -d 1 -o "$WORK/m.json" -- \
	/nonexistent/smolder-no-such-program
grep -q "cannot run" "$WORK/err" && pass "missing command is explained" ||
	fail "missing command message: $(cat "$WORK/err")"

cat >"$WORK/static.c" <<'SRC'
int main(void) { return 0; }
SRC
if cc -static -s -o "$WORK/static" "$WORK/static.c" 2>/dev/null; then
	expect_exit 2 "launch of a program without allocator functions" "$SMOLDER" leaks -d 1 \
		-o "$WORK/s.json" -- "$WORK/static"
	grep -q "no allocator functions" "$WORK/err" && pass "allocator error is explained" ||
		fail "allocator error message: $(cat "$WORK/err")"
else
	fail "cannot build a static test binary (libc6-dev static libs missing)"
fi
if [ -n "$(pids_by_cmdline "$FIXTURES/launch_startup")" ]; then fail "launched fixture left running"; else
	pass "no launched fixture left running"
fi
finish
