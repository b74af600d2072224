/* test_profile_output.c: folding weighted stacks: root-first order, merging of stacks that fold to
 * the same line, --no-kernel, --threads root frames, raw addresses without a symbolizer, real
 * names through the symbolizer on this test's own code, and atomic folded/JSON files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smolder/frame_names.h"
#include "smolder/profile_output.h"
#include "smolder/symbolizer.h"

static char *folded_text(const struct profile_folded *f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	assert_int_equal(profile_folded_write(f, fp), 0);
	fclose(fp);
	return buf;
}

static const char *name_of(void *ctx, int32_t tid)
{
	(void)ctx;
	return tid == 5 ? "main;thread\n" : NULL;
}

static void test_raw_fold(void **state)
{
	struct stack_table *t = stack_table_new();
	uint64_t s0[] = {0xffffffff81000010ULL, 0x1003, 0x2003}; /* kernel leaf, user leaf, root */
	uint64_t s1[] = {0x1003, 0x2003};
	struct profile_output_options o = {0};
	struct profile_output_stats st;
	struct profile_folded *f;
	struct profile_weight w[3];
	uint32_t id0, id1;
	char *text;

	(void)state;
	assert_int_equal(stack_table_add(t, s0, 3, &id0), 0);
	assert_int_equal(stack_table_add(t, s1, 2, &id1), 0);
	w[0] = (struct profile_weight){id0, 5, 3};
	w[1] = (struct profile_weight){id1, 5, 4};
	w[2] = (struct profile_weight){id1, 6, 1};

	f = profile_output_fold(t, w, 3, NULL, &o, &st);
	assert_non_null(f);
	text = folded_text(f);
	assert_string_equal(text, "0x2003;0x1003 5\n0x2003;0x1003;0xffffffff81000010_[k] 3\n");
	assert_int_equal(st.unique_addresses, 3);
	assert_int_equal(st.folded_stacks, 2);
	assert_int_equal(st.unknown_addresses, 3);
	free(text);
	profile_folded_free(f);

	/* --no-kernel merges the kernel-tailed stack into the user one. */
	o.no_kernel = true;
	f = profile_output_fold(t, w, 3, NULL, &o, &st);
	text = folded_text(f);
	assert_string_equal(text, "0x2003;0x1003 8\n");
	free(text);
	profile_folded_free(f);

	/* --threads: a sanitised NAME-TID root, or the bare TID without a name. */
	o.threads = true;
	o.thread_name = name_of;
	f = profile_output_fold(t, w, 3, NULL, &o, &st);
	text = folded_text(f);
	assert_string_equal(text, "6;0x2003;0x1003 1\nmain:thread?-5;0x2003;0x1003 7\n");
	free(text);
	profile_folded_free(f);
	profile_folded_free(NULL);
	stack_table_free(t);
}

__attribute__((noinline)) static int marker_function(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 3 + 1;
}

static void test_symbolized_and_files(void **state)
{
	struct symbolizer *sym = symbolizer_new(getpid());
	struct stack_table *t = stack_table_new();
	uint64_t frames[] = {(uint64_t)(uintptr_t)marker_function + 4,
			     (uint64_t)(uintptr_t)test_symbolized_and_files + 8};
	struct profile_output_options o = {0};
	struct profile_output_meta meta = {.pid = 1, .command = "t", .samples = 2};
	struct profile_output_stats st;
	struct profile_weight w;
	struct profile_folded *f;
	struct cli_output outs[2];
	char dir[] = "/tmp/test_profile_output.XXXXXX", path[2][128], line[512];
	FILE *fp;
	char *text;

	(void)state;
	assert_int_equal(marker_function(1), 4);
	assert_non_null(sym);
	assert_int_equal(stack_table_add(t, frames, 2, &w.stack_id), 0);
	w.tid = 1;
	w.weight = 2;
	f = profile_output_fold(t, &w, 1, sym, &o, &st);
	assert_non_null(f);
	text = folded_text(f);
	assert_string_equal(text, "test_symbolized_and_files;marker_function 2\n");
	free(text);

	assert_non_null(mkdtemp(dir));
	snprintf(path[0], sizeof(path[0]), "%s/p.folded", dir);
	snprintf(path[1], sizeof(path[1]), "%s/p.json", dir);
	outs[0] = (struct cli_output){path[0], OUTPUT_FORMAT_FOLDED};
	outs[1] = (struct cli_output){path[1], OUTPUT_FORMAT_JSON};
	assert_int_equal(profile_output_write(f, outs, 2, &o, &meta), 0);
	fp = fopen(path[0], "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_string_equal(line, "test_symbolized_and_files;marker_function 2\n");
	fclose(fp);
	fp = fopen(path[1], "r");
	assert_non_null(fp);
	text = calloc(1, 4096);
	assert_true(fread(text, 1, 4095, fp) > 0);
	fclose(fp);
	assert_non_null(strstr(text, "\"stack\": [\n        \"test_symbolized_and_files\",\n"));
	assert_non_null(strstr(text, "\"count\": 2"));
	free(text);
	unlink(path[0]);
	unlink(path[1]);
	rmdir(dir);
	profile_folded_free(f);
	stack_table_free(t);
	symbolizer_free(sym);
}

/* A truncated stack (outermost frame the [truncated] marker) folds with "[truncated]" as its root
 * and is flagged in JSON; a complete one is not; named frames come from the registry. */
static void test_truncated_marker(void **state)
{
	struct frame_names *names = frame_names_new();
	struct stack_table *t = stack_table_new();
	struct profile_output_options o = {0};
	struct profile_output_meta meta = {.pid = 1, .command = "t", .samples = 5};
	struct profile_output_stats st;
	struct profile_weight w[2];
	struct profile_folded *f;
	struct cli_output out;
	uint64_t cut[3] = {0x1003, 0x2003, 0}, whole[2] = {0x1003, 0x3003};
	char dir[] = "/tmp/test_profile_output.XXXXXX", path[128];
	char *text;
	FILE *fp;

	(void)state;
	assert_non_null(names);
	assert_int_equal(frame_names_truncated(names, &cut[2]), 0);
	assert_int_equal(stack_table_add(t, cut, 3, &w[0].stack_id), 0);
	assert_int_equal(stack_table_add(t, whole, 2, &w[1].stack_id), 0);
	w[0].tid = w[1].tid = 1;
	w[0].weight = 3;
	w[1].weight = 2;
	o.names = names;
	f = profile_output_fold(t, w, 2, NULL, &o, &st);
	assert_non_null(f);
	text = folded_text(f);
	assert_string_equal(text, "0x3003;0x1003 2\n[truncated];0x2003;0x1003 3\n");
	free(text);
	/* A marker is not an unknown address. */
	assert_int_equal(st.unknown_addresses, 3);

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/p.json", dir);
	out = (struct cli_output){path, OUTPUT_FORMAT_JSON};
	assert_int_equal(profile_output_write(f, &out, 1, &o, &meta), 0);
	fp = fopen(path, "r");
	assert_non_null(fp);
	text = calloc(1, 4096);
	assert_true(fread(text, 1, 4095, fp) > 0);
	fclose(fp);
	assert_non_null(strstr(text, "\"count\": 3,\n      \"truncated\": true"));
	assert_non_null(strstr(text, "\"count\": 2,\n      \"truncated\": false"));
	free(text);
	unlink(path);
	rmdir(dir);
	profile_folded_free(f);
	stack_table_free(t);
	frame_names_free(names);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raw_fold),
		cmocka_unit_test(test_symbolized_and_files),
		cmocka_unit_test(test_truncated_marker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
