# leaks_lib.sh: helpers for the `smolder leaks` integration tests (source after lib.sh).

# An array, expanded quoted: a checkout path may hold spaces.
LEAKS_CHECK=(python3 "$(dirname "${BASH_SOURCE[0]}")/leaks_check.py")

# leaks_attach_all DURATION FIXTURE...: starts every fixture, lets them run a second (services
# run before smolder attaches), then runs `smolder -v leaks -p` on all of them at once for
# DURATION seconds, writing $WORK/FIXTURE.{json,svg,growth.folded,txt,err}. Fails per fixture
# when smolder does not exit 0 or writes no JSON.
leaks_attach_all() {
	local duration=$1 fx
	shift
	local -A fixture_pid smolder_pid
	for fx in "$@"; do
		start_fixture "$fx"
		fixture_pid[$fx]=$FIXTURE_PID
	done
	sleep 1
	for fx in "$@"; do
		"$SMOLDER" -v leaks -p "${fixture_pid[$fx]}" -d "$duration" -o "$WORK/$fx.json" \
			-o "$WORK/$fx.svg" -o "$WORK/$fx.growth.folded" >"$WORK/$fx.txt" 2>"$WORK/$fx.err" &
		smolder_pid[$fx]=$!
	done
	for fx in "$@"; do
		if wait "${smolder_pid[$fx]}"; then pass "$fx: smolder leaks exited 0"; else
			fail "$fx: smolder leaks failed: $(grep -v 'debug:' "$WORK/$fx.err" | tail -3)"
		fi
		[ -s "$WORK/$fx.json" ] || fail "$fx: no JSON report"
	done
}

# leaks_check REPORT FUNCTION VERDICT [RATE]: see leaks_check.py.
leaks_check() {
	local out
	if out=$("${LEAKS_CHECK[@]}" "$@" 2>&1); then pass "$out"; else fail "$out"; fi
}

# expect_leaf_frame FIXTURE FUNCTION ALLOCATOR: the heap site through FUNCTION with the most
# outstanding bytes has ALLOCATOR as its leaf frame, called from FUNCTION.
expect_leaf_frame() {
	local fx=$1 fn=$2
	shift 2
	if python3 -c '
import json,sys; r=json.load(open(sys.argv[1])); fn, leaf = sys.argv[2], sys.argv[3]
s=max((s for s in r["sites"] if fn in s["stack"]), key=lambda s: s["outstanding_bytes"])
assert s["stack"][-1]==leaf and s["stack"][-2]==fn, s["stack"]
' "$WORK/$fx.json" "$fn" "$*"; then pass "$fx: $fn calls $* (leaf frame)"; else
		fail "$fx: leaf frame of the $fn site is not $*"
	fi
}
