/* test_diff.c: differential profiles: path matching, red/blue colouring by change, --normalize,
 * per-function total/self shares (recursion counted once), the --fail-on figure, stacks only in
 * BEFORE, and the summary table. */
#include "flamegraph_test_util.h"

#include <errno.h>
#include <math.h>

#define MAX_FRAMES 256

static char *render_diff(const struct flamegraph_diff *d)
{
	struct flamegraph_options o;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	flamegraph_options_init(&o);
	assert_non_null(out);
	assert_int_equal(flamegraph_diff_render(d, &o, out), 0);
	fclose(out);
	assert_xml_well_formed(buf);
	return take_buffer(buf);
}

static void color(const struct svg_frame *f, int *r, int *g, int *b)
{
	assert_non_null(f);
	assert_int_equal(sscanf(f->fill, "#%2x%2x%2x", r, g, b), 3);
}

static void test_colours_follow_change(void **state)
{
	struct folded_profile *before = parse_text("main;grow 10\nmain;shrink 50\nmain;same 40\n"
						   "main;gone 10\n",
						   NULL);
	struct folded_profile *after = parse_text("main;grow 40\nmain;shrink 10\nmain;same 40\n"
						  "main;new 20\n",
						  NULL);
	struct flamegraph_diff *d = flamegraph_diff_new(before, after, false);
	static struct svg_frame f[MAX_FRAMES];
	char *svg;
	size_t n;
	int r, g, b, r2, g2, b2;

	assert_non_null(d);
	svg = render_diff(d);
	n = svg_frames(svg, f, MAX_FRAMES);
	assert_null(find_frame(f, n, "gone")); /* widths come from AFTER */
	assert_true(find_frame(f, n, "grow")->w == 40);
	color(find_frame(f, n, "grow"), &r, &g, &b);
	assert_true(r == 255 && g < 235 && g == b); /* red */
	color(find_frame(f, n, "shrink"), &r2, &g2, &b2);
	assert_true(b2 == 255 && r2 < 235 && r2 == g2); /* blue */
	assert_string_equal(find_frame(f, n, "same")->fill, "#ebebeb");
	/* +30 and -40: the bigger change is the more saturated */
	assert_true(r2 < g);
	color(find_frame(f, n, "new"), &r, &g, &b);
	assert_true(r == 255 && g < 235);
	assert_non_null(strstr(svg, "<title>grow\n40 samples, 36.36%\nbefore: 10 samples, 9.09%; "
				    "change: +30 (+27.27 points)</title>"));
	assert_non_null(strstr(svg, ">Differential Flame Graph</text>"));
	free(svg);
	flamegraph_diff_free(d);
	folded_profile_free(before);
	folded_profile_free(after);
}

static void test_normalize_compares_shares(void **state)
{
	struct folded_profile *before = parse_text("main;a 10\nmain;b 30\n", NULL);
	struct folded_profile *after = parse_text("main;a 20\nmain;b 60\n", NULL);
	struct flamegraph_diff *raw = flamegraph_diff_new(before, after, false);
	struct flamegraph_diff *norm = flamegraph_diff_new(before, after, true);
	static struct svg_frame f[MAX_FRAMES];
	char *svg;
	size_t n;

	svg = render_diff(raw);
	n = svg_frames(svg, f, MAX_FRAMES);
	assert_string_not_equal(find_frame(f, n, "a")->fill, "#ebebeb"); /* counts doubled */
	free(svg);
	svg = render_diff(norm);
	n = svg_frames(svg, f, MAX_FRAMES);
	assert_string_equal(find_frame(f, n, "a")->fill, "#ebebeb"); /* shares unchanged */
	assert_string_equal(find_frame(f, n, "b")->fill, "#ebebeb");
	assert_non_null(strstr(svg, "change: +0.00 points"));
	free(svg);
	assert_true(fabs(flamegraph_diff_max_growth(norm, NULL)) < 1e-9);
	flamegraph_diff_free(raw);
	flamegraph_diff_free(norm);
	folded_profile_free(before);
	folded_profile_free(after);
}

static const struct flamegraph_diff_function *function(const struct flamegraph_diff *d,
						       const char *name)
{
	size_t n;
	const struct flamegraph_diff_function *f = flamegraph_diff_functions(d, &n);

	for (size_t i = 0; i < n; i++) {
		if (!strcmp(f[i].name, name))
			return &f[i];
	}
	return NULL;
}

static void test_function_shares_and_growth(void **state)
{
	/* f is recursive: its total share must count each stack once. */
	struct folded_profile *before = parse_text("main;f;f;f 10\nmain;g 30\n", NULL);
	struct folded_profile *after = parse_text("main;f;f;f 30\nmain;f 10\nmain;g 10\n", NULL);
	struct flamegraph_diff *d = flamegraph_diff_new(before, after, false);
	const struct flamegraph_diff_function *f, *g, *rows;
	const char *who;
	size_t n;

	assert_non_null(d);
	f = function(d, "f");
	g = function(d, "g");
	assert_non_null(f);
	assert_true(fabs(f->before_total - 25) < 1e-9);
	assert_true(fabs(f->after_total - 80) < 1e-9);
	assert_true(fabs(f->before_self - 25) < 1e-9);
	assert_true(fabs(f->after_self - 80) < 1e-9);
	assert_true(fabs(g->before_total - 75) < 1e-9);
	assert_true(fabs(g->after_total - 20) < 1e-9);
	assert_true(fabs(function(d, "main")->after_total - 100) < 1e-9);
	assert_true(fabs(flamegraph_diff_max_growth(d, &who) - 55) < 1e-9);
	assert_string_equal(who, "f");
	rows = flamegraph_diff_functions(d, &n);
	assert_int_equal(n, 3);
	assert_string_equal(rows[0].name, "f"); /* |55| before |-55| by name */
	assert_string_equal(rows[1].name, "g");
	assert_string_equal(rows[2].name, "main");
	flamegraph_diff_free(d);
	folded_profile_free(before);
	folded_profile_free(after);
}

static void test_removed_stacks_and_summary(void **state)
{
	struct folded_profile *before =
		parse_text("main;keep 50\nmain;old;x 20\nmain;old;y 10\nlegacy 20\n", NULL);
	struct folded_profile *after = parse_text("main;keep 50\nmain;fresh 5\n", NULL);
	struct flamegraph_diff *d = flamegraph_diff_new(before, after, false);
	double share;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	assert_int_equal(flamegraph_diff_removed_stacks(d, &share), 3);
	assert_true(fabs(share - 50) < 1e-9);
	out = open_memstream(&buf, &len);
	assert_int_equal(flamegraph_diff_write_summary(d, 10, out), 0);
	fclose(out);
	buf = take_buffer(buf);
	assert_non_null(strstr(buf, "legacy (only in before)"));
	assert_non_null(strstr(buf, "fresh (new)"));
	assert_non_null(strstr(buf, "stacks only in before: 3 (50.00% of before)"));
	assert_non_null(strstr(buf, "main;old\n"));
	assert_non_null(strstr(buf, " 20.00%  legacy\n"));
	assert_non_null(strstr(buf, "functions only in before: 4")); /* old, x, y, legacy */
	free(buf);
	flamegraph_diff_free(d);
	folded_profile_free(before);
	folded_profile_free(after);
}

static void test_identical_profiles(void **state)
{
	struct folded_profile *a = parse_text("main;a 1\nmain;b 2\n", NULL);
	struct flamegraph_diff *d = flamegraph_diff_new(a, a, false);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_true(flamegraph_diff_max_growth(d, NULL) == 0);
	assert_int_equal(flamegraph_diff_removed_stacks(d, NULL), 0);
	assert_int_equal(flamegraph_diff_write_summary(d, 10, out), 0);
	fclose(out);
	buf = take_buffer(buf);
	assert_non_null(strstr(buf, "no function's share changed"));
	free(buf);
	flamegraph_diff_free(d);
	folded_profile_free(a);
}

static void test_rejects_empty(void **state)
{
	struct folded_profile *empty = folded_profile_new(), *a = parse_text("a 1\n", NULL);

	errno = 0;
	assert_null(flamegraph_diff_new(empty, a, false));
	assert_int_equal(errno, EINVAL);
	assert_null(flamegraph_diff_new(a, empty, true));
	flamegraph_diff_free(NULL);
	folded_profile_free(empty);
	folded_profile_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_colours_follow_change),
		cmocka_unit_test(test_normalize_compares_shares),
		cmocka_unit_test(test_function_shares_and_growth),
		cmocka_unit_test(test_removed_stacks_and_summary),
		cmocka_unit_test(test_identical_profiles),
		cmocka_unit_test(test_rejects_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
