/* test_folded.c: the folded-stack profile: parsing edge cases, merging, the add API's copying
 * and sanitising, deterministic writing and round trips. */
#include "flamegraph_test_util.h"

#include <errno.h>
#include <math.h>

static void test_parse_merges_and_writes_sorted(void **state)
{
	struct folded_parse_stats st;
	struct folded_profile *p = parse_text("main;b 3\nmain;a 2\nmain;b 4\nother 1\n", &st);
	char *out = write_text(p);

	assert_int_equal(st.lines, 4);
	assert_int_equal(st.valid, 4);
	assert_int_equal(st.invalid, 0);
	assert_int_equal(folded_profile_stack_count(p), 3);
	assert_true(folded_profile_total(p) == 10);
	assert_string_equal(out, "main;a 2\nmain;b 7\nother 1\n");
	free(out);
	folded_profile_free(p);
}

static void test_parse_spaces_in_names(void **state)
{
	struct folded_parse_stats st;
	struct folded_profile *p =
		parse_text("main;do some work;operator new(unsigned long) 5\n", &st);
	char *out = write_text(p);

	assert_int_equal(st.invalid, 0);
	assert_string_equal(out, "main;do some work;operator new(unsigned long) 5\n");
	free(out);
	folded_profile_free(p);
}

static void test_parse_decimal_and_exponent_counts(void **state)
{
	struct folded_parse_stats st;
	struct folded_profile *p = parse_text("a;b 1.5\na;b 2.25\nc 1e3\nd 0.5\ne 7.\n", &st);
	char *out = write_text(p);

	assert_int_equal(st.valid, 5);
	assert_string_equal(out, "a;b 3.75\nc 1000\nd 0.5\ne 7\n");
	assert_true(fabs(folded_profile_total(p) - 1011.25) < 1e-9);
	free(out);
	folded_profile_free(p);
}

static void test_parse_invalid_lines_counted(void **state)
{
	struct folded_parse_stats st;
	struct folded_profile *p = parse_text("ok 1\n"
					      "a;b\n"	      /* no count */
					      "a;b 10 junk\n" /* trailing garbage */
					      "a;b 10abc\n"   /* garbage in count */
					      "a;b -5\n"      /* negative */
					      "a;b nan\n"     /* not a number */
					      "a;b 1e999\n"   /* overflows */
					      "a;b 0x10\n"    /* hex */
					      "   7\n"	      /* no stack */
					      "a;b .\n"	      /* no digits */
					      "also ok 2\n",
					      &st);
	char *out = write_text(p);

	assert_int_equal(st.lines, 11);
	assert_int_equal(st.valid, 2);
	assert_int_equal(st.invalid, 9);
	assert_int_equal(st.first_invalid_line, 2);
	assert_string_equal(out, "also ok 2\nok 1\n");
	free(out);
	folded_profile_free(p);
}

static void test_parse_crlf_blank_and_unterminated(void **state)
{
	struct folded_parse_stats st;
	struct folded_profile *p = parse_text("a;b 3\r\n\r\n   \n\t\nc;d 4  \t\r\ne 5", &st);
	char *out = write_text(p);

	assert_int_equal(st.lines, 6);
	assert_int_equal(st.blank, 3);
	assert_int_equal(st.invalid, 0);
	assert_int_equal(st.valid, 3);
	assert_string_equal(out, "a;b 3\nc;d 4\ne 5\n");
	free(out);
	folded_profile_free(p);
}

static void test_parse_empty_frames_become_unknown(void **state)
{
	struct folded_profile *p = parse_text("a;;b 1\n", NULL);
	char *out = write_text(p);

	assert_string_equal(out, "a;[unknown];b 1\n");
	free(out);
	folded_profile_free(p);
}

static void test_parse_zero_count_adds_nothing(void **state)
{
	struct folded_parse_stats st;
	struct folded_profile *p = parse_text("a 0\n", &st);

	assert_int_equal(st.valid, 1);
	assert_true(folded_profile_total(p) == 0);
	assert_int_equal(folded_profile_stack_count(p), 0);
	folded_profile_free(p);
}

/* Lines longer than the reader's 1 MiB chunk: one huge name and one very deep stack. */
static void test_parse_very_long_lines(void **state)
{
	size_t big = 3u << 20, depth = 200000;
	char *text = malloc(big + depth * 2 + 64), *out;
	size_t n = 0;
	struct folded_parse_stats st;
	struct folded_profile *p;

	assert_non_null(text);
	memset(text, 'x', big);
	n = big;
	n += (size_t)sprintf(text + n, " 2\n");
	for (size_t i = 0; i < depth; i++) {
		text[n++] = 'f';
		text[n++] = ';';
	}
	n += (size_t)sprintf(text + n - 1, " 3\n") - 1;
	text[n] = '\0';
	p = parse_text(text, &st);
	assert_int_equal(st.valid, 2);
	assert_int_equal(st.invalid, 0);
	assert_int_equal(folded_profile_stack_count(p), 2);
	assert_true(folded_profile_total(p) == 5);
	out = write_text(p);
	/* Sorted: "f;f;...;f 3" before "xxx... 2". */
	assert_int_equal(strlen(out), depth * 2 - 1 + 3 + big + 3);
	assert_memory_equal(out + depth * 2 - 1, " 3\n", 3);
	free(out);
	folded_profile_free(p);
	free(text);
}

/* A line past FOLDED_MAX_LINE is skipped and counted; the lines around it still parse. */
static void test_parse_over_long_line_skipped(void **state)
{
	size_t big = FOLDED_MAX_LINE + (3u << 20);
	char *text = malloc(big + 64);
	struct folded_parse_stats st;
	struct folded_profile *p;
	size_t n;

	(void)state;
	assert_non_null(text);
	n = (size_t)sprintf(text, "a;b 1\n");
	memset(text + n, 'y', big);
	n += big;
	sprintf(text + n, " 7\nc;d 2\n");
	p = parse_text(text, &st);
	assert_int_equal(st.valid, 2);
	assert_int_equal(st.too_long, 1);
	assert_int_equal(st.invalid, 1);
	assert_int_equal(st.first_invalid_line, 2);
	assert_true(folded_profile_total(p) == 3);
	folded_profile_free(p);

	/* Unterminated at the end of input: skipped too. */
	n = (size_t)sprintf(text, "a;b 1\n");
	memset(text + n, 'y', big);
	text[n + big] = '\0';
	p = parse_text(text, &st);
	assert_int_equal(st.valid, 1);
	assert_int_equal(st.too_long, 1);
	folded_profile_free(p);
	free(text);
}

/* An over-long line holding NUL bytes is binary data (a device such as /dev/zero, which never
 * ends): the parse stops with -EILSEQ and names the line. A NUL in an ordinary line is a byte of
 * a name like any other. */
static void test_parse_binary_stops(void **state)
{
	size_t big = FOLDED_MAX_LINE + 4096;
	char *text = calloc(1, big + 64);
	struct folded_parse_stats st;
	struct folded_profile *p = folded_profile_new();
	FILE *in;
	size_t n;

	(void)state;
	assert_non_null(text);
	memcpy(text, "a;b 1\nc\0d 2\n", 12);
	n = 12;
	in = fmemopen(text, big + n, "r");
	assert_non_null(in);
	assert_int_equal(folded_profile_parse(p, in, &st), -EILSEQ);
	assert_int_equal(st.nul_line, 3);
	assert_int_equal(st.valid, 2);
	fclose(in);
	folded_profile_free(p);
	free(text);
}

static void test_input_order_does_not_matter(void **state)
{
	const char *a = "main;x;y 1\nmain;x 2\nmain;z 3\nlib;q 4\nmain;x;y 5\n";
	const char *b = "main;x;y 5\nlib;q 4\nmain;z 3\nmain;x;y 1\nmain;x 2\n";
	struct folded_profile *pa = parse_text(a, NULL), *pb = parse_text(b, NULL);
	char *oa = write_text(pa), *ob = write_text(pb);

	assert_string_equal(oa, ob);
	assert_string_equal(oa, "lib;q 4\nmain;x 2\nmain;x;y 6\nmain;z 3\n");
	free(oa);
	free(ob);
	folded_profile_free(pa);
	folded_profile_free(pb);
}

static void test_write_round_trip(void **state)
{
	struct folded_profile *p = parse_text("a;b;c 1\na;b 2.5\nz 3\na;b;d 4\n", NULL), *q;
	char *o1 = write_text(p), *o2;

	q = parse_text(o1, NULL);
	o2 = write_text(q);
	assert_string_equal(o1, o2);
	free(o1);
	free(o2);
	folded_profile_free(p);
	folded_profile_free(q);
}

/* A merged count past 15 significant digits (found by fuzz_flamegraph): written with the digits
 * it needs to read back as the same value, so a second write is identical, and short decimals stay
 * short. */
static void test_write_round_trip_precision(void **state)
{
	struct folded_profile *p = parse_text("a;b 1.2\na;b 1111111111111111\nd 0.5\ne 0.1\n",
					      NULL),
			      *q;
	char *o1 = write_text(p), *o2;

	assert_string_equal(o1, "a;b 1111111111111112.2\nd 0.5\ne 0.1\n");
	q = parse_text(o1, NULL);
	o2 = write_text(q);
	assert_string_equal(o1, o2);
	free(o1);
	free(o2);
	folded_profile_free(p);
	folded_profile_free(q);
}

static void test_add_copies_and_sanitises(void **state)
{
	struct folded_profile *p = folded_profile_new();
	char name[16] = "mutable";
	const char *frames[] = {"main", name, "has;semi\nnl\r", ""};
	char *out;

	assert_int_equal(folded_profile_add(p, frames, 4, 2), 0);
	strcpy(name, "CHANGED");
	assert_int_equal(folded_profile_add(p, frames, 1, 1), 0);
	out = write_text(p);
	assert_string_equal(out, "main 1\nmain;mutable;has:semi nl ;[unknown] 2\n");
	free(out);
	folded_profile_free(p);
}

static void test_add_rejects_bad_arguments(void **state)
{
	struct folded_profile *p = folded_profile_new();
	const char *frames[] = {"a", NULL};

	assert_int_equal(folded_profile_add(p, frames, 0, 1), -EINVAL);
	assert_int_equal(folded_profile_add(p, frames, 2, 1), -EINVAL);
	assert_int_equal(folded_profile_add(p, frames, 1, -1), -EINVAL);
	assert_int_equal(folded_profile_add(p, frames, 1, NAN), -EINVAL);
	assert_int_equal(folded_profile_add(p, frames, 1, INFINITY), -EINVAL);
	assert_int_equal(folded_profile_add(p, frames, 1, 0), 0);
	assert_int_equal(folded_profile_stack_count(p), 0);
	folded_profile_free(p);
	folded_profile_free(NULL);
}

/* Dropping the merge index must not change merging: adds after compact still merge. */
static void test_compact_then_add_still_merges(void **state)
{
	struct folded_profile *p = parse_text("a;b 1\na;c 2\n", NULL);
	const char *frames[] = {"a", "b"};
	char *out;

	folded_profile_compact(p);
	folded_profile_compact(p);
	assert_int_equal(folded_profile_add(p, frames, 2, 5), 0);
	out = write_text(p);
	assert_string_equal(out, "a;b 6\na;c 2\n");
	free(out);
	folded_profile_free(p);
}

/* Many distinct stacks force the index and node arrays to grow several times. */
static void test_many_stacks_merge_exactly(void **state)
{
	struct folded_profile *p = folded_profile_new();
	char a[32], b[32];
	const char *frames[] = {"root", a, b};

	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 300; i++) {
			for (int j = 0; j < 100; j++) {
				snprintf(a, sizeof(a), "fn%d", i);
				snprintf(b, sizeof(b), "leaf%d", j);
				assert_int_equal(folded_profile_add(p, frames, 3, 1), 0);
			}
		}
	}
	assert_int_equal(folded_profile_stack_count(p), 30000);
	assert_true(folded_profile_total(p) == 60000);
	folded_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_merges_and_writes_sorted),
		cmocka_unit_test(test_parse_spaces_in_names),
		cmocka_unit_test(test_parse_decimal_and_exponent_counts),
		cmocka_unit_test(test_parse_invalid_lines_counted),
		cmocka_unit_test(test_parse_crlf_blank_and_unterminated),
		cmocka_unit_test(test_parse_empty_frames_become_unknown),
		cmocka_unit_test(test_parse_zero_count_adds_nothing),
		cmocka_unit_test(test_parse_very_long_lines),
		cmocka_unit_test(test_parse_over_long_line_skipped),
		cmocka_unit_test(test_parse_binary_stops),
		cmocka_unit_test(test_input_order_does_not_matter),
		cmocka_unit_test(test_write_round_trip),
		cmocka_unit_test(test_write_round_trip_precision),
		cmocka_unit_test(test_add_copies_and_sanitises),
		cmocka_unit_test(test_add_rejects_bad_arguments),
		cmocka_unit_test(test_compact_then_add_still_merges),
		cmocka_unit_test(test_many_stacks_merge_exactly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
