#!/usr/bin/env bash
# test_record_stacks.sh: `smolder record -p` with real eBPF on fixtures whose stacks are hard to
# unwind without frame pointers: a chain through our own shared library, a callback through
# glibc's qsort, a 12 KiB stack frame (beyond perf's 8 KiB copy), the same with .debug_frame
# instead of .eh_frame, and C++ templates with an inlined leaf. In each, >= 95% of the hot leaf's samples must carry the full chain from _start.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/record_lib.sh"
require_root_bpf

out=$WORK/sharedlib.folded
record_attach record_sharedlib 30 -- -F 499 -d 3 -o "$out"
[ "$RECORD_EXIT" -eq 0 ] || fail "sharedlib: exit $RECORD_EXIT: $(cat "$WORK/record.err")"
expect_folded_file "$out"
expect_chain "$out" foo_leaf "${ROOT_MAIN}main;run_lib_work;foo_entry;foo_middle;foo_leaf$" 100

out=$WORK/qsort.folded
record_attach record_qsort 30 -- -F 499 -d 3 -o "$out"
[ "$RECORD_EXIT" -eq 0 ] || fail "qsort: exit $RECORD_EXIT: $(cat "$WORK/record.err")"
expect_folded_file "$out"
# glibc 2.36's qsort jumps (tail call) to __qsort_r, so one of the two is on the stack; the
# merge-sort frames between it and the callback recurse to a varying depth: any names for them.
expect_chain "$out" compare_slow \
	"${ROOT_MAIN}main;sort_loop;(qsort;)?(__)?qsort(_r)?;([^;]+;)*compare_slow$" 100

out=$WORK/bigframe.folded
record_attach record_bigframe 30 -- -F 499 -d 3 -o "$out"
[ "$RECORD_EXIT" -eq 0 ] || fail "bigframe: exit $RECORD_EXIT: $(cat "$WORK/record.err")"
expect_folded_file "$out"
expect_chain "$out" big_leaf "${ROOT_MAIN}main;big_outer;big_frame;big_leaf$" 100

# The same fixture built with .debug_frame only (-fno-asynchronous-unwind-tables): no .eh_frame
# for its functions, so only .debug_frame can take the unwinder past the leaf.
out=$WORK/bigframe_debugframe.folded
record_attach record_bigframe_debugframe 30 -- -F 499 -d 3 -o "$out"
[ "$RECORD_EXIT" -eq 0 ] || fail "bigframe_debugframe: exit $RECORD_EXIT: $(cat "$WORK/record.err")"
expect_folded_file "$out"
expect_chain "$out" big_leaf "${ROOT_MAIN}main;big_outer;big_frame;big_leaf$" 100

out=$WORK/cpp.folded
record_attach record_cpp 30 -- -F 499 -d 3 -o "$out"
[ "$RECORD_EXIT" -eq 0 ] || fail "cpp: exit $RECORD_EXIT: $(cat "$WORK/record.err")"
expect_folded_file "$out"
# "_[i]" written with bracket expressions: awk -v would eat backslashes.
expect_chain "$out" 'fixture::mix_step.*_[[]i[]]' \
	"${ROOT_MAIN}main;run_templates[^;]*;fixture::Accumulator<unsigned long>::run[^;]*;fixture::mix_step[^;]*_[[]i[]]$" 100

finish
