/* cmd_check.c: `smolder check CURRENT [--baseline BASE]... [--budget FILE] [--max-regression P]
 * [--ops N] [-o junit.xml]`: reads every input first (any problem is exit 1 with one line before
 * anything is printed), evaluates the budget's and the default checks (check.c), prints the table
 * on stdout, writes JUnit XML atomically, and exits 5 when a check failed. */
#include "smolder/check.h"
#include "smolder/commands.h"
#include "smolder/junit.h"
#include "smolder/log.h"
#include "smolder/output_file.h"
#include "smolder/report_input.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double check_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load_budget(const char *path, struct check_budget **out)
{
	char err[512], *text = NULL;
	size_t len = 0;
	FILE *fp;
	int ret;

	fp = fopen(path, "r");
	if (!fp) {
		log_error("cannot open budget %s: %s", path, strerror(errno));
		return SMOLDER_EXIT_USAGE;
	}
	{
		FILE *mem = open_memstream(&text, &len);
		char buf[65536];
		size_t n;

		if (!mem) {
			fclose(fp);
			return SMOLDER_EXIT_INTERNAL;
		}
		while ((n = fread(buf, 1, sizeof(buf), fp)) > 0 && len < (16u << 20))
			fwrite(buf, 1, n, mem);
		ret = ferror(fp);
		fclose(fp);
		if (fclose(mem) || ret) {
			free(text);
			log_error("cannot read budget %s", path);
			return SMOLDER_EXIT_USAGE;
		}
	}
	ret = check_budget_parse(text, len, path, out, err, sizeof(err));
	free(text);
	if (ret == -ENOMEM) {
		log_error("out of memory reading %s", path);
		return SMOLDER_EXIT_INTERNAL;
	}
	if (ret) {
		log_error("%s", err);
		return SMOLDER_EXIT_USAGE;
	}
	return SMOLDER_EXIT_OK;
}

static int load_report(const char *path, struct report_input **out)
{
	char err[512];
	int ret = report_input_load(path, out, err, sizeof(err));

	if (ret) {
		log_error("%s", err);
		return report_input_exit_code(ret);
	}
	return SMOLDER_EXIT_OK;
}

static void print_table(const struct check_result *r, size_t n, FILE *fp)
{
	int w = (int)strlen("metric");

	for (size_t i = 0; i < n; i++)
		if ((int)strlen(r[i].name) > w)
			w = (int)strlen(r[i].name);
	fprintf(fp, "%-*s  %12s  %12s  %8s  %12s  %s\n", w, "metric", "baseline", "current",
		"change", "limit", "result");
	for (size_t i = 0; i < n; i++) {
		enum check_metric m = r[i].spec->metric;
		char base[48], cur[48], lim[48], change[32];

		check_format_value(m, r[i].baseline, base, sizeof(base));
		check_format_value(m, r[i].current, cur, sizeof(cur));
		check_format_value(m, r[i].limit, lim, sizeof(lim));
		if (isnan(r[i].baseline))
			snprintf(change, sizeof(change), "-");
		else if (r[i].baseline != 0)
			snprintf(change, sizeof(change), "%+.1f%%",
				 (r[i].current - r[i].baseline) / fabs(r[i].baseline) * 100);
		else
			snprintf(change, sizeof(change), r[i].current == 0 ? "0" : "new");
		fprintf(fp, "%-*s  %12s  %12s  %8s  %12s  %s\n", w, r[i].name, base, cur, change,
			lim, r[i].passed ? "pass" : "FAIL");
	}
}

int cmd_check(const struct cli_options *opts)
{
	struct report_input *current = NULL, *baselines[CLI_MAX_OUTPUTS] = {NULL};
	struct check_budget *budget = NULL;
	struct check_result *results = NULL;
	size_t n_results = 0, failed = 0;
	double start = check_now();
	char err[512];
	int rc, ret;

	rc = opts->budget ? load_budget(opts->budget, &budget) : SMOLDER_EXIT_OK;
	if (rc)
		goto out;
	if (!budget && !(budget = check_budget_empty())) {
		rc = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	if (!isnan(opts->ops))
		budget->ops = opts->ops;
	rc = load_report(opts->current, &current);
	for (size_t i = 0; !rc && i < opts->n_baselines; i++)
		rc = load_report(opts->baselines[i], &baselines[i]);
	if (rc)
		goto out;
	for (size_t i = 0; i < opts->n_baselines; i++)
		if (baselines[i]->kind != current->kind)
			log_warn("%s is a %s, %s a %s: only metrics both hold are compared",
				 baselines[i]->name, report_kind_name(baselines[i]->kind),
				 current->name, report_kind_name(current->kind));
	if (check_budget_add_defaults(budget, current, baselines, opts->n_baselines)) {
		log_error("out of memory");
		rc = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	if (budget->n_specs == 0) {
		log_error("%s: no metric to check (a %s holds none of check's metrics; give a "
			  "budget with function_share checks)",
			  current->name, report_kind_name(current->kind));
		rc = SMOLDER_EXIT_USAGE;
		goto out;
	}
	ret = check_evaluate(budget, current, baselines, opts->n_baselines,
			     opts->max_regression_pct, &results, &n_results, err, sizeof(err));
	if (ret) {
		log_error("%s", ret == -ENOMEM ? "out of memory" : err);
		rc = ret == -ENOMEM ? SMOLDER_EXIT_INTERNAL : SMOLDER_EXIT_USAGE;
		goto out;
	}
	print_table(results, n_results, stdout);
	for (size_t i = 0; i < n_results; i++) {
		if (results[i].passed)
			continue;
		failed++;
		log_error("check failed: %s", results[i].message);
	}
	for (size_t i = 0; i < opts->n_outputs; i++) {
		struct output_file f = {0};

		ret = output_file_open(&f, opts->outputs[i].path);
		if (!ret) {
			ret = junit_write_check(results, n_results, "smolder check",
						check_now() - start, f.fp);
			if (ret)
				output_file_abort(&f);
			else
				ret = output_file_commit(&f);
		}
		if (ret) {
			log_error("cannot write %s: %s", opts->outputs[i].path, strerror(-ret));
			rc = SMOLDER_EXIT_INTERNAL;
			goto out;
		}
		if (strcmp(opts->outputs[i].path, "-"))
			log_info("wrote %s", opts->outputs[i].path);
	}
	if (fflush(stdout)) {
		rc = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	rc = failed ? SMOLDER_EXIT_THRESHOLD : SMOLDER_EXIT_OK;
	log_info("%zu of %zu checks passed", n_results - failed, n_results);
out:
	free(results);
	check_budget_free(budget);
	report_input_free(current);
	for (size_t i = 0; i < opts->n_baselines; i++)
		report_input_free(baselines[i]);
	return rc;
}
