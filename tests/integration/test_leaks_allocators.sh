# test_leaks_allocators: allocator APIs beyond malloc/calloc/realloc under `smolder leaks -p`:
# glibc's aligned family (posix_memalign, whose result comes back through a pointer argument;
# aligned_alloc; memalign and valloc churn) and a target linked with gperftools' tcmalloc, leaking
# through malloc (which tcmalloc defines) and churning through tc_malloc/tc_free. Rates within
# 25% of the fixtures' true rates, the churn never a leak, the allocator as the leaf frame.
source "$(dirname "$0")/lib.sh"
require_root_bpf
CHECK="python3 $(dirname "$0")/leaks_check.py"
DURATION=${LEAKS_TEST_DURATION:-20}
FIXTURES_RUN=(leak_aligned leak_tcmalloc)

declare -A SPID FPID
for fx in "${FIXTURES_RUN[@]}"; do
	start_fixture "$fx"
	FPID[$fx]=$FIXTURE_PID
done
sleep 1 # running before smolder attaches, as services do
for fx in "${FIXTURES_RUN[@]}"; do
	"$SMOLDER" -v leaks -p "${FPID[$fx]}" -d "$DURATION" -o "$WORK/$fx.json" \
		>"$WORK/$fx.txt" 2>"$WORK/$fx.err" &
	SPID[$fx]=$!
done
for fx in "${FIXTURES_RUN[@]}"; do
	if wait "${SPID[$fx]}"; then pass "$fx: smolder leaks exited 0"; else
		fail "$fx: smolder leaks failed: $(tail -3 "$WORK/$fx.err")"
	fi
	[ -s "$WORK/$fx.json" ] || fail "$fx: no JSON report"
done

check() {
	if out=$($CHECK "$@" 2>&1); then pass "$out"; else fail "$out"; fi
}
check "$WORK/leak_aligned.json" cache_aligned_block leak 102400
check "$WORK/leak_aligned.json" page_buffer leak 81920
check "$WORK/leak_aligned.json" '!scratch_aligned' leak
check "$WORK/leak_tcmalloc.json" index_document leak 153600
check "$WORK/leak_tcmalloc.json" '!parse_query' leak

# tcmalloc's own malloc and free were probed in its library (under their standard names, though
# tcmalloc exports them as aliases of tc_malloc and tc_free).
for fn in malloc free; do
	if grep -q "probing $fn in .*libtcmalloc" "$WORK/leak_tcmalloc.err"; then
		pass "leak_tcmalloc: $fn probed in libtcmalloc"
	else fail "leak_tcmalloc: $fn not probed in libtcmalloc: $(grep -c probing "$WORK/leak_tcmalloc.err") probes"; fi
done

# The allocator function called is the leaf frame of its heap site.
# glibc's aligned_alloc is an alias of memalign: the frame must carry the standard name called.
for spec in "leak_aligned cache_aligned_block posix_memalign" "leak_aligned page_buffer aligned_alloc" \
	"leak_tcmalloc index_document malloc"; do
	set -- $spec
	if python3 -c '
import json,sys; r=json.load(open(sys.argv[1])); fn, leaf = sys.argv[2], sys.argv[3]
s=max((s for s in r["sites"] if fn in s["stack"]), key=lambda s: s["outstanding_bytes"])
assert s["stack"][-1]==leaf and s["stack"][-2]==fn, s["stack"]
' "$WORK/$1.json" "$2" "$3"; then pass "$1: $2 calls $3 (leaf frame)"; else
		fail "$1: leaf frame of the $2 site is not $3"
	fi
done
finish
