# test_leaks_verdicts: every leak fixture under `smolder leaks -p` at once (25 s, in parallel):
# verdicts (leak / plateau / churn), leak rates within 25% of the true rates, complete stacks
# through frame-pointer-less code, C++ new/delete and a jemalloc-linked target.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/leaks_lib.sh"
require_root_bpf

leaks_attach_all "${LEAKS_TEST_DURATION:-25}" leak_linear leak_calloc_thread cache_plateau churn \
	realloc_growth leak_cxx leak_jemalloc

leaks_check "$WORK/leak_linear.json" store_put leak 409600
leaks_check "$WORK/leak_linear.json" '!parse_request' leak
leaks_check "$WORK/leak_calloc_thread.json" worker leak 51200
leaks_check "$WORK/leak_calloc_thread.json" '!churn' leak
leaks_check "$WORK/cache_plateau.json" cache_insert plateau
leaks_check "$WORK/churn.json" work_item churn
leaks_check "$WORK/realloc_growth.json" buffer_append leak 100000
leaks_check "$WORK/leak_cxx.json" register_listener leak 51200
leaks_check "$WORK/leak_cxx.json" '!handle_event' leak
leaks_check "$WORK/leak_jemalloc.json" record_metric leak 204800
leaks_check "$WORK/leak_jemalloc.json" '!scratch_work' leak

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
expect_leaf_frame leak_linear store_put malloc
expect_leaf_frame leak_calloc_thread worker calloc
expect_leaf_frame leak_cxx register_listener "operator new(unsigned long)"
expect_leaf_frame realloc_growth buffer_append realloc
finish
