/* cli.c: the command line of DESIGN.md: subcommands, options, durations, output formats (the
 * help texts are in cli_help.c). */
#include "smolder/cli.h"
#include "smolder/output_file.h"
#include "smolder/text_sanitize.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cli_command_name(enum cli_command command)
{
	switch (command) {
	case CLI_CMD_RECORD:
		return "record";
	case CLI_CMD_LEAKS:
		return "leaks";
	case CLI_CMD_DUMP:
		return "dump";
	case CLI_CMD_FLAMEGRAPH:
		return "flamegraph";
	case CLI_CMD_DIFF:
		return "diff";
	case CLI_CMD_CHECK:
		return "check";
	case CLI_CMD_PROFILE:
		return "profile";
	case CLI_CMD_HELP:
		return "help";
	case CLI_CMD_VERSION:
		return "version";
	default:
		return "";
	}
}

int cli_parse_duration(const char *text, uint64_t *ns)
{
	static const struct {
		const char *suffix;
		double scale;
	} units[] = {
		{"", 1e9},   {"s", 1e9},    {"sec", 1e9},  {"ms", 1e6},
		{"m", 60e9}, {"min", 60e9}, {"h", 3600e9}, {"d", 86400e9},
	};
	char *end;
	double value;

	if (!text || !*text || text[0] == '-' || text[0] == '+' || text[0] == ' ')
		return -EINVAL;
	errno = 0;
	value = strtod(text, &end);
	if (end == text || errno == ERANGE || !isfinite(value))
		return errno == ERANGE ? -ERANGE : -EINVAL;
	/* Reject hex floats and exponents: durations are written as plain decimals. */
	for (const char *p = text; p < end; p++)
		if (!(*p >= '0' && *p <= '9') && *p != '.')
			return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			double total = value * units[i].scale;

			if (total > 1e18) /* ~31 years; beyond that uint64 ns overflows soon */
				return -ERANGE;
			if (total < 1e6) /* below a millisecond: 0, or a typo */
				return -EINVAL;
			*ns = (uint64_t)total;
			return 0;
		}
	}
	return -EINVAL;
}

static bool cli_has_suffix(const char *path, const char *suffix)
{
	size_t n = strlen(path), m = strlen(suffix);

	/* Not the whole name: ".pb.gz" alone has no base name. */
	return n > m && strcasecmp(path + n - m, suffix) == 0 && path[n - m - 1] != '/';
}

enum output_format cli_output_format(const char *path)
{
	const char *dot;

	if (!path)
		return OUTPUT_FORMAT_UNKNOWN;
	if (strcmp(path, "-") == 0)
		return OUTPUT_FORMAT_FOLDED;
	/* Two-part extensions first: x.speedscope.json is not a JSON report. */
	if (cli_has_suffix(path, ".speedscope.json"))
		return OUTPUT_FORMAT_SPEEDSCOPE;
	if (cli_has_suffix(path, ".pb.gz"))
		return OUTPUT_FORMAT_PPROF;
	dot = strrchr(path, '.');
	if (!dot || strchr(dot, '/'))
		return OUTPUT_FORMAT_UNKNOWN;
	if (strcasecmp(dot, ".xml") == 0)
		return OUTPUT_FORMAT_JUNIT;
	if (strcasecmp(dot, ".folded") == 0 || strcasecmp(dot, ".txt") == 0)
		return OUTPUT_FORMAT_FOLDED;
	if (strcasecmp(dot, ".svg") == 0)
		return OUTPUT_FORMAT_SVG;
	if (strcasecmp(dot, ".json") == 0)
		return OUTPUT_FORMAT_JSON;
	if (strcasecmp(dot, ".html") == 0 || strcasecmp(dot, ".htm") == 0)
		return OUTPUT_FORMAT_HTML;
	return OUTPUT_FORMAT_UNKNOWN;
}

const char *cli_output_format_name(enum output_format format)
{
	switch (format) {
	case OUTPUT_FORMAT_FOLDED:
		return "folded";
	case OUTPUT_FORMAT_SVG:
		return "svg";
	case OUTPUT_FORMAT_JSON:
		return "json";
	case OUTPUT_FORMAT_PPROF:
		return "pprof";
	case OUTPUT_FORMAT_SPEEDSCOPE:
		return "speedscope";
	case OUTPUT_FORMAT_JUNIT:
		return "junit";
	case OUTPUT_FORMAT_HTML:
		return "html";
	default:
		return "unknown";
	}
}

static int cli_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cli_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	text_sanitize_vformat(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int cli_parse_long(const char *text, long min, long max, long *out)
{
	char *end;
	long v;

	if (!text || !*text)
		return -EINVAL;
	errno = 0;
	v = strtol(text, &end, 10);
	if (*end || errno == ERANGE)
		return errno == ERANGE ? -ERANGE : -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int cli_parse_double(const char *text, double min, double max, double *out)
{
	char *end;
	double v;

	if (!text || !*text)
		return -EINVAL;
	errno = 0;
	v = strtod(text, &end);
	if (*end || errno == ERANGE || !isfinite(v) || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Which options each subcommand accepts. */
enum cli_opt_id {
	OPT_PID,
	OPT_FREQ,
	OPT_DURATION,
	OPT_INTERVAL,
	OPT_OUTPUT,
	OPT_NO_KERNEL,
	OPT_THREADS,
	OPT_BACKEND,
	OPT_MIN_AGE,
	OPT_JSON,
	OPT_TITLE,
	OPT_SUBTITLE,
	OPT_COUNTNAME,
	OPT_COLORS,
	OPT_INVERTED,
	OPT_WIDTH,
	OPT_MINWIDTH,
	OPT_NORMALIZE,
	OPT_FAIL_ON,
	OPT_CHILDREN,
	OPT_NO_CHILDREN,
	OPT_MERGE_PROCESSES,
	OPT_NATIVE,
	OPT_FUNCTION,
	OPT_BASELINE,
	OPT_BUDGET,
	OPT_MAX_REGRESSION,
	OPT_OPS,
	OPT_OPS_PROBE,
	OPT_DURING,
	OPT_NO_MEMORY,
	OPT_NO_OFF_CPU,
};

struct cli_opt_spec {
	enum cli_opt_id id;
	char short_name;
	const char *long_name;
	int has_arg;
	unsigned commands; /* bit per enum cli_command */
};

#define CMD_BIT(c) (1u << (c))
#define CMD_TARGET (CMD_BIT(CLI_CMD_RECORD) | CMD_BIT(CLI_CMD_LEAKS) | CMD_BIT(CLI_CMD_PROFILE))
/* Commands that take process trees: -p lists, --children, --merge-processes. */
#define CMD_TREE (CMD_BIT(CLI_CMD_RECORD) | CMD_BIT(CLI_CMD_LEAKS) | CMD_BIT(CLI_CMD_PROFILE))

static const struct cli_opt_spec cli_opts[] = {
	{OPT_PID, 'p', "pid", 1, CMD_TARGET | CMD_BIT(CLI_CMD_DUMP)},
	{OPT_FREQ, 'F', "frequency", 1, CMD_BIT(CLI_CMD_RECORD) | CMD_BIT(CLI_CMD_PROFILE)},
	{OPT_DURATION, 'd', "duration", 1, CMD_TARGET},
	{OPT_INTERVAL, 'i', "interval", 1, CMD_BIT(CLI_CMD_LEAKS) | CMD_BIT(CLI_CMD_PROFILE)},
	{OPT_OUTPUT, 'o', "output", 1,
	 CMD_TARGET | CMD_BIT(CLI_CMD_FLAMEGRAPH) | CMD_BIT(CLI_CMD_DIFF) | CMD_BIT(CLI_CMD_CHECK)},
	{OPT_NO_KERNEL, 0, "no-kernel", 0, CMD_BIT(CLI_CMD_RECORD)},
	{OPT_THREADS, 0, "threads", 0, CMD_BIT(CLI_CMD_RECORD)},
	{OPT_BACKEND, 0, "backend", 1, CMD_BIT(CLI_CMD_RECORD)},
	{OPT_MIN_AGE, 0, "min-age", 1, CMD_BIT(CLI_CMD_LEAKS)},
	{OPT_JSON, 0, "json", 0, CMD_BIT(CLI_CMD_DUMP)},
	{OPT_TITLE, 0, "title", 1, CMD_BIT(CLI_CMD_FLAMEGRAPH) | CMD_BIT(CLI_CMD_DIFF)},
	{OPT_SUBTITLE, 0, "subtitle", 1, CMD_BIT(CLI_CMD_FLAMEGRAPH) | CMD_BIT(CLI_CMD_DIFF)},
	{OPT_COUNTNAME, 0, "countname", 1, CMD_BIT(CLI_CMD_FLAMEGRAPH) | CMD_BIT(CLI_CMD_DIFF)},
	{OPT_COLORS, 0, "colors", 1, CMD_BIT(CLI_CMD_FLAMEGRAPH)},
	{OPT_INVERTED, 0, "inverted", 0, CMD_BIT(CLI_CMD_FLAMEGRAPH) | CMD_BIT(CLI_CMD_DIFF)},
	{OPT_WIDTH, 0, "width", 1, CMD_BIT(CLI_CMD_FLAMEGRAPH) | CMD_BIT(CLI_CMD_DIFF)},
	{OPT_MINWIDTH, 0, "minwidth", 1, CMD_BIT(CLI_CMD_FLAMEGRAPH) | CMD_BIT(CLI_CMD_DIFF)},
	{OPT_NORMALIZE, 0, "normalize", 0, CMD_BIT(CLI_CMD_DIFF)},
	{OPT_FAIL_ON, 0, "fail-on", 1, CMD_BIT(CLI_CMD_DIFF)},
	{OPT_CHILDREN, 0, "children", 0, CMD_TREE},
	{OPT_NO_CHILDREN, 0, "no-children", 0, CMD_TREE},
	{OPT_MERGE_PROCESSES, 0, "merge-processes", 0, CMD_TREE},
	{OPT_NATIVE, 0, "native", 0, CMD_TARGET | CMD_BIT(CLI_CMD_DUMP)},
	{OPT_FUNCTION, 0, "function", 0, CMD_TARGET},
	{OPT_BASELINE, 0, "baseline", 1, CMD_BIT(CLI_CMD_CHECK)},
	{OPT_BUDGET, 0, "budget", 1, CMD_BIT(CLI_CMD_CHECK)},
	{OPT_MAX_REGRESSION, 0, "max-regression", 1, CMD_BIT(CLI_CMD_CHECK)},
	{OPT_OPS, 0, "ops", 1, CMD_BIT(CLI_CMD_CHECK) | CMD_BIT(CLI_CMD_PROFILE)},
	{OPT_OPS_PROBE, 0, "ops-probe", 1, CMD_BIT(CLI_CMD_PROFILE)},
	{OPT_DURING, 0, "during", 1, CMD_BIT(CLI_CMD_PROFILE)},
	{OPT_NO_MEMORY, 0, "no-memory", 0, CMD_BIT(CLI_CMD_PROFILE)},
	{OPT_NO_OFF_CPU, 0, "no-off-cpu", 0, CMD_BIT(CLI_CMD_PROFILE)},
};

static void cli_defaults(struct cli_options *o)
{
	memset(o, 0, sizeof(*o));
	o->frequency_hz = 99;
	o->interval_ns = 1000000000ULL;
	o->width = 1200;
	o->minwidth = 0.1;
	o->fail_on = -1.0;
	o->max_regression_pct = NAN;
	o->ops = NAN;
	o->backend = SAMPLE_BACKEND_AUTO;
}

static enum cli_command cli_lookup_command(const char *name)
{
	static const enum cli_command all[] = {CLI_CMD_RECORD,	   CLI_CMD_LEAKS, CLI_CMD_DUMP,
					       CLI_CMD_FLAMEGRAPH, CLI_CMD_DIFF,  CLI_CMD_CHECK,
					       CLI_CMD_PROFILE};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(name, cli_command_name(all[i])) == 0)
			return all[i];
	return CLI_CMD_NONE;
}

static int cli_apply(struct cli_options *o, enum cli_opt_id id, const char *name, const char *arg,
		     char *err, size_t errlen)
{
	long l;
	int rc;

	switch (id) {
	case OPT_PID: {
		/* A comma-separated list; -p may also repeat. */
		const char *p = arg;

		do {
			char one[16];
			size_t n = strcspn(p, ",");

			if (n == 0 || n >= sizeof(one))
				return cli_error(err, errlen,
						 "invalid PID list '%s' (PID or PID,PID,...)", arg);
			memcpy(one, p, n);
			one[n] = '\0';
			if (cli_parse_long(one, 1, 4194304, &l))
				return cli_error(err, errlen,
						 "invalid PID '%s' (a positive process id)", one);
			if (o->n_pids == CLI_MAX_PIDS)
				return cli_error(err, errlen, "too many PIDs (at most %d)",
						 CLI_MAX_PIDS);
			for (size_t i = 0; i < o->n_pids; i++)
				if (o->pids[i] == (pid_t)l)
					return cli_error(err, errlen, "PID %ld given twice", l);
			o->pids[o->n_pids++] = (pid_t)l;
			p += n;
		} while (*p && *++p);
		if (arg[0] && arg[strlen(arg) - 1] == ',')
			return cli_error(err, errlen, "invalid PID list '%s' (PID or PID,PID,...)",
					 arg);
		o->pid = o->pids[0];
		return 0;
	}
	case OPT_CHILDREN:
	case OPT_NO_CHILDREN: {
		enum cli_children want =
			id == OPT_CHILDREN ? CLI_CHILDREN_FOLLOW : CLI_CHILDREN_NONE;

		if (o->children != CLI_CHILDREN_DEFAULT && o->children != want)
			return cli_error(err, errlen, "--children and --no-children contradict");
		o->children = want;
		return 0;
	}
	case OPT_MERGE_PROCESSES:
		o->merge_processes = true;
		return 0;
	case OPT_FREQ:
		if (cli_parse_long(arg, 1, 10000, &l))
			return cli_error(err, errlen, "invalid frequency '%s' (1..10000 Hz)", arg);
		o->frequency_hz = (int)l;
		return 0;
	case OPT_DURATION:
	case OPT_INTERVAL: {
		uint64_t ns;

		rc = cli_parse_duration(arg, &ns);
		if (rc)
			return cli_error(err, errlen,
					 "invalid %s '%s'%s (examples: 30, 30s, 5m, 2h)", name, arg,
					 rc == -ERANGE ? " (too large)" : "");
		if (id == OPT_DURATION)
			o->duration_ns = ns;
		else
			o->interval_ns = ns;
		return 0;
	}
	case OPT_OUTPUT:
		if (o->n_outputs == CLI_MAX_OUTPUTS)
			return cli_error(err, errlen, "too many -o outputs (at most %d)",
					 CLI_MAX_OUTPUTS);
		if (!*arg)
			return cli_error(err, errlen, "empty output file name");
		o->outputs[o->n_outputs].path = arg;
		o->outputs[o->n_outputs].format = cli_output_format(arg);
		if (o->outputs[o->n_outputs].format == OUTPUT_FORMAT_UNKNOWN)
			return cli_error(err, errlen,
					 "cannot tell the format of '%s': use .folded, .txt, .svg, "
					 ".json, .html, .pb.gz, .speedscope.json or .xml",
					 arg);
		o->n_outputs++;
		return 0;
	case OPT_NO_KERNEL:
		o->no_kernel = true;
		return 0;
	case OPT_THREADS:
		o->threads = true;
		return 0;
	case OPT_NATIVE:
		o->native = true;
		return 0;
	case OPT_FUNCTION:
		o->python_by_function = true;
		return 0;
	case OPT_BACKEND:
		if (strcmp(arg, "bpf") == 0)
			o->backend = SAMPLE_BACKEND_BPF;
		else if (strcmp(arg, "ptrace") == 0)
			o->backend = SAMPLE_BACKEND_PTRACE;
		else if (strcmp(arg, "auto") == 0)
			o->backend = SAMPLE_BACKEND_AUTO;
		else
			return cli_error(err, errlen, "invalid backend '%s' (bpf, ptrace or auto)",
					 arg);
		return 0;
	case OPT_MIN_AGE:
		if (cli_parse_double(arg, 0, 1e9, &o->min_age_s))
			return cli_error(err, errlen, "invalid --min-age '%s' (seconds, >= 0)",
					 arg);
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case OPT_TITLE:
		o->title = arg;
		return 0;
	case OPT_SUBTITLE:
		o->subtitle = arg;
		return 0;
	case OPT_COUNTNAME:
		o->countname = arg;
		return 0;
	case OPT_COLORS:
		if (strcmp(arg, "hot") && strcmp(arg, "mem") && strcmp(arg, "io"))
			return cli_error(err, errlen, "invalid --colors '%s' (hot, mem or io)",
					 arg);
		o->colors = arg;
		return 0;
	case OPT_INVERTED:
		o->inverted = true;
		return 0;
	case OPT_WIDTH:
		if (cli_parse_long(arg, 100, 100000, &l))
			return cli_error(err, errlen, "invalid --width '%s' (100..100000 px)", arg);
		o->width = (int)l;
		return 0;
	case OPT_MINWIDTH:
		if (cli_parse_double(arg, 0, 100000, &o->minwidth))
			return cli_error(err, errlen, "invalid --minwidth '%s' (px, >= 0)", arg);
		return 0;
	case OPT_NORMALIZE:
		o->normalize = true;
		return 0;
	case OPT_FAIL_ON:
		if (cli_parse_double(arg, 0, 100, &o->fail_on))
			return cli_error(err, errlen, "invalid --fail-on '%s' (0..100 percent)",
					 arg);
		return 0;
	case OPT_BASELINE:
		if (o->n_baselines == CLI_MAX_OUTPUTS)
			return cli_error(err, errlen, "too many --baseline reports (at most %d)",
					 CLI_MAX_OUTPUTS);
		if (!*arg)
			return cli_error(err, errlen, "empty --baseline file name");
		o->baselines[o->n_baselines++] = arg;
		return 0;
	case OPT_BUDGET:
		if (!*arg)
			return cli_error(err, errlen, "empty --budget file name");
		o->budget = arg;
		return 0;
	case OPT_MAX_REGRESSION:
		if (cli_parse_double(arg, 0, 1e6, &o->max_regression_pct))
			return cli_error(err, errlen,
					 "invalid --max-regression '%s' (a percentage >= 0)", arg);
		return 0;
	case OPT_OPS:
		if (cli_parse_double(arg, 1, 1e18, &o->ops))
			return cli_error(err, errlen, "invalid --ops '%s' (a count >= 1)", arg);
		return 0;
	case OPT_OPS_PROBE:
		if (!*arg)
			return cli_error(err, errlen, "--ops-probe needs a function name");
		o->ops_probe = arg;
		return 0;
	case OPT_DURING:
		if (!*arg)
			return cli_error(err, errlen, "--during needs a command");
		o->during = arg;
		return 0;
	case OPT_NO_MEMORY:
		o->no_memory = true;
		return 0;
	case OPT_NO_OFF_CPU:
		o->no_off_cpu = true;
		return 0;
	}
	return cli_error(err, errlen, "internal: unhandled option");
}

/* Matches argv[*i] against the option table; handles --name=value, -Xvalue and -X value. */
static int cli_parse_option(struct cli_options *o, int argc, char **argv, int *i, char *err,
			    size_t errlen)
{
	const char *a = argv[*i], *value = NULL;
	const struct cli_opt_spec *spec = NULL;
	char name[64];

	if (a[1] == '-') {
		const char *eq = strchr(a + 2, '=');
		size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);

		for (size_t k = 0; k < sizeof(cli_opts) / sizeof(cli_opts[0]); k++)
			if (strlen(cli_opts[k].long_name) == len &&
			    strncmp(cli_opts[k].long_name, a + 2, len) == 0)
				spec = &cli_opts[k];
		snprintf(name, sizeof(name), "--%.*s", (int)len, a + 2);
		if (spec && eq) {
			if (!spec->has_arg)
				return cli_error(err, errlen, "option %s takes no value", name);
			value = eq + 1;
		}
	} else {
		for (size_t k = 0; k < sizeof(cli_opts) / sizeof(cli_opts[0]); k++)
			if (cli_opts[k].short_name && cli_opts[k].short_name == a[1])
				spec = &cli_opts[k];
		snprintf(name, sizeof(name), "-%c", a[1]);
		if (spec && a[2]) {
			if (!spec->has_arg)
				return cli_error(err, errlen, "unknown option '%s'", a);
			value = a + 2;
		}
	}
	if (!spec || !(spec->commands & CMD_BIT(o->command)))
		return cli_error(err, errlen,
				 "unknown option '%s' for '%s' (see smolder %s --help)", name,
				 cli_command_name(o->command), cli_command_name(o->command));
	if (spec->has_arg && !value) {
		if (*i + 1 >= argc)
			return cli_error(err, errlen, "option %s needs a value", name);
		value = argv[++*i];
	}
	return cli_apply(o, spec->id, name, value, err, errlen);
}

static int cli_check_command(struct cli_options *o, char **positional, int npos, char *err,
			     size_t errlen)
{
	switch (o->command) {
	case CLI_CMD_RECORD:
	case CLI_CMD_LEAKS:
	case CLI_CMD_PROFILE:
		if (npos)
			return cli_error(err, errlen,
					 "unexpected argument '%s' (a command to launch "
					 "goes after --)",
					 positional[0]);
		if (!o->pid && !o->launch_argv)
			return cli_error(err, errlen,
					 "need -p PID or -- CMD ARGS... (see smolder %s "
					 "--help)",
					 cli_command_name(o->command));
		if (o->pid && o->launch_argv)
			return cli_error(err, errlen, "-p PID and -- CMD cannot be used together");
		if (!(CMD_TREE & CMD_BIT(o->command)) && o->n_pids > 1)
			return cli_error(err, errlen,
					 "%s takes one PID (process lists: record, leaks and dump)",
					 cli_command_name(o->command));
		if (o->ops_probe && !isnan(o->ops))
			return cli_error(err, errlen,
					 "--ops and --ops-probe contradict (one count)");
		for (size_t k = 0; o->command == CLI_CMD_PROFILE && k < o->n_outputs; k++)
			if (o->outputs[k].format == OUTPUT_FORMAT_JUNIT)
				return cli_error(
					err, errlen,
					"'%s': profile writes .html, .json, .folded, .svg, "
					".pb.gz and .speedscope.json",
					o->outputs[k].path);
		/* perf's default: a launched command is followed into its children. */
		if (o->children == CLI_CHILDREN_DEFAULT)
			o->children = o->launch_argv && (CMD_TREE & CMD_BIT(o->command))
					      ? CLI_CHILDREN_FOLLOW
					      : CLI_CHILDREN_NONE;
		if (o->command != CLI_CMD_RECORD && o->duration_ns &&
		    o->interval_ns > o->duration_ns)
			return cli_error(err, errlen, "interval is longer than the duration");
		for (size_t k = 0; k < o->n_outputs; k++) {
			if (o->outputs[k].format == OUTPUT_FORMAT_JUNIT)
				return cli_error(
					err, errlen,
					"'%s': JUnit XML is written by smolder check, not %s",
					o->outputs[k].path, cli_command_name(o->command));
			if (o->outputs[k].format == OUTPUT_FORMAT_HTML &&
			    o->command != CLI_CMD_PROFILE)
				return cli_error(err, errlen,
						 "'%s': the HTML report is written by smolder "
						 "profile, not %s",
						 o->outputs[k].path, cli_command_name(o->command));
		}
		return 0;
	case CLI_CMD_DUMP:
		if (npos)
			return cli_error(err, errlen, "unexpected argument '%s'", positional[0]);
		if (!o->pid)
			return cli_error(err, errlen, "need -p PID (see smolder dump --help)");
		return 0;
	case CLI_CMD_FLAMEGRAPH:
		if (npos > 1)
			return cli_error(err, errlen, "one input file at most (got '%s' and '%s')",
					 positional[0], positional[1]);
		o->input = npos ? positional[0] : NULL;
		if (o->n_outputs > 1)
			return cli_error(err, errlen, "flamegraph writes one output file");
		return 0;
	case CLI_CMD_DIFF:
		if (npos != 2)
			return cli_error(err, errlen,
					 "diff needs BEFORE and AFTER profiles (see smolder "
					 "diff --help)");
		o->before = positional[0];
		o->after = positional[1];
		if (o->n_outputs > 1)
			return cli_error(err, errlen, "diff writes one output file");
		return 0;
	case CLI_CMD_CHECK:
		if (npos == 0)
			return cli_error(err, errlen,
					 "check needs a CURRENT report (see smolder check --help)");
		if (npos > 1)
			return cli_error(err, errlen,
					 "check takes one CURRENT report, got '%s' too (baselines "
					 "go after --baseline)",
					 positional[1]);
		o->current = positional[0];
		for (size_t k = 0; k < o->n_outputs; k++)
			if (o->outputs[k].format != OUTPUT_FORMAT_JUNIT)
				return cli_error(err, errlen,
						 "check writes JUnit XML: '%s' must end in .xml",
						 o->outputs[k].path);
		return 0;
	default:
		return 0;
	}
}

/* Every command's checks, then every -o destination: a bad output is a usage error found before
 * a run starts (output_file_check), never after an hour of recording. Also clears temporary files
 * that a killed run left beside these outputs. */
static int cli_check(struct cli_options *o, char **positional, int npos, char *err, size_t errlen)
{
	int rc = cli_check_command(o, positional, npos, err, errlen);

	if (rc)
		return rc;
	for (size_t i = 0; i < o->n_outputs; i++) {
		if (output_file_check(o->outputs[i].path, err, errlen) != 0)
			return -EINVAL;
		output_file_remove_stale(o->outputs[i].path);
	}
	return 0;
}

int cli_parse(int argc, char **argv, struct cli_options *o, char *err, size_t errlen)
{
	char **positional;
	int npos = 0, i = 1, rc = 0;

	cli_defaults(o);
	err[0] = '\0';
	/* Global options come before the subcommand. */
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			o->command = CLI_CMD_HELP;
			return 0;
		}
		if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			o->command = CLI_CMD_VERSION;
			return 0;
		}
		if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			o->verbosity = -1;
		} else if (!strcmp(a, "--verbose")) {
			o->verbosity++;
		} else if (a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1)) {
			o->verbosity += (int)strlen(a + 1);
		} else {
			return cli_error(err, errlen, "unknown option '%s' (see smolder --help)",
					 a);
		}
	}
	if (i >= argc)
		return cli_error(err, errlen, "no command given (see smolder --help)");
	if (!strcmp(argv[i], "help")) {
		o->command = CLI_CMD_HELP;
		o->help_for = i + 1 < argc ? cli_lookup_command(argv[i + 1]) : CLI_CMD_NONE;
		return 0;
	}
	o->command = cli_lookup_command(argv[i]);
	if (o->command == CLI_CMD_NONE)
		return cli_error(err, errlen, "unknown command '%s' (see smolder --help)", argv[i]);
	positional = calloc((size_t)argc, sizeof(*positional));
	if (!positional)
		return cli_error(err, errlen, "out of memory");
	for (i++; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			if (o->command != CLI_CMD_RECORD && o->command != CLI_CMD_LEAKS &&
			    o->command != CLI_CMD_PROFILE) {
				for (i++; i < argc; i++)
					positional[npos++] = argv[i];
				break;
			}
			if (i + 1 >= argc) {
				rc = cli_error(err, errlen, "nothing to launch after --");
				goto out;
			}
			o->launch_argv = &argv[i + 1];
			break;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			o->help_for = o->command;
			o->command = CLI_CMD_HELP;
			goto out;
		}
		if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			o->verbosity = -1;
			continue;
		}
		if (!strcmp(a, "--verbose") ||
		    (a[0] == '-' && a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1))) {
			o->verbosity += a[1] == '-' ? 1 : (int)strlen(a + 1);
			continue;
		}
		if (a[0] == '-' && a[1]) {
			rc = cli_parse_option(o, argc, argv, &i, err, errlen);
			if (rc)
				goto out;
			continue;
		}
		positional[npos++] = argv[i];
	}
	rc = cli_check(o, positional, npos, err, errlen);
out:
	free(positional);
	return rc;
}
