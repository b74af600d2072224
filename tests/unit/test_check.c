/* test_check.c: check's metrics from record, leaks and profile JSON (the profile report written by
 * hand from DESIGN.md's contract), function shares by name and regex, the budget parser's
 * errors, and the evaluation: absolute budgets, median of baselines, minimum change, the
 * sampling-noise allowance, the worst-baseline rule, and the dropped-events default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smolder/check.h"
#include "smolder/report_input.h"

static const char record_json[] =
	"{\"pid\": 1, \"command\": \"srv\", \"duration_s\": 2.0, \"frequency_hz\": 100,\n"
	" \"countname\": \"samples\",\n"
	" \"totals\": {\"samples\": 1000, \"lost\": 5, \"complete\": 1000, \"truncated\": 0},\n"
	" \"stacks\": [{\"stack\": [\"main\", \"handle\", \"parse\"], \"count\": 600},\n"
	"            {\"stack\": [\"main\", \"handle\", \"compute_[i]\"], \"count\": 300},\n"
	"            {\"stack\": [\"main\", \"idle\"], \"count\": 100}]}\n";

static const char leaks_json[] =
	"{\"pid\": 1, \"command\": \"srv\", \"duration_s\": 10.0, \"interval_s\": 1.0,\n"
	" \"totals\": {\"outstanding_bytes\": 5000, \"tracked_allocs\": 990, \"lost_events\": "
	"10},\n"
	" \"rss_growth_bytes_per_s\": 2048.0,\n"
	" \"rss\": [{\"t\": 0, \"rss_bytes\": 1000000}, {\"t\": 5, \"rss_bytes\": 3000000},\n"
	"         {\"t\": 10, \"rss_bytes\": 2000000}],\n"
	" \"sites\": [{\"stack\": [\"main\", \"store\", \"malloc\"], \"outstanding_bytes\": 4000,\n"
	"            \"growth_bytes_per_s\": 400.0, \"verdict\": \"leak\"},\n"
	"           {\"stack\": [\"main\", \"cache\", \"malloc\"], \"outstanding_bytes\": 1000,\n"
	"            \"growth_bytes_per_s\": 0.0, \"verdict\": \"plateau\"}]}\n";

/* DESIGN.md's profile report contract, filled in by hand. */
static const char profile_json[] =
	"{\"pid\": 1, \"command\": \"srv\", \"duration_s\": 30.0, \"interval_s\": 1.0,\n"
	" \"load\": {\"command\": \"wrk\", \"exit_status\": 0, \"start_s\": 0.1, \"end_s\": 30},\n"
	" \"ops\": 1000,\n"
	" \"per_op\": {\"cpu_s\": 0.003, \"leaked_bytes\": 200.0, \"allocations\": 3.0},\n"
	" \"cpu\": {\"samples\": 5000, \"functions\": [{\"name\": \"handle_sort\", \"self\": 0.1,\n"
	"          \"total\": 0.6}, {\"name\": \"handle_get\", \"self\": 0.2, \"total\": 0.3}]},\n"
	" \"off_cpu\": {\"seconds\": 1.0, \"functions\": []},\n"
	" \"memory\": {\"totals\": {\"tracked_allocs\": 3000}, \"sites\": [{\"stack\": [\"a\"],\n"
	"            \"verdict\": \"leak\", \"growth_bytes_per_s\": 6.5, \"outstanding_bytes\": "
	"1}]},\n"
	" \"timeline\": [{\"t\": 0, \"rss_bytes\": 100}, {\"t\": 1, \"rss_bytes\": 300},\n"
	"              {\"t\": 2, \"rss_bytes\": 500}],\n"
	" \"findings\": [], \"dropped\": {\"ringbuf\": 50, \"stacks\": 30}}\n";

static struct report_input *load(const char *text, const char *name)
{
	struct report_input *in = NULL;
	char err[256];

	assert_int_equal(report_input_parse(text, strlen(text), name, &in, err, sizeof(err)), 0);
	return in;
}

static double metric(const struct report_input *in, enum check_metric m, const char *function,
		     bool regex, double ops)
{
	struct check_spec spec = {.metric = m, .function = (char *)function, .is_regex = regex};
	double v = NAN, samples;
	char err[256];
	int ret;

	if (regex)
		assert_int_equal(regcomp(&spec.regex, function, REG_EXTENDED | REG_NOSUB), 0);
	ret = check_metric_value(in, &spec, ops, &v, &samples, err, sizeof(err));
	if (regex)
		regfree(&spec.regex);
	return ret ? NAN : v;
}

static void test_record_metrics(void **state)
{
	struct report_input *in = load(record_json, "rec.json");

	(void)state;
	assert_int_equal(in->kind, REPORT_KIND_RECORD);
	assert_int_equal(in->n_stacks, 3);
	assert_true(fabs(metric(in, CHECK_CPU_SECONDS, NULL, false, NAN) - 10.0) < 1e-9);
	assert_true(fabs(metric(in, CHECK_CPU_PER_OP, NULL, false, 1000) - 0.01) < 1e-12);
	assert_true(isnan(metric(in, CHECK_CPU_PER_OP, NULL, false, NAN))); /* no op count */
	assert_true(fabs(metric(in, CHECK_FUNCTION_SHARE, "handle", false, NAN) - 0.9) < 1e-12);
	/* the _[i] suffix is not part of the name */
	assert_true(fabs(metric(in, CHECK_FUNCTION_SELF_SHARE, "compute", false, NAN) - 0.3) <
		    1e-12);
	/* a regex matching two frames of one stack counts the stack once */
	assert_true(fabs(metric(in, CHECK_FUNCTION_SHARE, "^(handle|parse)$", true, NAN) - 0.9) <
		    1e-12);
	assert_true(fabs(metric(in, CHECK_DROPPED_RATIO, NULL, false, NAN) - 5.0 / 1005) < 1e-12);
	assert_true(isnan(metric(in, CHECK_PEAK_RSS, NULL, false, NAN)));
	report_input_free(in);
}

static void test_leaks_metrics(void **state)
{
	struct report_input *in = load(leaks_json, "leaks.json");

	(void)state;
	assert_int_equal(in->kind, REPORT_KIND_LEAKS);
	assert_true(metric(in, CHECK_PEAK_RSS, NULL, false, NAN) == 3000000);
	assert_true(metric(in, CHECK_RSS_GROWTH_PER_S, NULL, false, NAN) == 2048);
	/* the robust rate over the run (2048 B/s for 10 s), not last - first (1 MB) */
	assert_true(fabs(metric(in, CHECK_RSS_GROWTH_PER_OP, NULL, false, 100) - 204.8) < 1e-9);
	/* only the leak site counts; the plateau is a cache */
	assert_true(metric(in, CHECK_LEAKED_BYTES, NULL, false, NAN) == 4000);
	assert_true(metric(in, CHECK_LEAKED_PER_OP, NULL, false, 100) == 40);
	assert_true(metric(in, CHECK_LEAKED_PER_100_OPS, NULL, false, 100) == 4000);
	assert_true(metric(in, CHECK_HEAP_LEAK_RATE, NULL, false, NAN) == 400);
	assert_true(fabs(metric(in, CHECK_DROPPED_RATIO, NULL, false, NAN) - 0.01) < 1e-12);
	assert_true(fabs(metric(in, CHECK_FUNCTION_SHARE, "store", false, NAN) - 0.8) < 1e-12);
	assert_true(isnan(metric(in, CHECK_CPU_SECONDS, NULL, false, NAN)));
	report_input_free(in);
}

static void test_profile_metrics(void **state)
{
	struct report_input *in = load(profile_json, "profile.json");

	(void)state;
	assert_int_equal(in->kind, REPORT_KIND_PROFILE);
	/* the report's own op count wins over --ops */
	assert_true(fabs(metric(in, CHECK_CPU_PER_OP, NULL, false, 7) - 0.003) < 1e-12);
	assert_true(fabs(metric(in, CHECK_CPU_SECONDS, NULL, false, NAN) - 3.0) < 1e-9);
	assert_true(fabs(metric(in, CHECK_OFF_CPU_SHARE, NULL, false, NAN) - 0.25) < 1e-9);
	assert_true(metric(in, CHECK_LEAKED_PER_OP, NULL, false, NAN) == 200);
	assert_true(metric(in, CHECK_LEAKED_PER_100_OPS, NULL, false, NAN) == 20000);
	assert_true(metric(in, CHECK_HEAP_LEAK_RATE, NULL, false, NAN) == 6.5);
	assert_true(metric(in, CHECK_PEAK_RSS, NULL, false, NAN) == 500);
	assert_true(fabs(metric(in, CHECK_RSS_GROWTH_PER_S, NULL, false, NAN) - 200) < 1e-9);
	assert_true(metric(in, CHECK_FUNCTION_SHARE, "handle_sort", false, NAN) == 0.6);
	/* from the function list: self shares add up, a total share is the largest */
	assert_true(fabs(metric(in, CHECK_FUNCTION_SELF_SHARE, "handle_.*", true, NAN) - 0.3) <
		    1e-12);
	assert_true(metric(in, CHECK_FUNCTION_SHARE, "handle_.*", true, NAN) == 0.6);
	assert_true(fabs(metric(in, CHECK_DROPPED_RATIO, NULL, false, NAN) - 80.0 / 8080) < 1e-12);
	report_input_free(in);
}

static void expect_bad_input(const char *text, const char *needle)
{
	struct report_input *in = NULL;
	char err[256] = "";

	assert_int_equal(report_input_parse(text, strlen(text), "r.json", &in, err, sizeof(err)),
			 -EINVAL);
	assert_null(in);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
	assert_null(strchr(err, '\n'));
}

static void test_bad_reports(void **state)
{
	(void)state;
	expect_bad_input("{\"stacks\": [", "invalid JSON at line 1");
	expect_bad_input("{\"a\": 1, \"a\": 2}", "duplicate");
	expect_bad_input("{\"hello\": 1}", "not a smolder record, leaks or profile report");
	expect_bad_input("{\"totals\": {}, \"stacks\": [{\"stack\": \"main\", \"count\": 1}]}",
			 "stacks[0] needs a \"stack\" array");
	expect_bad_input("{\"totals\": {}, \"stacks\": [{\"stack\": [1], \"count\": 1}]}",
			 "stacks[0].stack[0] is not a string");
	expect_bad_input("\x1f\x8b\x08\x00garbage", "corrupt gzip");
	expect_bad_input("no count here\n", "no stacks");
}

static void test_folded_input(void **state)
{
	struct report_input *in = load("a;b 3\na;c 1\nbad line\n", "x.folded");

	(void)state;
	assert_int_equal(in->kind, REPORT_KIND_FOLDED);
	assert_true(in->total == 4);
	assert_true(metric(in, CHECK_FUNCTION_SELF_SHARE, "b", false, NAN) == 0.75);
	report_input_free(in);
}

static int parse_budget(const char *text, struct check_budget **b, char *err, size_t len)
{
	return check_budget_parse(text, strlen(text), "budget.json", b, err, len);
}

static void expect_bad_budget(const char *text, const char *needle)
{
	struct check_budget *b = NULL;
	char err[256] = "";

	assert_int_equal(parse_budget(text, &b, err, sizeof(err)), -EINVAL);
	assert_null(b);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_budget_errors(void **state)
{
	(void)state;
	expect_bad_budget("[1]", "must be a JSON object");
	expect_bad_budget("{\"checks\": [}", "invalid JSON");
	expect_bad_budget("{\"chekcs\": []}", "unknown key \"chekcs\"");
	expect_bad_budget("{\"checks\": [{\"metric\": \"cpu_per_op\", \"max\": 1}]}",
			  "unknown metric \"cpu_per_op\"");
	expect_bad_budget("{\"checks\": [{\"metric\": \"cpu_s\"}]}", "sets no limit");
	expect_bad_budget("{\"checks\": [{\"metric\": \"cpu_s\", \"max\": -1}]}",
			  "\"max\" must be a non-negative number");
	expect_bad_budget("{\"checks\": [{\"metric\": \"cpu_s\", \"max\": \"1s\"}]}",
			  "\"max\" must be a non-negative number");
	expect_bad_budget("{\"checks\": [{\"metric\": \"function_share\", \"max\": 0.5}]}",
			  "needs \"function\"");
	expect_bad_budget("{\"checks\": [{\"metric\": \"function_share\", \"function\": \"(\","
			  " \"regex\": true, \"max\": 0.5}]}",
			  "invalid regex");
	expect_bad_budget(
		"{\"checks\": [{\"metric\": \"cpu_s\", \"function\": \"x\", \"max\": 1}]}",
		"apply to function_share");
	expect_bad_budget("{\"checks\": [{\"metric\": \"cpu_s\", \"max\": 1, \"maxx\": 1}]}",
			  "unknown key \"maxx\"");
	expect_bad_budget("{}", "nothing to check");
	expect_bad_budget("{\"ops\": 0, \"max_regression_percent\": 5}",
			  "\"ops\" must be positive");
	expect_bad_budget("{\"defaults\": 0, \"max_regression_percent\": 5}",
			  "\"defaults\" must be true or false");
}

/* Off-CPU share leaves out time preempted while runnable; a profile's per_op RSS growth and
 * its measured CPU seconds are the report's own; off-CPU blocks count as seen events. */
static void test_profile_off_cpu_and_per_op(void **state)
{
	struct report_input *in = load(
		"{\"ops\": 100, \"per_op\": {\"cpu_s\": 0.01, \"rss_growth_bytes\": 64},"
		" \"cpu\": {\"samples\": 100, \"cpu_s\": 1.0, \"cpu_s_measured\": true},"
		" \"off_cpu\": {\"seconds\": 5.0, \"blocks\": 98, \"by_state\": {\"sleep\": 1.0,"
		" \"io\": 0, \"lock\": 0, \"runnable\": 4.0}},"
		" \"timeline\": [{\"t\": 0, \"rss_bytes\": 100}, {\"t\": 1, \"rss_bytes\": 900}],"
		" \"dropped\": {\"cpu_samples\": 0, \"off_cpu_unmeasured_blocks\": 2}}",
		"p.json");

	(void)state;
	assert_true(fabs(metric(in, CHECK_OFF_CPU_SHARE, NULL, false, NAN) - 0.5) < 1e-12);
	assert_true(metric(in, CHECK_RSS_GROWTH_PER_OP, NULL, false, NAN) == 64);
	assert_true(in->cpu_seconds_measured && in->cpu_seconds == 1.0);
	assert_true(fabs(metric(in, CHECK_DROPPED_RATIO, NULL, false, NAN) - 2.0 / 200) < 1e-12);
	report_input_free(in);
}

static struct check_result *evaluate(const char *budget_text, struct report_input *cur,
				     struct report_input **bases, size_t n, double cli_pct,
				     struct check_budget **b, size_t *n_results)
{
	struct check_result *r = NULL;
	char err[256];

	if (budget_text)
		assert_int_equal(parse_budget(budget_text, b, err, sizeof(err)), 0);
	else
		*b = check_budget_empty();
	assert_int_equal(check_budget_add_defaults(*b, cur, bases, n), 0);
	assert_int_equal(
		check_evaluate(*b, cur, bases, n, cli_pct, &r, n_results, err, sizeof(err)), 0);
	return r;
}

static const struct check_result *find(const struct check_result *r, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(r[i].name, name))
			return &r[i];
	fail_msg("no result %s", name);
	return NULL;
}

/* A record report with `samples` samples at 100 Hz and `lost` lost. */
static struct report_input *record_with(double samples, double lost)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "{\"frequency_hz\": 100, \"totals\": {\"samples\": %.0f, \"lost\": %.0f},"
		 " \"stacks\": [{\"stack\": [\"main\", \"f\"], \"count\": %.0f}]}",
		 samples, lost, samples);
	return load(text, "r.json");
}

/* "defaults": false keeps only the named checks and the drop gate. */
static void test_budget_without_defaults(void **state)
{
	struct report_input *cur = record_with(10000, 0), *base = record_with(9000, 0);
	struct check_budget *b;
	struct check_result *r;
	size_t n;

	(void)state;
	r = evaluate("{\"defaults\": false, \"checks\": [{\"metric\": \"cpu_s\", \"max\": 1000}]}",
		     cur, &base, 1, NAN, &b, &n);
	assert_int_equal(n, 2);
	assert_true(find(r, n, "cpu_s")->passed);
	assert_true(find(r, n, "dropped_ratio")->passed);
	free(r);
	check_budget_free(b);
	report_input_free(cur);
	report_input_free(base);
}

static void test_evaluate_budget_and_regression(void **state)
{
	struct report_input *cur = record_with(10000, 0), *base = record_with(9000, 0);
	struct check_budget *b;
	struct check_result *r;
	const struct check_result *x;
	size_t n;

	(void)state;
	/* absolute budget: 100 s CPU is over a max of 90 */
	r = evaluate("{\"ops\": 1000, \"checks\": [{\"metric\": \"cpu_s\", \"max\": 90}]}", cur,
		     NULL, 0, NAN, &b, &n);
	x = find(r, n, "cpu_s");
	assert_false(x->passed);
	assert_non_null(strstr(x->message, "over the budget's max"));
	assert_true(find(r, n, "dropped_ratio")->passed); /* added by default */
	free(r);
	check_budget_free(b);

	/* +11.1% against a 10% allowance: fails; the noise of 9000/10000 samples is ~4.6% */
	r = evaluate(NULL, cur, &base, 1, 10, &b, &n);
	x = find(r, n, "cpu_s");
	assert_false(x->passed);
	assert_true(x->baseline == 90 && fabs(x->limit - 99) < 1e-9);
	assert_non_null(strstr(x->message, "regressed +11.1%"));
	free(r);
	check_budget_free(b);
	r = evaluate(NULL, cur, &base, 1, 12, &b, &n);
	assert_true(find(r, n, "cpu_s")->passed);
	free(r);
	check_budget_free(b);
	report_input_free(cur);
	report_input_free(base);
}

static void test_evaluate_noise_rules(void **state)
{
	struct report_input *bases[3] = {record_with(100, 0), record_with(120, 0),
					 record_with(140, 0)};
	struct report_input *cur = record_with(150, 0), *small = record_with(1000, 0);
	struct report_input *big = record_with(2000, 0);
	struct check_budget *b;
	struct check_result *r;
	const struct check_result *x;
	size_t n;

	(void)state;
	/* median of three, and the 3-sigma sampling allowance: 120 samples vs 150 is +25%, well
	 * within the counting noise of such small profiles (limit ~ 1.2 + 3*1.2*sqrt(1/100+1/150))
	 */
	r = evaluate("{\"checks\": [{\"metric\": \"cpu_s\", \"max_regression_percent\": 5}]}", cur,
		     bases, 3, NAN, &b, &n);
	x = find(r, n, "cpu_s");
	assert_true(x->baseline == 1.2);
	assert_true(x->n_baselines == 3);
	assert_true(x->limit > 1.2 + 3 * 1.2 * sqrt(1.0 / 100 + 1.0 / 150) - 1e-9);
	assert_true(x->passed);
	free(r);
	check_budget_free(b);

	/* the worst baseline is never a failure: 14 s equals the slowest baseline run */
	report_input_free(cur);
	cur = record_with(140, 0);
	r = evaluate("{\"checks\": [{\"metric\": \"cpu_s\", \"max_regression_percent\": 0,"
		     " \"min_change\": 0}]}",
		     cur, bases, 3, NAN, &b, &n);
	assert_true(find(r, n, "cpu_s")->passed);
	free(r);
	check_budget_free(b);

	/* minimum absolute change: 10 s -> 20 s fails at 50%, passes with min_change 15 */
	r = evaluate("{\"checks\": [{\"metric\": \"cpu_s\", \"max_regression_percent\": 50}]}", big,
		     &small, 1, NAN, &b, &n);
	assert_false(find(r, n, "cpu_s")->passed);
	free(r);
	check_budget_free(b);
	r = evaluate("{\"checks\": [{\"metric\": \"cpu_s\", \"max_regression_percent\": 50,"
		     " \"min_change\": 15}]}",
		     big, &small, 1, NAN, &b, &n);
	assert_true(find(r, n, "cpu_s")->passed);
	free(r);
	check_budget_free(b);
	for (int i = 0; i < 3; i++)
		report_input_free(bases[i]);
	report_input_free(cur);
	report_input_free(small);
	report_input_free(big);
}

static void test_dropped_events_fail_the_gate(void **state)
{
	struct report_input *cur = record_with(1000, 50);
	struct check_budget *b;
	struct check_result *r;
	size_t n;

	(void)state;
	r = evaluate(NULL, cur, NULL, 0, NAN, &b, &n);
	assert_false(find(r, n, "dropped_ratio")->passed);
	free(r);
	check_budget_free(b);
	report_input_free(cur);
}

static void test_missing_metric_is_an_input_error(void **state)
{
	struct report_input *cur = record_with(1000, 0);
	struct check_budget *b = NULL;
	struct check_result *r = NULL;
	char err[256];
	size_t n;

	(void)state;
	assert_int_equal(
		parse_budget("{\"checks\": [{\"metric\": \"peak_rss_bytes\", \"max\": 1}]}", &b,
			     err, sizeof(err)),
		0);
	assert_int_equal(check_evaluate(b, cur, NULL, 0, NAN, &r, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "peak_rss_bytes"));
	assert_non_null(strstr(err, "no RSS series"));
	check_budget_free(b);
	report_input_free(cur);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_metrics),
		cmocka_unit_test(test_leaks_metrics),
		cmocka_unit_test(test_profile_metrics),
		cmocka_unit_test(test_bad_reports),
		cmocka_unit_test(test_folded_input),
		cmocka_unit_test(test_budget_errors),
		cmocka_unit_test(test_profile_off_cpu_and_per_op),
		cmocka_unit_test(test_budget_without_defaults),
		cmocka_unit_test(test_evaluate_budget_and_regression),
		cmocka_unit_test(test_evaluate_noise_rules),
		cmocka_unit_test(test_dropped_events_fail_the_gate),
		cmocka_unit_test(test_missing_metric_is_an_input_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
