/* test_html.c: the HTML report (report/html.c, html_chart.c) from hand-made profile JSON: every
 * target string escaped, findings in impact order, charts bounded to HTML_CHART_POINTS points,
 * the memory table to HTML_MAX_SITES rows, absent parts said absent, bad JSON refused; and the
 * flame graph library's embedded mode it relies on (prefixed ids, no script or XML declaration,
 * the frame budget). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flamegraph.h"
#include "smolder/html_report.h"

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Renders in->json (and the given graphs) to a string; *ret gets the writer's result. */
static char *render(const char *json, const struct folded_profile *cpu, int *ret)
{
	struct html_report_input in = {.json = json, .json_len = strlen(json), .cpu = cpu};
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	*ret = html_report_write(fp, &in);
	fclose(fp);
	return buf;
}

/* A profile JSON with n timeline points and n_sites memory sites. */
static char *make_json(size_t n_points, size_t n_sites, const char *command)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	fprintf(fp,
		"{\"pid\": 42, \"command\": \"%s\", \"duration_s\": %zu.0, \"interval_s\": 1.0,"
		" \"frequency_hz\": 99, \"stop_reason\": \"load command finished\","
		" \"load\": {\"command\": \"wrk </script><b>\", \"exit_status\": 0, \"start_s\": "
		"1.0,"
		" \"end_s\": 5.0, \"output_tail\": \"x < y & z\"}, \"ops\": 100,"
		" \"per_op\": {\"cpu_s\": 0.001, \"allocations\": 2, \"leaked_bytes\": 10,"
		" \"rss_growth_bytes\": 5},"
		" \"cpu\": {\"samples\": 10, \"cpu_s\": 0.1, \"functions\": []},"
		" \"findings\": [{\"kind\": \"cpu\", \"text\": \"low <i>\", \"impact\": 0.1},"
		" {\"kind\": \"memory\", \"text\": \"high & mighty\", \"impact\": 0.9},"
		" {\"kind\": \"weird\\\"kind\", \"text\": \"middle\", \"impact\": 0.5}],"
		" \"dropped\": {\"cpu_samples\": 3}, \"smolder\": {\"cpu_s\": 0.5,"
		" \"max_rss_bytes\": 1048576},",
		command, n_points);
	fprintf(fp, " \"memory\": {\"totals\": {\"outstanding_bytes\": 1000}, \"sites\": [");
	for (size_t i = 0; i < n_sites; i++)
		fprintf(fp,
			"%s{\"stack\": [\"main\", \"f<%zu>\", \"malloc\"], \"locations\": [null,"
			" \"a.c:1\", null], \"outstanding_bytes\": %zu, \"growth_bytes_per_s\": "
			"1.0,"
			" \"verdict\": \"leak\", \"confidence\": 0.9, \"series\": [{\"t\": 0,"
			" \"bytes\": 0}, {\"t\": 1, \"bytes\": 10}]}",
			i ? "," : "", i, 100 + i);
	fprintf(fp, "]}, \"timeline\": [");
	for (size_t i = 0; i < n_points; i++)
		fprintf(fp,
			"%s{\"t\": %zu.0, \"cpu_user_pct\": %zu, \"cpu_sys_pct\": 1, \"rss_bytes\":"
			" 1000, \"heap_bytes\": 10, \"threads\": 2, \"fds\": 4, \"read_bytes\": 0,"
			" \"write_bytes\": 0, \"net_rx_bytes\": 5, \"net_tx_bytes\": 5,"
			" \"ctx_voluntary\": 1, \"ctx_involuntary\": 0}",
			i ? "," : "", i + 1, i == n_points / 2 ? (size_t)90 : (size_t)10);
	fprintf(fp, "]}");
	fclose(fp);
	return buf;
}

static void test_escaping_and_order(void **state)
{
	char *json = make_json(10, 3, "</script><img src=x>&\\\"'\\u001b[2J\\u202e");
	const char *names[] = {"main", "</script><script>alert(1)</script>"};
	struct folded_profile *cpu = folded_profile_new();
	char *page;
	int ret;

	(void)state;
	assert_int_equal(folded_profile_add(cpu, names, 2, 5), 0);
	page = render(json, cpu, &ret);
	assert_int_equal(ret, 0);
	assert_null(strstr(page, "<img src=x"));
	assert_null(strstr(page, "<script>alert"));
	assert_null(strstr(page, "<b>"));
	assert_non_null(strstr(page, "&lt;/script&gt;&lt;img src=x&gt;&amp;&quot;&#39;?[2J?"));
	assert_null(strchr(page, '\033'));
	assert_non_null(strstr(page, "wrk &lt;/script&gt;&lt;b&gt;"));
	assert_non_null(strstr(page, "x &lt; y &amp; z"));
	assert_non_null(strstr(page, "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(page, "f&lt;1&gt;"));
	/* one script element: the page's own */
	assert_int_equal(count(page, "<script"), 1);
	assert_int_equal(count(page, "</script>"), 1);
	/* findings by impact; an unknown kind gets the neutral style */
	assert_true(strstr(page, "high &amp; mighty") < strstr(page, ">middle<"));
	assert_true(strstr(page, ">middle<") < strstr(page, "low &lt;i&gt;"));
	assert_non_null(strstr(page, "class=\"kind other\">weird&quot;kind"));
	/* the flame graph embedded with its ids prefixed, no XML declaration */
	assert_non_null(strstr(page, "<svg id=\"cpu-svg\" class=\"smolder-flamegraph\""));
	assert_non_null(strstr(page, "id=\"cpu-frames\""));
	assert_null(strstr(page, "<?xml"));
	assert_non_null(strstr(page, "Off-CPU time was not collected"));
	assert_non_null(strstr(page, "at 99 Hz"));
	assert_non_null(strstr(page, "cpu_samples 3"));
	free(page);
	folded_profile_free(cpu);
	free(json);
}

static void test_bounds(void **state)
{
	char *json = make_json(3000, 45, "svc");
	char *page, *p;
	int ret;

	(void)state;
	page = render(json, NULL, &ret);
	assert_int_equal(ret, 0);
	assert_int_equal(count(page, "<tr class=\"site\">"), HTML_MAX_SITES);
	assert_non_null(strstr(page, "No on-CPU samples"));
	/* every chart's data holds at most HTML_CHART_POINTS points, the spike kept */
	assert_int_equal(count(page, "<figure class=\"chart\""),
			 5); /* cpu memory threads ctx net */
	/* disk stayed at zero: named, not drawn; faults are not in the JSON: neither */
	assert_non_null(strstr(page, "id=\"zero-disk\">Disk I/O</span>"));
	assert_null(strstr(page, "chart-faults"));
	assert_null(strstr(page, "zero-faults"));
	for (p = page; (p = strstr(p, " data-t=\"")); p++) {
		const char *end = strchr(p + 9, '"');
		size_t commas = 0;

		for (const char *c = p + 9; c < end; c++)
			commas += *c == ',';
		assert_true(commas + 1 <= HTML_CHART_POINTS);
	}
	assert_non_null(strstr(strstr(page, "id=\"chart-cpu\""), ",90,"));
	free(page);
	free(json);
}

static void test_absent_and_bad(void **state)
{
	const char *minimal = "{\"pid\": 1, \"command\": \"x\", \"duration_s\": 0.5,"
			      " \"timeline\": [], \"findings\": []}";
	char *page;
	int ret;

	(void)state;
	page = render(minimal, NULL, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(page, "Allocations were not tracked"));
	assert_non_null(strstr(page, "No timeline points"));
	assert_non_null(strstr(page, "Nothing stood out"));
	free(page);
	page = render("{\"pid\": ", NULL, &ret);
	assert_int_equal(ret, -EINVAL);
	free(page);
	page = render("[1, 2]", NULL, &ret);
	assert_int_equal(ret, -EINVAL);
	free(page);
}

static void test_embedded_graph(void **state)
{
	struct folded_profile *p = folded_profile_new();
	struct flamegraph_options o;
	char *svg = NULL, name[32];
	const char *frames[2] = {"main", name};
	size_t len = 0;
	FILE *fp;

	(void)state;
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "leaf%d", i);
		assert_int_equal(folded_profile_add(p, frames, 2, 1 + i % 7), 0);
	}
	flamegraph_options_init(&o);
	o.embed_id = "bad-id";
	fp = open_memstream(&svg, &len);
	assert_int_equal(flamegraph_render(p, &o, fp), -EINVAL);
	fclose(fp);
	free(svg);
	o.embed_id = "g1";
	o.minwidth = 0;
	o.max_frames = 500;
	fp = open_memstream(&svg, &len);
	assert_int_equal(flamegraph_render(p, &o, fp), 0);
	fclose(fp);
	assert_true(count(svg, "<g sm:x=") <= 500);
	assert_true(count(svg, "<g sm:x=") >= 100); /* culled, not emptied */
	assert_null(strstr(svg, "<?xml"));
	assert_null(strstr(svg, "<script"));
	assert_null(strstr(svg, "onload"));
	assert_non_null(strstr(svg, "id=\"g1-frames\""));
	assert_non_null(strstr(svg, "#g1-search"));
	assert_non_null(strstr(svg, "#g1-svg .hide"));
	assert_null(strstr(svg, "id=\"frames\""));
	free(svg);
	folded_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping_and_order),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_absent_and_bad),
		cmocka_unit_test(test_embedded_graph),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
