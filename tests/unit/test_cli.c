/* test_cli.c: command-line parsing, duration parsing and output formats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "smolder/cli.h"

static int parse(struct cli_options *o, char *err, const char *first, ...)
{
	char *argv[64];
	int argc = 0;
	va_list ap;
	const char *a;

	argv[argc++] = "smolder";
	va_start(ap, first);
	for (a = first; a; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	return cli_parse(argc, argv, o, err, 256);
}

static void test_duration_units(void **state)
{
	uint64_t ns;

	(void)state;
	assert_int_equal(cli_parse_duration("30", &ns), 0);
	assert_true(ns == 30000000000ULL);
	assert_int_equal(cli_parse_duration("30s", &ns), 0);
	assert_true(ns == 30000000000ULL);
	assert_int_equal(cli_parse_duration("5m", &ns), 0);
	assert_true(ns == 300000000000ULL);
	assert_int_equal(cli_parse_duration("2h", &ns), 0);
	assert_true(ns == 7200000000000ULL);
	assert_int_equal(cli_parse_duration("1.5s", &ns), 0);
	assert_true(ns == 1500000000ULL);
	assert_int_equal(cli_parse_duration("250ms", &ns), 0);
	assert_true(ns == 250000000ULL);
}

static void test_duration_rejects(void **state)
{
	uint64_t ns = 42;
	const char *bad[] = {"",    "abc",  "5x",  "-5",  "+5",	 "0", "0s",  "5 s", " 5",
			     "1e3", "0x10", "5ss", "inf", "nan", "s", "5m5", ".",   "0.0000001"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(cli_parse_duration(bad[i], &ns), 0);
	assert_int_equal(cli_parse_duration("99999999999999999999h", &ns), -ERANGE);
	assert_int_equal(cli_parse_duration("400000d", &ns), -ERANGE);
	assert_true(ns == 42); /* untouched on error */
}

static void test_output_formats(void **state)
{
	(void)state;
	assert_int_equal(cli_output_format("a.folded"), OUTPUT_FORMAT_FOLDED);
	assert_int_equal(cli_output_format("a.txt"), OUTPUT_FORMAT_FOLDED);
	assert_int_equal(cli_output_format("dir.v1/a.SVG"), OUTPUT_FORMAT_SVG);
	assert_int_equal(cli_output_format("x.json"), OUTPUT_FORMAT_JSON);
	assert_int_equal(cli_output_format("-"), OUTPUT_FORMAT_FOLDED);
	assert_int_equal(cli_output_format("noext"), OUTPUT_FORMAT_UNKNOWN);
	assert_int_equal(cli_output_format("dir.svg/file"), OUTPUT_FORMAT_UNKNOWN);
	assert_int_equal(cli_output_format("a.png"), OUTPUT_FORMAT_UNKNOWN);
}

static void test_record_options(void **state)
{
	struct cli_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "-v", "record", "-p", "123", "-F", "999", "-d", "5m", "-o",
			       "a.svg", "--output=b.folded", "-oc.json", "--no-kernel", "--threads",
			       NULL),
			 0);
	assert_int_equal(o.command, CLI_CMD_RECORD);
	assert_int_equal(o.verbosity, 1);
	assert_int_equal(o.pid, 123);
	assert_int_equal(o.frequency_hz, 999);
	assert_true(o.duration_ns == 300000000000ULL);
	assert_int_equal(o.n_outputs, 3);
	assert_string_equal(o.outputs[0].path, "a.svg");
	assert_int_equal(o.outputs[0].format, OUTPUT_FORMAT_SVG);
	assert_string_equal(o.outputs[1].path, "b.folded");
	assert_int_equal(o.outputs[1].format, OUTPUT_FORMAT_FOLDED);
	assert_string_equal(o.outputs[2].path, "c.json");
	assert_true(o.no_kernel && o.threads);
	assert_null(o.launch_argv);
}

static void test_defaults(void **state)
{
	struct cli_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "leaks", "-p", "7", NULL), 0);
	assert_int_equal(o.frequency_hz, 99);
	assert_true(o.interval_ns == 1000000000ULL);
	assert_true(o.duration_ns == 0);
	assert_int_equal(o.n_outputs, 0);
	assert_true(o.fail_on < 0);
}

static void test_launch_mode(void **state)
{
	struct cli_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "record", "-d", "1", "--", "ls", "-l", "-p", "x", NULL), 0);
	assert_non_null(o.launch_argv);
	assert_string_equal(o.launch_argv[0], "ls");
	assert_string_equal(o.launch_argv[1], "-l");
	assert_string_equal(o.launch_argv[2], "-p"); /* after --: the child's, not ours */
	assert_int_equal(o.pid, 0);
}

/* -p lists, --children / --no-children and their defaults, --merge-processes. */
static void test_process_trees(void **state)
{
	struct cli_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "record", "-p", "10,20,30", "-p", "40", NULL), 0);
	assert_int_equal(o.n_pids, 4);
	assert_int_equal(o.pid, 10);
	assert_int_equal(o.pids[2], 30);
	assert_int_equal(o.pids[3], 40);
	assert_int_equal(o.children, CLI_CHILDREN_NONE); /* -p: the given processes only */
	assert_false(o.merge_processes);
	assert_int_equal(
		parse(&o, err, "record", "-p", "7", "--children", "--merge-processes", NULL), 0);
	assert_int_equal(o.children, CLI_CHILDREN_FOLLOW);
	assert_true(o.merge_processes);
	/* Launch mode follows children by default, as perf does. */
	assert_int_equal(parse(&o, err, "record", "--", "sh", "-c", "true", NULL), 0);
	assert_int_equal(o.children, CLI_CHILDREN_FOLLOW);
	assert_int_equal(parse(&o, err, "record", "--no-children", "--", "sh", NULL), 0);
	assert_int_equal(o.children, CLI_CHILDREN_NONE);

	assert_int_equal(parse(&o, err, "record", "-p", "1,,2", NULL), -EINVAL);
	assert_non_null(strstr(err, "PID list"));
	assert_int_equal(parse(&o, err, "record", "-p", "1,", NULL), -EINVAL);
	assert_int_equal(parse(&o, err, "record", "-p", ",1", NULL), -EINVAL);
	assert_int_equal(parse(&o, err, "record", "-p", "1,x", NULL), -EINVAL);
	assert_int_equal(parse(&o, err, "record", "-p", "5,5", NULL), -EINVAL);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(parse(&o, err, "record", "-p", "1", "--children", "--no-children", NULL),
			 -EINVAL);
	assert_non_null(strstr(err, "contradict"));
	/* leaks takes trees too (per-process books): lists, --children, launch default. */
	assert_int_equal(parse(&o, err, "leaks", "-p", "1,2", "--merge-processes", NULL), 0);
	assert_int_equal(o.n_pids, 2);
	assert_true(o.merge_processes);
	assert_int_equal(o.children, CLI_CHILDREN_NONE);
	assert_int_equal(parse(&o, err, "leaks", "-p", "1", "--children", NULL), 0);
	assert_int_equal(o.children, CLI_CHILDREN_FOLLOW);
	assert_int_equal(parse(&o, err, "leaks", "--", "sh", NULL), 0);
	assert_int_equal(o.children, CLI_CHILDREN_FOLLOW);
	assert_int_equal(parse(&o, err, "leaks", "--no-children", "--", "sh", NULL), 0);
	assert_int_equal(o.children, CLI_CHILDREN_NONE);
	assert_int_equal(parse(&o, err, "dump", "-p", "1,2", NULL), 0);
	assert_int_equal(o.n_pids, 2);
}

static void test_errors(void **state)
{
	struct cli_options o;
	char err[256];

	(void)state;
	assert_int_not_equal(parse(&o, err, NULL), 0);
	assert_int_not_equal(parse(&o, err, "frobnicate", NULL), 0);
	assert_non_null(strstr(err, "unknown command"));
	assert_int_not_equal(parse(&o, err, "record", NULL), 0);
	assert_non_null(strstr(err, "-p PID"));
	assert_int_not_equal(parse(&o, err, "record", "-p", "abc", NULL), 0);
	assert_int_not_equal(parse(&o, err, "record", "-p", "-5", NULL), 0);
	assert_int_not_equal(parse(&o, err, "record", "-p", "1", "-d", "soon", NULL), 0);
	assert_non_null(strstr(err, "invalid"));
	assert_int_not_equal(parse(&o, err, "record", "-p", "1", "-o", "out.png", NULL), 0);
	assert_non_null(strstr(err, ".svg"));
	assert_int_not_equal(parse(&o, err, "record", "-p", "1", "--bogus", NULL), 0);
	assert_non_null(strstr(err, "--bogus"));
	assert_int_not_equal(parse(&o, err, "record", "-p", "1", "-F", NULL), 0);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_not_equal(parse(&o, err, "record", "-p", "1", "-F", "0", NULL), 0);
	assert_int_not_equal(parse(&o, err, "record", "-p", "1", "--", NULL), 0);
	assert_int_not_equal(parse(&o, err, "record", "-p", "1", "--", "ls", NULL), 0);
	/* An option of another subcommand is rejected. */
	assert_int_not_equal(parse(&o, err, "dump", "-p", "1", "-F", "99", NULL), 0);
	assert_int_not_equal(parse(&o, err, "leaks", "-p", "1", "-d", "1s", "-i", "5s", NULL), 0);
	assert_int_not_equal(parse(&o, err, "diff", "a", NULL), 0);
	assert_int_not_equal(parse(&o, err, "diff", "a", "b", "--fail-on", "x", NULL), 0);
	/* Every error message is one line. */
	assert_null(strchr(err, '\n'));
}

static void test_help_and_version(void **state)
{
	struct cli_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "--help", NULL), 0);
	assert_int_equal(o.command, CLI_CMD_HELP);
	assert_int_equal(o.help_for, CLI_CMD_NONE);
	assert_int_equal(parse(&o, err, "record", "--help", NULL), 0);
	assert_int_equal(o.command, CLI_CMD_HELP);
	assert_int_equal(o.help_for, CLI_CMD_RECORD);
	assert_non_null(strstr(cli_help_text(o.help_for), "smolder record"));
	assert_int_equal(parse(&o, err, "--version", NULL), 0);
	assert_int_equal(o.command, CLI_CMD_VERSION);
	assert_int_equal(parse(&o, err, "-q", "dump", "-p", "5", "--json", NULL), 0);
	assert_int_equal(o.verbosity, -1);
	assert_true(o.json);
}

static void test_flamegraph_diff(void **state)
{
	struct cli_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "flamegraph", "in.folded", "--title", "T", "--colors",
			       "mem", "--inverted", "--width", "800", "--minwidth", "0.5", "-o",
			       "x.svg", NULL),
			 0);
	assert_string_equal(o.input, "in.folded");
	assert_string_equal(o.title, "T");
	assert_string_equal(o.colors, "mem");
	assert_true(o.inverted);
	assert_int_equal(o.width, 800);
	assert_true(o.minwidth == 0.5);
	assert_int_not_equal(parse(&o, err, "flamegraph", "--colors", "pink", NULL), 0);
	assert_int_equal(parse(&o, err, "diff", "a.folded", "b.folded", "--normalize", "--fail-on",
			       "2.5", NULL),
			 0);
	assert_string_equal(o.before, "a.folded");
	assert_string_equal(o.after, "b.folded");
	assert_true(o.normalize);
	assert_true(o.fail_on == 2.5);
}

static void test_check_command(void **state)
{
	struct cli_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "check", "cur.json", "--baseline", "a.json", "--baseline",
			       "b.pb.gz", "--budget", "budget.json", "--max-regression", "12.5",
			       "--ops", "20000", NULL),
			 0);
	assert_int_equal(o.command, CLI_CMD_CHECK);
	assert_string_equal(o.current, "cur.json");
	assert_int_equal(o.n_baselines, 2);
	assert_string_equal(o.baselines[1], "b.pb.gz");
	assert_string_equal(o.budget, "budget.json");
	assert_true(o.max_regression_pct == 12.5 && o.ops == 20000);
	assert_int_equal(parse(&o, err, "check", "cur.json", NULL), 0);
	assert_true(isnan(o.max_regression_pct) && isnan(o.ops) && o.n_baselines == 0);

	assert_int_equal(parse(&o, err, "check", NULL), -EINVAL);
	assert_non_null(strstr(err, "needs a CURRENT report"));
	assert_int_equal(parse(&o, err, "check", "a.json", "b.json", NULL), -EINVAL);
	assert_non_null(strstr(err, "got 'b.json' too"));
	assert_int_equal(parse(&o, err, "check", "a.json", "-o", "out.json", NULL), -EINVAL);
	assert_non_null(strstr(err, "must end in .xml"));
	assert_int_equal(parse(&o, err, "check", "a.json", "--max-regression", "-5", NULL),
			 -EINVAL);
	assert_int_equal(parse(&o, err, "check", "a.json", "--ops", "0", NULL), -EINVAL);
	assert_int_equal(parse(&o, err, "check", "a.json", "--fail-on", "5", NULL), -EINVAL);
	/* JUnit is check's; pprof and speedscope are record's and leaks' */
	assert_int_equal(parse(&o, err, "record", "-p", "1", "-o", "x.xml", NULL), -EINVAL);
	assert_non_null(strstr(err, "written by smolder check"));
	assert_int_equal(cli_output_format("x.pb.gz"), OUTPUT_FORMAT_PPROF);
	assert_int_equal(cli_output_format("a/x.speedscope.json"), OUTPUT_FORMAT_SPEEDSCOPE);
	assert_int_equal(cli_output_format("x.json"), OUTPUT_FORMAT_JSON);
	assert_int_equal(cli_output_format("junit.XML"), OUTPUT_FORMAT_JUNIT);
	assert_int_equal(cli_output_format("dir/.pb.gz"), OUTPUT_FORMAT_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_units),	 cmocka_unit_test(test_duration_rejects),
		cmocka_unit_test(test_output_formats),	 cmocka_unit_test(test_record_options),
		cmocka_unit_test(test_defaults),	 cmocka_unit_test(test_launch_mode),
		cmocka_unit_test(test_process_trees),	 cmocka_unit_test(test_errors),
		cmocka_unit_test(test_help_and_version), cmocka_unit_test(test_flamegraph_diff),
		cmocka_unit_test(test_check_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
