# test_leaks_verdicts: every leak fixture under `smolder leaks -p` at once (25 s, in parallel):
# verdicts (leak / plateau / churn), leak rates within 25% of the true rates, complete stacks
# through frame-pointer-less code, C++ new/delete and a jemalloc-linked target.
source "$(dirname "$0")/lib.sh"
require_root_bpf
CHECK="python3 $(dirname "$0")/leaks_check.py"
DURATION=${LEAKS_TEST_DURATION:-25}

declare -A SPID
for fx in leak_linear leak_calloc_thread cache_plateau churn realloc_growth leak_cxx leak_jemalloc; do
	start_fixture "$fx"
	eval "PID_$fx=$FIXTURE_PID"
done
sleep 1 # the fixtures run before smolder attaches, as services do

for fx in leak_linear leak_calloc_thread cache_plateau churn realloc_growth leak_cxx leak_jemalloc; do
	pid_var="PID_$fx"
	"$SMOLDER" leaks -p "${!pid_var}" -d "$DURATION" -o "$WORK/$fx.json" -o "$WORK/$fx.svg" \
		-o "$WORK/$fx.growth.folded" >"$WORK/$fx.txt" 2>"$WORK/$fx.err" &
	SPID[$fx]=$!
done
for fx in "${!SPID[@]}"; do
	if wait "${SPID[$fx]}"; then pass "$fx: smolder leaks exited 0"; else
		fail "$fx: smolder leaks failed: $(tail -3 "$WORK/$fx.err")"
	fi
	[ -s "$WORK/$fx.json" ] || fail "$fx: no JSON report"
done

check() {
	if out=$($CHECK "$@" 2>&1); then pass "$out"; else fail "$out"; fi
}
check "$WORK/leak_linear.json" store_put leak 409600
check "$WORK/leak_linear.json" '!parse_request' leak
check "$WORK/leak_calloc_thread.json" worker leak 51200
check "$WORK/leak_calloc_thread.json" '!churn' leak
check "$WORK/cache_plateau.json" cache_insert plateau
check "$WORK/churn.json" work_item churn
check "$WORK/realloc_growth.json" buffer_append leak 100000
check "$WORK/leak_cxx.json" register_listener leak 51200
check "$WORK/leak_cxx.json" '!handle_event' leak
check "$WORK/leak_jemalloc.json" record_metric leak 204800
check "$WORK/leak_jemalloc.json" '!scratch_work' leak

# Text summary: human rates and the verdict of the top site.
if grep -q "#1 leak .*KiB/s (.*/h)" "$WORK/leak_linear.txt"; then pass "text summary ranks the leak first"; else
	fail "text summary: $(head -5 "$WORK/leak_linear.txt")"
fi
# Flame graphs: SVG with the mem palette's bytes unit; growth folded names the leaking stack.
if grep -q "<svg" "$WORK/leak_linear.svg" && grep -q "bytes" "$WORK/leak_linear.svg"; then
	pass "outstanding memory SVG written"
else fail "outstanding memory SVG missing or without bytes"; fi
if grep -q "main;serve_loop;store_put;malloc [0-9]" "$WORK/leak_linear.growth.folded"; then
	pass "growth flame graph names the leaking stack, allocator as leaf"
else fail "growth folded: $(head -3 "$WORK/leak_linear.growth.folded")"; fi
# The allocator function called is the leaf frame of each heap site (DESIGN's example stack).
for spec in "leak_linear store_put malloc" "leak_calloc_thread worker calloc" \
	"leak_cxx register_listener operator new(unsigned long)" "realloc_growth buffer_append realloc"; do
	set -- $spec
	fx=$1 fn=$2
	shift 2
	if python3 -c '
import json,sys; r=json.load(open(sys.argv[1])); fn, leaf = sys.argv[2], sys.argv[3]
s=max((s for s in r["sites"] if fn in s["stack"]), key=lambda s: s["outstanding_bytes"])
assert s["stack"][-1]==leaf and s["stack"][-2]==fn, s["stack"]
' "$WORK/$fx.json" "$fn" "$*"; then pass "$fx: $fn calls $* (leaf frame)"; else
		fail "$fx: leaf frame of the $fn site is not $*"
	fi
done
finish
