/* cmd_leaks.c: `smolder leaks`: a session with the allocation collector: outstanding bytes per
 * allocation site and the target's RSS every interval, and at the end (-d, Ctrl-C, SIGTERM, target
 * exit) the text summary, JSON report and memory flame graphs, each written atomically. */
#include "smolder/commands.h"
#include "smolder/leak_collector.h"
#include "smolder/leak_report.h"
#include "smolder/log.h"
#include "smolder/output_file.h"
#include "smolder/pprof.h"
#include "smolder/report_outputs.h"
#include "smolder/speedscope.h"
#include "smolder/session.h"
#include "smolder/symbolizer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Without -o: smolder-leaks-PID.json in the current directory, checked before the run starts like
 * the -o paths (which the command line checked). Returns a smolder exit code. */
static int default_output(pid_t pid, char *path, size_t len)
{
	char err[512];

	snprintf(path, len, "smolder-leaks-%d.json", (int)pid);
	if (output_file_check(path, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return SMOLDER_EXIT_USAGE;
	}
	output_file_remove_stale(path);
	return SMOLDER_EXIT_OK;
}

static int leaks_write_json(void *ctx, const struct cli_output *out, FILE *fp)
{
	(void)out;
	return leak_report_write_json(ctx, fp);
}

static int leaks_write_pprof(void *ctx, const struct cli_output *out, FILE *fp)
{
	(void)out;
	return pprof_write_leaks(ctx, fp);
}

static int leaks_write_speedscope(void *ctx, const struct cli_output *out, FILE *fp)
{
	(void)out;
	return speedscope_write_leaks(ctx, fp);
}

/* NAME.growth.svg / NAME.growth.folded: bytes gained during the run; else outstanding bytes. */
static int leaks_write_graph(void *ctx, const struct cli_output *out, FILE *fp)
{
	return leak_report_write_flamegraph(ctx, fp, leak_report_path_is_growth(out->path),
					    out->format == OUTPUT_FORMAT_SVG);
}

static const char *leaks_describe(void *ctx, const struct cli_output *out)
{
	(void)ctx;
	if (out->format != OUTPUT_FORMAT_SVG && out->format != OUTPUT_FORMAT_FOLDED)
		return NULL;
	return leak_report_path_is_growth(out->path) ? " (memory growth flame graph)"
						     : " (outstanding memory flame graph)";
}

static int write_outputs(struct leak_report *report, const struct cli_output *outs, size_t n_outs)
{
	struct report_writers w = {
		.by_format = {[OUTPUT_FORMAT_FOLDED] = leaks_write_graph,
			      [OUTPUT_FORMAT_SVG] = leaks_write_graph,
			      [OUTPUT_FORMAT_JSON] = leaks_write_json,
			      [OUTPUT_FORMAT_PPROF] = leaks_write_pprof,
			      [OUTPUT_FORMAT_SPEEDSCOPE] = leaks_write_speedscope},
		.ctx = report,
		.describe = leaks_describe,
	};

	return report_outputs_write(&w, outs, n_outs) ? SMOLDER_EXIT_INTERNAL : SMOLDER_EXIT_OK;
}

int cmd_leaks(const struct cli_options *opts)
{
	struct session_options so;
	struct leak_collector_options lo = {
		.min_age_s = opts->min_age_s,
		.native = opts->native,
		.python_by_function = opts->python_by_function,
		.children = opts->children == CLI_CHILDREN_FOLLOW,
		.merge_processes = opts->merge_processes,
	};
	struct session_collector plug;
	struct leak_collector *lc = NULL;
	struct session s;
	struct cli_output def;
	const struct cli_output *outs = opts->outputs;
	size_t n_outs = opts->n_outputs;
	char default_path[64];
	struct leak_report *report;
	int status, run_status;

	session_options_from_cli(&so, opts, SESSION_LAUNCH_STOP);
	status = session_open(&s, &so);
	if (status)
		goto out;
	if (n_outs == 0) {
		status = default_output(s.pid, default_path, sizeof(default_path));
		if (status)
			goto out;
		def.path = default_path;
		def.format = OUTPUT_FORMAT_JSON;
		outs = &def;
		n_outs = 1;
	}
	lc = leak_collector_new(&lo);
	if (!lc) {
		log_error("out of memory");
		status = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	leak_collector_plug(lc, &plug);
	session_add(&s, &plug);
	status = session_start(&s);
	if (status)
		goto out;
	run_status = session_run(&s);
	report = leak_collector_finish(lc, &s);
	leak_report_write_text(report, stdout, 10);
	fflush(stdout);
	if (symbolizer_jit_hint(s.symbolizer))
		log_info("%s", symbolizer_jit_hint(s.symbolizer));
	status = write_outputs(report, outs, n_outs);
	if (status == SMOLDER_EXIT_OK)
		status = run_status;
	status = session_finish(&s, status);
out:
	leak_collector_free(lc);
	session_release(&s);
	return status;
}
