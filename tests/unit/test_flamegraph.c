/* test_flamegraph.c: the SVG renderer: structure, escaping of hostile names and options, UTF-8
 * repair, palettes and kernel/inlined colouring, minwidth accounting, icicle layout, width,
 * labels, byte units, determinism. Every SVG is checked with xmllint. */
#include "flamegraph_test_util.h"
#include "flamegraph_internal.h"

#include <errno.h>

#define MAX_FRAMES 4096

static void parse_color(const char *fill, int *r, int *g, int *b)
{
	assert_int_equal(sscanf(fill, "#%2x%2x%2x", r, g, b), 3);
}

static void test_render_structure(void **state)
{
	struct folded_profile *p =
		parse_text("main;foo;bar 10\nmain;foo;baz 5\nmain;qux 5\n", NULL);
	char *svg = render_text(p, NULL);
	static struct svg_frame f[MAX_FRAMES];
	size_t n = svg_frames(svg, f, MAX_FRAMES);
	const struct svg_frame *all = find_frame(f, n, "all"), *foo = find_frame(f, n, "foo");

	assert_int_equal(n, 6);
	assert_non_null(all);
	assert_non_null(foo);
	assert_true(all->w == 20 && all->x == 0);
	assert_true(foo->w == 15);
	assert_true(all->rw > 1179.9 && all->rw < 1180.1); /* 1200 - 2 * 10 padding */
	assert_non_null(strstr(svg, ">Flame Graph</text>"));
	assert_non_null(strstr(svg, "<title>foo\n15 samples, 75.00%</title>"));
	/* siblings in name order: bar left of baz */
	assert_true(find_frame(f, n, "bar")->x < find_frame(f, n, "baz")->x);
	assert_int_equal(count_occurrences(svg, "<script"), 1);
	assert_int_equal(count_occurrences(svg, "]]>"), 1);
	free(svg);
	folded_profile_free(p);
}

static void test_hostile_names_are_text(void **state)
{
	struct folded_profile *p =
		parse_text("main;</script><script>alert(1)</script> 3\n"
			   "main;a&b 2\nmain;operator<< 2\nmain;x\"y\" 2\nmain;it's 1\n"
			   "main;]]> 1\nmain;<!-- c --> 1\nmain;bad\xff\xfe\xc0\xafutf8 1\n"
			   "main;ctl\x01\x1b[31m 1\nmain;\xed\xa0\x80surrogate 1\n",
			   NULL);
	struct flamegraph_options o;
	char *svg;

	flamegraph_options_init(&o);
	o.title = "</script><script>alert('t')</script>&";
	o.subtitle = "sub <b>\"x\"</b>\xff";
	o.countname = "<evil>";
	svg = render_text(p, &o);
	assert_int_equal(count_occurrences(svg, "<script"), 1);
	assert_int_equal(count_occurrences(svg, "]]>"), 1);
	assert_null(strstr(svg, "alert(1)</script>"));
	assert_non_null(strstr(svg, "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(svg, ">a&amp;b<"));
	assert_non_null(strstr(svg, ">operator&lt;&lt;<"));
	assert_non_null(strstr(svg, "x&quot;y&quot;"));
	assert_non_null(strstr(svg, "it&#39;s"));
	assert_non_null(strstr(svg, "&lt;evil&gt;"));
	assert_null(strstr(svg, "<evil>"));
	assert_null(strstr(svg, "<b>"));
	assert_null(strstr(svg, "\xff"));
	assert_null(strstr(svg, "\x01"));
	assert_null(strstr(svg, "\x1b"));
	assert_non_null(strstr(svg, "bad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdutf8"));
	free(svg);
	folded_profile_free(p);
}

static void test_sanitize_utf8(void **state)
{
	char out[64];
	size_t cps, n;

	n = flamegraph_sanitize_utf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x94\xa5", 15, out, &cps);
	assert_int_equal(n, 15);
	assert_memory_equal(out, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x94\xa5", 15);
	assert_int_equal(cps, 9);
	/* overlong '/', truncated sequence, U+FFFE, lone continuation */
	n = flamegraph_sanitize_utf8("\xc0\xaf|\xe2\x82|\xef\xbf\xbe|\x80", 11, out, &cps);
	assert_memory_equal(
		out, "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd",
		n);
	/* DEL, a C1 control (U+009B, CSI) and a bidi override (U+202E) would act on a terminal
	 * showing the diff summary. */
	n = flamegraph_sanitize_utf8("a\tb\nc\x7f\xc2\x9b\xe2\x80\xae", 11, out, NULL);
	assert_int_equal(n, 14);
	assert_memory_equal(out, "a b c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", n);
}

static void test_kernel_and_inlined_frames(void **state)
{
	struct folded_profile *p =
		parse_text("main;read_file;vfs_read_[k] 10\nmain;inl_helper_[i] 10\n", NULL);
	char *svg = render_text(p, NULL);
	static struct svg_frame f[MAX_FRAMES];
	size_t n = svg_frames(svg, f, MAX_FRAMES);
	const struct svg_frame *k = find_frame(f, n, "vfs_read"),
			       *i = find_frame(f, n, "inl_helper");
	const struct svg_frame *u = find_frame(f, n, "read_file");
	int r, g, b;

	assert_non_null(k);
	assert_non_null(i);
	assert_non_null(u);
	assert_null(strstr(svg, "_[k]"));
	assert_null(strstr(svg, "_[i]"));
	assert_non_null(strstr(svg, "<title>vfs_read\n10 samples, 50.00% (kernel)</title>"));
	assert_non_null(strstr(svg, "(inlined)</title>"));
	assert_string_equal(k->label, "vfs_read");
	parse_color(u->fill, &r, &g, &b);
	assert_true(r >= 205 && b <= 55); /* hot: red-yellow */
	parse_color(k->fill, &r, &g, &b);
	assert_true(b >= 200 && r <= 110); /* kernel: blue */
	parse_color(i->fill, &r, &g, &b);
	assert_true(g >= 200 && r <= 80); /* inlined: aqua green */
	free(svg);
	folded_profile_free(p);
}

/* JIT frames of JavaScript/Python functions ("_[j]", from perf maps): green, without the suffix,
 * marked in the tooltip. */
static void test_jit_frames(void **state)
{
	struct folded_profile *p = parse_text(
		"main;uv_run;handleRequest (server.js:27)_[j];renderPage (server.js:22)_[j] 10\n",
		NULL);
	char *svg = render_text(p, NULL);
	static struct svg_frame f[MAX_FRAMES];
	size_t n = svg_frames(svg, f, MAX_FRAMES);
	const struct svg_frame *j = find_frame(f, n, "handleRequest (server.js:27)");
	int r, g, b;

	assert_non_null(j);
	assert_null(strstr(svg, "_[j]"));
	assert_non_null(strstr(svg, "(JIT)</title>"));
	parse_color(j->fill, &r, &g, &b);
	assert_true(g >= 170 && r <= 110 && b <= 100); /* JIT: green */
	free(svg);
	folded_profile_free(p);
}

static void test_palettes_deterministic(void **state)
{
	struct folded_profile *p = parse_text("main;alpha 5\nmain;beta 5\n", NULL);
	struct flamegraph_options o;
	static struct svg_frame f1[16], f2[16];
	char *a, *b;
	int r, g, bl;

	flamegraph_options_init(&o);
	o.palette = FLAMEGRAPH_PALETTE_MEM;
	a = render_text(p, &o);
	b = render_text(p, &o);
	assert_string_equal(a, b);
	svg_frames(a, f1, 16);
	parse_color(find_frame(f1, 4, "alpha")->fill, &r, &g, &bl);
	assert_true(g > r && g > bl); /* mem: green */
	free(b);
	o.palette = FLAMEGRAPH_PALETTE_IO;
	b = render_text(p, &o);
	svg_frames(b, f2, 16);
	parse_color(find_frame(f2, 4, "alpha")->fill, &r, &g, &bl);
	assert_true(bl > r && bl > g); /* io: blue */
	assert_int_equal(flamegraph_palette_parse("io", &o.palette), 0);
	assert_int_equal(o.palette, FLAMEGRAPH_PALETTE_IO);
	assert_int_equal(flamegraph_palette_parse("pink", &o.palette), -EINVAL);
	free(a);
	free(b);
	folded_profile_free(p);
}

/* Narrow frames are dropped but their counts stay in their parents; no child is ever wider than
 * or outside its parent. */
static void test_minwidth_keeps_counts_in_parents(void **state)
{
	char *text = malloc(200000), *svg;
	size_t n = 0, count;
	struct flamegraph_options o;
	struct folded_profile *p;
	static struct svg_frame f[MAX_FRAMES];
	const struct svg_frame *parent;

	n += (size_t)sprintf(text + n, "main;big 100000\n");
	for (int i = 0; i < 1000; i++)
		n += (size_t)sprintf(text + n, "main;parent;tiny%04d 1\n", i);
	n += (size_t)sprintf(text + n, "main;parent;wide 9000\n");
	p = parse_text(text, NULL);
	flamegraph_options_init(&o);
	o.minwidth = 1.0;
	svg = render_text(p, &o);
	count = svg_frames(svg, f, MAX_FRAMES);
	assert_null(find_frame(f, count, "tiny0001"));
	parent = find_frame(f, count, "parent");
	assert_non_null(parent);
	assert_true(parent->w == 10000); /* 1000 dropped + 9000 drawn */
	assert_true(find_frame(f, count, "all")->w == 110000);
	for (size_t i = 0; i < count; i++) {
		bool contained = f[i].y == find_frame(f, count, "all")->y;

		assert_true(f[i].rw >= 1.0 - 0.005);
		for (size_t j = 0; j < count && !contained; j++) {
			if (f[j].y == f[i].y + 16 && f[j].x <= f[i].x &&
			    f[j].x + f[j].w >= f[i].x + f[i].w - 1e-9)
				contained = true;
		}
		assert_true(contained);
	}
	free(svg);
	/* minwidth 0 draws them all */
	o.minwidth = 0;
	svg = render_text(p, &o);
	assert_int_equal(svg_frames(svg, f, MAX_FRAMES), 1005);
	free(svg);
	free(text);
	folded_profile_free(p);
}

static void test_inverted_layout(void **state)
{
	struct folded_profile *p = parse_text("main;a;b 1\n", NULL);
	struct flamegraph_options o;
	static struct svg_frame f[8];
	char *svg;

	flamegraph_options_init(&o);
	svg = render_text(p, NULL);
	svg_frames(svg, f, 8);
	assert_true(find_frame(f, 4, "all")->y > find_frame(f, 4, "b")->y);
	free(svg);
	o.inverted = true;
	svg = render_text(p, &o);
	svg_frames(svg, f, 8);
	assert_true(find_frame(f, 4, "all")->y < find_frame(f, 4, "main")->y);
	assert_true(find_frame(f, 4, "main")->y < find_frame(f, 4, "b")->y);
	assert_non_null(strstr(svg, ">Icicle Graph</text>"));
	assert_non_null(strstr(svg, "sm:inverted=\"1\""));
	free(svg);
	folded_profile_free(p);
}

static void test_width_and_label_truncation(void **state)
{
	struct folded_profile *p = parse_text("a_really_long_function_name_that_cannot_fit 1\n"
					      "short 9\n",
					      NULL);
	struct flamegraph_options o;
	static struct svg_frame f[8];
	const struct svg_frame *lf;
	char *svg;
	size_t n;

	flamegraph_options_init(&o);
	o.width = 420; /* plot 400 px: the long frame gets 40 px, room for 4 characters */
	svg = render_text(p, &o);
	n = svg_frames(svg, f, 8);
	assert_non_null(strstr(svg, "width=\"420\""));
	lf = find_frame(f, n, "a_really_long_function_name_that_cannot_fit");
	assert_non_null(lf);
	assert_true(lf->rw > 39.99 && lf->rw < 40.01);
	assert_string_equal(lf->label, "a_..");
	assert_string_equal(find_frame(f, n, "short")->label, "short");
	free(svg);
	folded_profile_free(p);
}

static void test_bytes_use_human_units(void **state)
{
	struct folded_profile *p = parse_text("main;alloc 3145728\n", NULL);
	struct flamegraph_options o;
	char *svg;

	flamegraph_options_init(&o);
	o.countname = "bytes";
	o.palette = FLAMEGRAPH_PALETTE_MEM;
	svg = render_text(p, &o);
	assert_non_null(strstr(svg, "<title>alloc\n3.0 MiB (3,145,728 bytes), 100.00%</title>"));
	free(svg);
	folded_profile_free(p);
}

static void test_output_independent_of_input_order(void **state)
{
	struct folded_profile *a = parse_text("m;x 1\nm;y 2\nn 3\nm;x;z 0.5\n", NULL);
	struct folded_profile *b = parse_text("m;x;z 0.5\nn 3\nm;y 2\nm;x 1\n", NULL);
	char *sa = render_text(a, NULL), *sb = render_text(b, NULL);

	assert_string_equal(sa, sb);
	free(sa);
	free(sb);
	folded_profile_free(a);
	folded_profile_free(b);
}

static void test_rejects_empty_profile_and_bad_options(void **state)
{
	struct folded_profile *empty = folded_profile_new(), *p = parse_text("a 1\n", NULL);
	struct flamegraph_options o;
	FILE *out = fopen("/dev/null", "w");

	flamegraph_options_init(&o);
	assert_int_equal(flamegraph_render(empty, &o, out), -EINVAL);
	o.width = 10;
	assert_int_equal(flamegraph_render(p, &o, out), -EINVAL);
	flamegraph_options_init(&o);
	o.minwidth = -1;
	assert_int_equal(flamegraph_render(p, &o, out), -EINVAL);
	fclose(out);
	folded_profile_free(empty);
	folded_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_structure),
		cmocka_unit_test(test_hostile_names_are_text),
		cmocka_unit_test(test_sanitize_utf8),
		cmocka_unit_test(test_kernel_and_inlined_frames),
		cmocka_unit_test(test_jit_frames),
		cmocka_unit_test(test_palettes_deterministic),
		cmocka_unit_test(test_minwidth_keeps_counts_in_parents),
		cmocka_unit_test(test_inverted_layout),
		cmocka_unit_test(test_width_and_label_truncation),
		cmocka_unit_test(test_bytes_use_human_units),
		cmocka_unit_test(test_output_independent_of_input_order),
		cmocka_unit_test(test_rejects_empty_profile_and_bad_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
