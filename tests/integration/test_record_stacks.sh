#!/usr/bin/env bash
# test_record_stacks.sh: `smolder record -p` with real eBPF on fixtures whose stacks are hard to
# unwind without frame pointers: a chain through our own shared library, a callback through
# glibc's qsort, a 12 KiB stack frame (beyond perf's 8 KiB copy), and C++ templates with an
# inlined leaf. In each, >= 95% of the hot leaf's samples must carry the full chain from _start.
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
# glibc's internal frames between qsort and the callback are unnamed without libc debug info:
# accept any names for them, but qsort (exported) and our frames must be there.
expect_chain "$out" compare_slow "${ROOT_MAIN}main;sort_loop;qsort;([^;]+;)*compare_slow$" 100

out=$WORK/bigframe.folded
record_attach record_bigframe 30 -- -F 499 -d 3 -o "$out"
[ "$RECORD_EXIT" -eq 0 ] || fail "bigframe: exit $RECORD_EXIT: $(cat "$WORK/record.err")"
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
