/* check.h: `smolder check`'s model: the metrics read from reports (peak RSS, growth, leaks, CPU
 * per operation, off-CPU share, a function's share, dropped events), the budget file that sets
 * limits on them, and the evaluation of a current report against budgets and baselines with the
 * noise allowances documented in README.md ("smolder check"). No output here: cmd_check prints. */
#ifndef SMOLDER_CHECK_H
#define SMOLDER_CHECK_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

struct report_input;

enum check_metric {
	CHECK_PEAK_RSS = 0,	   /* bytes */
	CHECK_RSS_GROWTH_PER_S,	   /* bytes/s */
	CHECK_RSS_GROWTH_PER_OP,   /* bytes/op */
	CHECK_LEAKED_BYTES,	   /* bytes outstanding at sites whose verdict is leak */
	CHECK_LEAKED_PER_OP,	   /* bytes/op */
	CHECK_LEAKED_PER_100_OPS,  /* bytes per 100 ops */
	CHECK_HEAP_LEAK_RATE,	   /* bytes/s, summed over leak sites */
	CHECK_CPU_SECONDS,	   /* s */
	CHECK_CPU_PER_OP,	   /* s/op */
	CHECK_OFF_CPU_SHARE,	   /* 0..1 of on+off CPU time */
	CHECK_FUNCTION_SHARE,	   /* 0..1, stacks holding the function (counted once per stack) */
	CHECK_FUNCTION_SELF_SHARE, /* 0..1, stacks whose leaf is the function */
	CHECK_DROPPED_RATIO,	   /* 0..1 events lost / events seen */
	CHECK_METRIC_COUNT,
};

enum check_unit {
	CHECK_UNIT_BYTES,
	CHECK_UNIT_BYTES_PER_S,
	CHECK_UNIT_SECONDS,
	CHECK_UNIT_SHARE,
};

/* One limit: on an absolute value (max) and/or on the regression against the baselines. */
struct check_spec {
	enum check_metric metric;
	char *function; /* function_share / function_self_share: a name, or a regex */
	bool is_regex;
	regex_t regex;
	double max;		   /* absolute upper bound; NAN = none */
	double max_regression_pct; /* NAN = the budget's / command line's default */
	double min_change;	   /* NAN = the metric's default */
	bool from_budget;	   /* false: added by default (no budget file) */
};

struct check_budget {
	struct check_spec *specs;
	size_t n_specs;
	double max_regression_pct; /* file-level default; NAN = none */
	double ops;		   /* operations per run for reports that do not count them; NAN */
	bool no_defaults; /* "defaults": false: only the checks named (and dropped_ratio) */
};

/* One evaluated limit, a row of the table and a JUnit test case. */
struct check_result {
	const struct check_spec *spec;
	char name[160]; /* "cpu_s_per_op", "function_share[handle_.*]" */
	double current;
	double baseline; /* median of the baselines; NAN without baselines */
	double limit;	 /* the effective limit; NAN when nothing limits it */
	size_t n_baselines;
	bool passed;
	char message[640]; /* why it failed (or what it was held against) */
};

const char *check_metric_name(enum check_metric metric);
enum check_unit check_metric_unit(enum check_metric metric);
/* Looks a metric name up; -1 when unknown. */
int check_metric_lookup(const char *name);

/* Parses a budget file's text (format in README.md). Returns 0 and a new budget (free with
 * check_budget_free), or -EINVAL with one line naming the problem in err, or -ENOMEM. */
int check_budget_parse(const char *text, size_t len, const char *name, struct check_budget **out,
		       char *err, size_t errlen);
/* A budget without limits (no budget file). NULL on allocation failure. */
struct check_budget *check_budget_empty(void);
/* Adds a default regression check of every metric both current and baselines hold, and the
 * dropped-events bound, unless the budget names them already. 0 or -ENOMEM. */
int check_budget_add_defaults(struct check_budget *b, const struct report_input *current,
			      struct report_input *const *baselines, size_t n_baselines);
void check_budget_free(struct check_budget *b);

/* A metric's value in a report. ops: operations for reports without their own count (NAN: none).
 * Returns 0, -ENODATA when the report does not hold what the metric needs (why in err). The
 * sample count behind a value drawn from samples goes to *samples (NAN when not sampled). */
int check_metric_value(const struct report_input *in, const struct check_spec *spec, double ops,
		       double *value, double *samples, char *err, size_t errlen);

/* Evaluates every spec. max_regression_pct: the command line's --max-regression (NAN: none).
 * Returns 0 and *results (caller frees) or -EINVAL when a metric is missing from a report (err
 * names it), -ENOMEM. */
int check_evaluate(const struct check_budget *b, const struct report_input *current,
		   struct report_input *const *baselines, size_t n_baselines,
		   double max_regression_pct, struct check_result **results, size_t *n_results,
		   char *err, size_t errlen);

/* Default allowed absolute change of a metric (below it a change is noise): see README. */
double check_metric_default_min_change(enum check_metric metric);

/* Formats a metric value with its unit ("1.5 MiB", "3.1 ms", "12.4%"). Returns buf. */
char *check_format_value(enum check_metric metric, double value, char *buf, size_t len);

#endif
