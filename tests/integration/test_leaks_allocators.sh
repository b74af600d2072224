# test_leaks_allocators: allocator APIs beyond malloc/calloc/realloc under `smolder leaks -p`:
# glibc's aligned family (posix_memalign, whose result comes back through a pointer argument;
# aligned_alloc; memalign and valloc churn) and a target linked with gperftools' tcmalloc, leaking
# through malloc (which tcmalloc defines) and churning through tc_malloc/tc_free; and anonymous
# mmap/munmap called directly (syscall tracepoints, reported as mmap sites apart from the heap).
# Rates within 25% of the fixtures' true rates, the churn never a leak, the allocator as the leaf.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/leaks_lib.sh"
require_root_bpf

leaks_attach_all "${LEAKS_TEST_DURATION:-20}" leak_aligned leak_tcmalloc leak_mmap

leaks_check "$WORK/leak_aligned.json" cache_aligned_block leak 102400
leaks_check "$WORK/leak_aligned.json" page_buffer leak 81920
leaks_check "$WORK/leak_aligned.json" '!scratch_aligned' leak
leaks_check "$WORK/leak_tcmalloc.json" index_document leak 153600
leaks_check "$WORK/leak_tcmalloc.json" '!parse_query' leak
leaks_check "$WORK/leak_mmap.json" mmap:map_region leak 1310720
leaks_check "$WORK/leak_mmap.json" mmap:scratch_mapping churn
leaks_check "$WORK/leak_mmap.json" '!mmap:scratch_mapping' leak
if grep -q "^Anonymous mmap outstanding: [1-9].* in [1-9][0-9]* mappings" "$WORK/leak_mmap.txt" &&
	grep -q "^Heap outstanding: 0 B" "$WORK/leak_mmap.txt"; then
	pass "leak_mmap: mappings reported apart from the heap"
else fail "leak_mmap: text summary: $(grep -E '^(Heap|Anonymous)' "$WORK/leak_mmap.txt")"; fi

# tcmalloc's own malloc and free were probed in its library (under their standard names, though
# tcmalloc exports them as aliases of tc_malloc and tc_free).
for fn in malloc free; do
	if grep -qE "probing $fn in [^ ]*/libtcmalloc[^/ ]* at " "$WORK/leak_tcmalloc.err"; then
		pass "leak_tcmalloc: $fn probed in libtcmalloc"
	else fail "leak_tcmalloc: $fn not probed in libtcmalloc: $(grep -c probing "$WORK/leak_tcmalloc.err") probes"; fi
done

# The allocator function called is the leaf frame of its heap site.
# glibc's aligned_alloc is an alias of memalign: the frame must carry the standard name.
expect_leaf_frame leak_aligned cache_aligned_block posix_memalign
expect_leaf_frame leak_aligned page_buffer aligned_alloc
expect_leaf_frame leak_tcmalloc index_document malloc
finish
