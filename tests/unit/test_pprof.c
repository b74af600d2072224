/* test_pprof.c: the pprof builder and reader: a profile with two sample types, a mapping with a
 * build id, inlined lines and a kernel frame is written gzipped and read back with the same
 * stacks (default sample type, "_[i]"/"_[k]" as in folded stacks); interning; broken input (bad
 * gzip, not protobuf, dangling location ids, string indices out of range) is a clear -EINVAL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.pb-c.h"
#include "smolder/pprof.h"
#include "smolder/report_input.h"

static char *write_profile(struct pprof_builder *b, size_t *len)
{
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, len);

	assert_non_null(fp);
	assert_int_equal(pprof_builder_write(b, fp), 0);
	assert_int_equal(fclose(fp), 0);
	return buf;
}

static const char *stack_text(const struct report_stack *s, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n_frames; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ";" : "", s->frames[i]);
	return buf;
}

static void test_round_trip(void **state)
{
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_line leaf[2] = {{"inlined_helper", "a.c", 10}, {"leaf_fn", "a.c", 20}};
	struct pprof_line root = {"main", "main.c", 5}, kern = {"do_syscall_64", NULL, 0};
	struct report_input *in = NULL;
	uint64_t map, kmap, l_leaf, l_root, l_kern, stack[3];
	int64_t v1[2] = {3, 30}, v2[2] = {1, 10};
	char err[256], text[256];
	size_t len;
	char *buf;

	(void)state;
	assert_non_null(b);
	assert_int_equal(pprof_builder_sample_type(b, "samples", "count"), 0);
	assert_int_equal(pprof_builder_sample_type(b, "cpu", "nanoseconds"), 0);
	assert_int_equal(pprof_builder_default_type(b, "samples"), 0);
	map = pprof_builder_mapping(b, 0x1000, 0x2000, 0, "/bin/app", "abcdef");
	assert_true(map > 0);
	assert_int_equal(pprof_builder_mapping(b, 0x1000, 0x2000, 0, "/bin/app", "abcdef"), map);
	kmap = pprof_builder_mapping(b, 0xffff800000000000ull, UINT64_MAX, 0, "[kernel.kallsyms]",
				     NULL);
	l_leaf = pprof_builder_location(b, map, 0x1234, leaf, 2);
	l_root = pprof_builder_location(b, map, 0x1100, &root, 1);
	l_kern = pprof_builder_location(b, kmap, 0xffffffff81000000ull, &kern, 1);
	assert_true(l_leaf && l_root && l_kern);
	assert_int_equal(pprof_builder_location(b, map, 0x1234, leaf, 2), l_leaf); /* interned */
	stack[0] = l_kern;
	stack[1] = l_leaf;
	stack[2] = l_root;
	assert_int_equal(pprof_builder_sample(b, stack, 3, v1), 0);
	assert_int_equal(pprof_builder_sample(b, stack + 1, 2, v2), 0);
	/* sample types cannot change once samples exist */
	assert_int_equal(pprof_builder_sample_type(b, "late", "count"), -EINVAL);
	buf = write_profile(b, &len);
	pprof_builder_free(b);
	assert_true((unsigned char)buf[0] == 0x1f && (unsigned char)buf[1] == 0x8b);

	assert_int_equal(report_input_parse(buf, len, "x.pb.gz", &in, err, sizeof(err)), 0);
	assert_int_equal(in->kind, REPORT_KIND_PPROF);
	assert_string_equal(in->countname, "samples"); /* the default type, count -> samples */
	assert_int_equal(in->n_stacks, 2);
	assert_true(in->total == 4);
	assert_string_equal(stack_text(&in->stacks[0], text, sizeof(text)),
			    "main;leaf_fn;inlined_helper_[i];do_syscall_64_[k]");
	assert_true(in->stacks[0].weight == 3);
	assert_string_equal(stack_text(&in->stacks[1], text, sizeof(text)),
			    "main;leaf_fn;inlined_helper_[i]");
	assert_true(isnan(in->cpu_seconds)); /* samples, not cpu time, were read */
	report_input_free(in);
	free(buf);
}

static void expect_invalid(const void *data, size_t len, const char *needle)
{
	struct report_input *in = NULL;
	char err[256] = "";

	assert_int_equal(report_input_parse(data, len, "bad.pb", &in, err, sizeof(err)), -EINVAL);
	assert_null(in);
	if (!strstr(err, needle))
		fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_broken_input(void **state)
{
	Perftools__Profiles__Profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vt = PERFTOOLS__PROFILES__VALUE_TYPE__INIT, *vts[1] = {&vt};
	Perftools__Profiles__Sample s = PERFTOOLS__PROFILES__SAMPLE__INIT, *ss[1] = {&s};
	char *strings[] = {"", "cpu", "nanoseconds"};
	uint64_t ids[1] = {7};
	int64_t values[1] = {5};
	uint8_t buf[512];
	size_t len;

	(void)state;
	expect_invalid("\x1f\x8b\x08\x00\x00\x00", 6, "corrupt gzip");
	expect_invalid("\xff\xff\xff\xff", 4, "not a pprof profile");
	p.n_string_table = 3;
	p.string_table = strings;
	p.n_sample_type = 1;
	p.sample_type = vts;
	vt.type = 1;
	vt.unit = 2;
	p.n_sample = 1;
	p.sample = ss;
	s.n_location_id = 1;
	s.location_id = ids;
	s.n_value = 1;
	s.value = values;
	len = perftools__profiles__profile__pack(&p, buf);
	expect_invalid(buf, len, "names location 7 that does not exist");
	vt.unit = 99; /* past the string table */
	len = perftools__profiles__profile__pack(&p, buf);
	expect_invalid(buf, len, "missing string");
	vt.unit = 2;
	p.n_sample_type = 0;
	len = perftools__profiles__profile__pack(&p, buf);
	expect_invalid(buf, len, "no sample types");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_broken_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
