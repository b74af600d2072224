/* test_pprof.c: the pprof builder and reader: a profile with two sample types, a mapping with a
 * build id, inlined lines and a kernel frame is written gzipped and read back with the same
 * stacks (default sample type, "_[i]"/"_[k]" as in folded stacks); interning; broken input (bad
 * gzip, not protobuf, dangling location ids, string indices out of range) is a clear -EINVAL.
 * Sample labels; a leak report's parts (pprof: mapped locations with build id and full source
 * path, named allocator and root locations, the three memory types; speedscope: outstanding and
 * growth profiles). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

#include "profile.pb-c.h"
#include "smolder/alloc_tracker.h"
#include "smolder/leak_report.h"
#include "smolder/pprof.h"
#include "smolder/report_input.h"
#include "smolder/report_parts.h"
#include "smolder/speedscope.h"

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

/* The gzipped profile in buf, inflated and decoded (free with free_unpacked). */
static Perftools__Profiles__Profile *unpack_gz(const char *buf, size_t len)
{
	z_stream zs = {0};
	static uint8_t out[1 << 20];
	Perftools__Profiles__Profile *p;

	assert_int_equal(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
	zs.next_in = (Bytef *)buf;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = sizeof(out);
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	p = perftools__profiles__profile__unpack(NULL, zs.total_out, out);
	inflateEnd(&zs);
	assert_non_null(p);
	return p;
}

static void test_labels(void **state)
{
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_line line = {"root", NULL, 0};
	Perftools__Profiles__Profile *p;
	uint64_t loc;
	int64_t v = 5;
	size_t len;
	char *buf;

	(void)state;
	assert_int_equal(pprof_builder_sample_type(b, "samples", "count"), 0);
	loc = pprof_builder_location(b, 0, 0, &line, 1);
	assert_int_equal(pprof_builder_label(b, "pid", NULL, 1), -EINVAL); /* no sample yet */
	assert_int_equal(pprof_builder_sample(b, &loc, 1, &v), 0);
	assert_int_equal(pprof_builder_label(b, "pid", NULL, 4242), 0);
	assert_int_equal(pprof_builder_label(b, "command", "server", 0), 0);
	assert_int_equal(pprof_builder_sample(b, &loc, 1, &v), 0); /* a second, unlabelled */
	buf = write_profile(b, &len);
	pprof_builder_free(b);
	p = unpack_gz(buf, len);
	assert_int_equal(p->n_sample, 2);
	assert_int_equal(p->sample[0]->n_label, 2);
	assert_string_equal(p->string_table[p->sample[0]->label[0]->key], "pid");
	assert_int_equal(p->sample[0]->label[0]->num, 4242);
	assert_int_equal(p->sample[0]->label[0]->str, 0);
	assert_string_equal(p->string_table[p->sample[0]->label[1]->key], "command");
	assert_string_equal(p->string_table[p->sample[0]->label[1]->str], "server");
	assert_int_equal(p->sample[1]->n_label, 0);
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(buf);
}

/* A leak report of one heap site: main -> store (inlined into serve) -> malloc, with addresses
 * for main and serve/store in /bin/app. */
static void make_report(struct leak_report *r)
{
	static char *frames[] = {"main", "serve", "store_[i]", "malloc"};
	static char *locations[] = {"app.c:10", "app.c:20", "store.h:5", NULL};
	static uint64_t addresses[] = {0x1100, 0x1234, 0x1234, 0};
	static uint32_t modules[] = {1, 1, 1, 0};
	static char *files[] = {"/src/app.c", "/src/app.c", "/src/store.h", NULL};
	static struct leak_module module = {.path = "/bin/app",
					    .build_id = "0123abcd",
					    .start = 0x1000,
					    .end = 0x2000,
					    .offset = 0};
	static struct leak_site site;

	memset(r, 0, sizeof(*r));
	memset(&site, 0, sizeof(site));
	site.frames = frames;
	site.locations = locations;
	site.n_frames = 4;
	site.addresses = addresses;
	site.modules = modules;
	site.source_files = files;
	site.n_addresses = 4;
	site.outstanding_bytes = 4096;
	site.outstanding_allocs = 16;
	site.first_bytes = 1024;
	r->pid = 77;
	snprintf(r->command, sizeof(r->command), "app");
	r->duration_s = 2;
	r->sites = &site;
	r->n_sites = 1;
	r->modules = &module;
	r->n_modules = 1;
}

static const char *function_name(const Perftools__Profiles__Profile *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_function; i++)
		if (p->function[i]->id == id)
			return p->string_table[p->function[i]->name];
	return NULL;
}

static void test_leak_parts(void **state)
{
	struct leak_report r;
	struct report_parts parts = {.tool = "leaks"};
	Perftools__Profiles__Profile *p;
	const Perftools__Profiles__Location *serve = NULL;
	char *buf = NULL;
	size_t len;
	FILE *fp;
	json_t *root, *profiles;
	json_error_t jerr;

	(void)state;
	make_report(&r);
	parts.memory = &r;
	fp = open_memstream(&buf, &len);
	assert_int_equal(pprof_write_parts(&parts, fp), 0);
	assert_int_equal(fclose(fp), 0);
	p = unpack_gz(buf, len);
	free(buf);
	assert_int_equal(p->n_sample_type, 3);
	assert_string_equal(p->string_table[p->sample_type[0]->type], "inuse_space");
	assert_string_equal(p->string_table[p->sample_type[2]->type], "growth_space");
	assert_string_equal(p->string_table[p->default_sample_type], "inuse_space");
	assert_int_equal(p->n_mapping, 1);
	assert_string_equal(p->string_table[p->mapping[0]->filename], "/bin/app");
	assert_string_equal(p->string_table[p->mapping[0]->build_id], "0123abcd");
	assert_int_equal(p->n_sample, 1);
	assert_int_equal(p->sample[0]->value[0], 4096);
	assert_int_equal(p->sample[0]->value[1], 16);
	assert_int_equal(p->sample[0]->value[2], 3072);
	/* leaf first: malloc (named), serve+store (one address), main, [heap] root */
	assert_int_equal(p->sample[0]->n_location_id, 4);
	for (size_t i = 0; i < p->n_location; i++)
		if (p->location[i]->id == p->sample[0]->location_id[1])
			serve = p->location[i];
	assert_non_null(serve);
	assert_int_equal(serve->address, 0x1234);
	assert_int_equal(serve->mapping_id, p->mapping[0]->id);
	assert_int_equal(serve->n_line, 2); /* innermost first: the inlined store, then serve */
	assert_string_equal(function_name(p, serve->line[0]->function_id), "store");
	assert_int_equal(serve->line[0]->line, 5);
	assert_string_equal(function_name(p, serve->line[1]->function_id), "serve");
	for (size_t i = 0; i < p->n_function; i++)
		if (!strcmp(p->string_table[p->function[i]->name], "store"))
			assert_string_equal(p->string_table[p->function[i]->filename],
					    "/src/store.h");
	perftools__profiles__profile__free_unpacked(p, NULL);

	/* speedscope: outstanding and growth profiles, frames shared */
	buf = NULL;
	fp = open_memstream(&buf, &len);
	assert_int_equal(speedscope_write_parts(&parts, fp), 0);
	assert_int_equal(fclose(fp), 0);
	root = json_loadb(buf, len, 0, &jerr);
	free(buf);
	assert_non_null(root);
	profiles = json_object_get(root, "profiles");
	assert_int_equal(json_array_size(profiles), 2);
	assert_true(json_number_value(json_array_get(
			    json_object_get(json_array_get(profiles, 0), "weights"), 0)) == 4096);
	assert_true(json_number_value(json_array_get(
			    json_object_get(json_array_get(profiles, 1), "weights"), 0)) == 3072);
	assert_int_equal(
		json_array_size(json_object_get(json_object_get(root, "shared"), "frames")),
		5); /* [heap], main, serve, store_[i], malloc */
	json_decref(root);

	/* no part at all */
	parts.memory = NULL;
	fp = open_memstream(&buf, &len);
	assert_int_equal(pprof_write_parts(&parts, fp), -EINVAL);
	assert_int_equal(speedscope_write_parts(&parts, fp), -EINVAL);
	fclose(fp);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_broken_input),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_leak_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
