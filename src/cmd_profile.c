/* cmd_profile.c: `smolder profile`: one session with the CPU (and off-CPU: offcpu_collector.c, fed
 * by the CPU collector) and allocation collectors, a resource timeline read from /proc every
 * interval, and an optional load command (--during, run with sh -c once attached; the run ends when
 * it exits). Writes the profile JSON report of DESIGN.md (on-CPU and off-CPU functions, memory
 * sites, timeline, load, per-operation figures, findings, drops), the on-CPU flame graph
 * (.folded/.svg) with the off-CPU and memory ones beside it (X.offcpu.folded/.svg,
 * X.mem.folded/.svg), pprof / speedscope files
 * holding every part of the run, and the HTML report (report/html.c, drawn from the JSON document
 * so the two always agree). This file holds option handling and the session glue; the collectors
 * are timeline.c and load_command.c, the JSON writer report/profile_json.c.
 *
 * Operations: --ops N, else --ops-probe's call count (over the load window when there is one),
 * else the count parsed from the load tool's output. */
#include "smolder/commands.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flamegraph.h"
#include "smolder/cpu_collector.h"
#include "smolder/html_report.h"
#include "smolder/leak_collector.h"
#include "smolder/leak_report.h"
#include "smolder/load_command.h"
#include "smolder/log.h"
#include "smolder/offcpu_collector.h"
#include "smolder/ops_probe.h"
#include "smolder/output_file.h"
#include "smolder/profile_json.h"
#include "smolder/pprof.h"
#include "smolder/profile_output.h"
#include "smolder/report_outputs.h"
#include "smolder/report_parts.h"
#include "smolder/session.h"
#include "smolder/speedscope.h"
#include "smolder/timeline.h"

/* Everything profile's outputs are written from. */
struct profile_outputs {
	const struct profile_json_input *in;
	const struct profile_output_options *oo;
	const struct profile_output_meta *meta;
	const struct report_parts *parts; /* for pprof and speedscope */
	/* The JSON document, rendered once for .json and .html so both hold the same figures
	 * (smolder's own CPU and RSS are read while it is written). */
	char *json;
	size_t json_len;
};

/* The JSON document in memory (rendered at the first call). 0 or -errno. */
static int profile_json_text(struct profile_outputs *p)
{
	FILE *mem;
	int ret;

	if (p->json)
		return 0;
	mem = open_memstream(&p->json, &p->json_len);
	if (!mem)
		return -errno;
	ret = profile_json_write(mem, p->in);
	if (fclose(mem) && !ret)
		ret = -EIO;
	if (ret) {
		free(p->json);
		p->json = NULL;
	}
	return ret;
}

static int profile_write_json(void *ctx, const struct cli_output *out, FILE *fp)
{
	struct profile_outputs *p = ctx;
	int ret = profile_json_text(p);

	(void)out;
	if (ret)
		return ret;
	return fwrite(p->json, 1, p->json_len, fp) == p->json_len ? 0 : -EIO;
}

/* .folded / .svg: the on-CPU flame graph. */
static int profile_write_graph(void *ctx, const struct cli_output *out, FILE *fp)
{
	struct profile_outputs *p = ctx;

	return profile_output_write_graph(p->in->folded, out->format, fp, p->oo, p->meta);
}

/* X.offcpu.folded / X.offcpu.svg beside X.folded / X.svg: the off-CPU flame graph, in us. */
static int profile_write_off_cpu_graph(void *ctx, const struct cli_output *out, FILE *fp)
{
	struct profile_outputs *p = ctx;

	return profile_output_write_graph(p->in->fig->off_cpu->folded, out->format, fp,
					  &p->in->fig->off_cpu->opts, p->meta);
}

/* X.mem.folded / X.mem.svg beside X.folded / X.svg: the memory flame graph, bytes gained during
 * the run per allocation stack (what a load test wants to see grow; outstanding bytes are in the
 * JSON, pprof's inuse_space and `leaks`). */
static int profile_write_memory_graph(void *ctx, const struct cli_output *out, FILE *fp)
{
	struct profile_outputs *p = ctx;

	return leak_report_write_flamegraph(p->in->fig->mem, fp, true,
					    out->format == OUTPUT_FORMAT_SVG);
}

/* The path of a graph written beside a graph output: infix (".offcpu", ".mem") before the
 * extension. NULL: none (stdout, other formats). Caller frees. */
static char *profile_beside_path(const struct cli_output *out, const char *infix)
{
	const char *dot;
	char *path;
	size_t stem;

	if ((out->format != OUTPUT_FORMAT_FOLDED && out->format != OUTPUT_FORMAT_SVG) ||
	    strcmp(out->path, "-") == 0)
		return NULL;
	dot = strrchr(out->path, '.');
	if (!dot || strchr(dot, '/'))
		dot = out->path + strlen(out->path);
	stem = (size_t)(dot - out->path);
	path = malloc(strlen(out->path) + strlen(infix) + 1);
	if (path)
		sprintf(path, "%.*s%s%s", (int)stem, out->path, infix, dot);
	return path;
}

/* Writes the graph of writer beside every .folded/.svg output. Returns a smolder exit code. */
static int profile_write_beside(struct profile_outputs *p, const struct cli_output *outs,
				size_t n_outs, const char *infix, report_writer_fn writer)
{
	struct report_writers w = {
		.by_format = {[OUTPUT_FORMAT_FOLDED] = writer, [OUTPUT_FORMAT_SVG] = writer},
		.ctx = p,
	};
	int status = SMOLDER_EXIT_OK;

	for (size_t i = 0; i < n_outs; i++) {
		struct cli_output o = outs[i];
		char *path = profile_beside_path(&outs[i], infix);

		if (!path)
			continue;
		o.path = path;
		if (report_outputs_write(&w, &o, 1))
			status = SMOLDER_EXIT_INTERNAL;
		free(path);
	}
	return status;
}

/* .html: drawn from the JSON document itself, so the page shows exactly its figures. */
static int profile_write_html(void *ctx, const struct cli_output *out, FILE *fp)
{
	struct profile_outputs *p = ctx;
	struct html_report_input hi = {.off_cpu_absent =
					       "Off-CPU time was not collected in this run "
					       "(--no-off-cpu, or its collector failed: "
					       "see smolder's log)."};
	const struct offcpu_report *off = p->in->fig->off_cpu;
	struct folded_profile *cpu = NULL, *off_cpu = NULL;
	int ret = profile_json_text(p);

	(void)out;
	if (ret)
		return ret;
	cpu = profile_folded_to_graph(p->in->folded);
	if (off && off->folded)
		off_cpu = profile_folded_to_graph(off->folded);
	if (!cpu || (off && off->folded && !off_cpu)) {
		ret = -ENOMEM;
		goto out;
	}
	hi.off_cpu = off_cpu;
	hi.json = p->json;
	hi.json_len = p->json_len;
	hi.cpu = cpu;
	ret = html_report_write(fp, &hi);
out:
	folded_profile_free(off_cpu);
	folded_profile_free(cpu);
	return ret;
}

static int profile_write_pprof(void *ctx, const struct cli_output *out, FILE *fp)
{
	(void)out;
	return pprof_write_parts(((struct profile_outputs *)ctx)->parts, fp);
}

static int profile_write_speedscope(void *ctx, const struct cli_output *out, FILE *fp)
{
	(void)out;
	return speedscope_write_parts(((struct profile_outputs *)ctx)->parts, fp);
}

/* Writes every output; returns a smolder exit code. */
static int profile_write(const struct profile_json_input *in, const struct cli_output *outs,
			 size_t n_outs, const struct profile_output_options *oo,
			 const struct profile_output_meta *meta)
{
	/* pprof and speedscope hold every part of the run: on-CPU samples, off-CPU time (us) and
	 * memory. */
	const struct offcpu_report *off = in->fig->off_cpu;
	struct report_parts parts = {.tool = "profile",
				     .cpu = in->folded,
				     .cpu_opts = oo,
				     .off_cpu = off ? off->folded : NULL,
				     .off_cpu_opts = off ? &off->opts : NULL,
				     .off_cpu_unit_ns = 1000,
				     .memory = in->fig->mem,
				     .meta = meta};
	struct profile_outputs p = {.in = in, .oo = oo, .meta = meta, .parts = &parts};
	struct report_writers w = {
		.by_format = {[OUTPUT_FORMAT_FOLDED] = profile_write_graph,
			      [OUTPUT_FORMAT_SVG] = profile_write_graph,
			      [OUTPUT_FORMAT_JSON] = profile_write_json,
			      [OUTPUT_FORMAT_HTML] = profile_write_html,
			      [OUTPUT_FORMAT_PPROF] = profile_write_pprof,
			      [OUTPUT_FORMAT_SPEEDSCOPE] = profile_write_speedscope},
		.ctx = &p,
	};

	int status =
		report_outputs_write(&w, outs, n_outs) ? SMOLDER_EXIT_INTERNAL : SMOLDER_EXIT_OK;

	if (off && off->folded &&
	    profile_write_beside(&p, outs, n_outs, ".offcpu", profile_write_off_cpu_graph))
		status = SMOLDER_EXIT_INTERNAL;
	if (in->fig->mem &&
	    profile_write_beside(&p, outs, n_outs, ".mem", profile_write_memory_graph))
		status = SMOLDER_EXIT_INTERNAL;
	free(p.json);
	return status;
}

/* The operation count: --ops; else the probe's calls during the load window (the whole run
 * without one, or when the target was gone at its end); else the load tool's summary. */
static void profile_count_ops(const struct cli_options *opts, const struct load_command *lc,
			      struct ops_probe *probe, struct profile_figures *fig)
{
	uint64_t calls, window;

	fig->ops = NAN;
	if (!isnan(opts->ops)) {
		fig->ops = opts->ops;
		fig->ops_source = "option";
	} else if (probe) {
		fig->ops_probe = true;
		fig->ops_probe_dropped = ops_probe_dropped(probe);
		if (load_command_count(lc, LOAD_COUNT_OPS, &window))
			fig->ops = (double)window;
		else if (ops_probe_count(probe, &calls) == 0)
			fig->ops = (double)calls;
		fig->ops_source = "probe";
	} else if (lc) {
		fig->ops = load_command_ops(lc);
		fig->ops_source = isnan(fig->ops) ? NULL : "load_output";
	}
}

/* SMOLDER_OFFCPU_MIN_BLOCK_US: blocks at least this long keep their stack unsampled (default
 * 1000 us; shorter ones are sampled, weight-preserving). Returns a smolder exit code. */
static int profile_off_cpu_threshold(uint64_t *min_block_ns)
{
	const char *env = getenv("SMOLDER_OFFCPU_MIN_BLOCK_US");
	char *end;
	unsigned long long us;

	*min_block_ns = 0;
	if (!env || !*env)
		return SMOLDER_EXIT_OK;
	errno = 0;
	us = strtoull(env, &end, 10);
	if (errno || *end || us == 0 || us * 1000 > SMOLDER_OFFCPU_MIN_BLOCK_MAX_NS) {
		log_error("SMOLDER_OFFCPU_MIN_BLOCK_US=%s: expected microseconds from 1 to %llu",
			  env, SMOLDER_OFFCPU_MIN_BLOCK_MAX_NS / 1000);
		return SMOLDER_EXIT_USAGE;
	}
	*min_block_ns = us * 1000;
	return SMOLDER_EXIT_OK;
}

int cmd_profile(const struct cli_options *opts)
{
	struct session_options so;
	struct cpu_collector_options co = {
		.frequency_hz = opts->frequency_hz,
		.backend = SAMPLE_BACKEND_BPF,
		.children = opts->children,
		.merge_processes = opts->merge_processes,
		.native = opts->native,
		.python_by_function = opts->python_by_function,
	};
	struct leak_collector_options lo = {.native = opts->native,
					    .python_by_function = opts->python_by_function,
					    .children = opts->children == CLI_CHILDREN_FOLLOW,
					    .merge_processes = opts->merge_processes};
	struct profile_output_options oo = {
		.title = "CPU",
		.countname = "samples",
		.colors = "hot",
	};
	struct session_collector plug;
	struct cpu_collector *cc = NULL;
	struct offcpu_collector *off = NULL; /* NULL with --no-off-cpu */
	struct leak_collector *leaks = NULL; /* NULL with --no-memory */
	struct timeline *tl = NULL;
	struct load_command *lc = NULL; /* NULL without --during */
	struct ops_probe *probe = NULL; /* NULL without --ops-probe */
	struct profile_folded *folded = NULL;
	struct profile_output_meta meta;
	struct profile_figures fig = {.ops = NAN};
	struct profile_json_input in;
	struct cli_output def[2];
	const struct cli_output *outs = opts->outputs;
	size_t n_outs = opts->n_outputs;
	char default_path[2][96], err[512];
	struct session s;
	int status, run_status;

	memset(&s, 0, sizeof(s));
	session_options_from_cli(&so, opts, SESSION_LAUNCH_STOP);
	status = session_open(&s, &so);
	if (status)
		goto out;
	if (n_outs == 0) {
		time_t now = time(NULL);
		struct tm tm;

		/* The report and the JSON beside it (names printed as they are written). */
		localtime_r(&now, &tm);
		for (int k = 0; k < 2; k++) {
			snprintf(default_path[k], sizeof(default_path[k]),
				 "smolder-%d-%04d%02d%02d-%02d%02d%02d.%s", (int)s.pid,
				 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
				 tm.tm_min, tm.tm_sec, k ? "json" : "html");
			if (output_file_check(default_path[k], err, sizeof(err)) != 0) {
				log_error("%s", err);
				status = SMOLDER_EXIT_USAGE;
				goto out;
			}
			def[k].path = default_path[k];
			def[k].format = k ? OUTPUT_FORMAT_JSON : OUTPUT_FORMAT_HTML;
		}
		outs = def;
		n_outs = 2;
	}
	if (!opts->no_off_cpu) {
		uint64_t min_block_ns = 0;

		status = profile_off_cpu_threshold(&min_block_ns);
		if (status)
			goto out;
		off = offcpu_collector_new(min_block_ns);
		co.off_cpu = off;
	}
	cc = cpu_collector_new(&co);
	if (!opts->no_memory)
		leaks = leak_collector_new(&lo);
	tl = timeline_new(0, leaks);
	if (opts->during) {
		lc = load_command_new(opts->during);
		/* per_op.cpu_s covers what is sampled: a server's workers too. */
		if (lc)
			lc->tree_cpu = opts->children == CLI_CHILDREN_FOLLOW;
	}
	if (opts->ops_probe)
		probe = ops_probe_new(opts->ops_probe);
	if (!cc || (!opts->no_memory && !leaks) || (!opts->no_off_cpu && !off) || !tl ||
	    (opts->during && !lc) || (opts->ops_probe && !probe)) {
		log_error("out of memory");
		status = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	cpu_collector_plug(cc, &plug);
	session_add(&s, &plug);
	if (leaks) {
		leak_collector_plug(leaks, &plug);
		session_add(&s, &plug);
	}
	timeline_plug(tl, &plug);
	session_add(&s, &plug);
	if (probe) {
		/* Before the load command: its attach resolves the function first. */
		ops_probe_plug(probe, &plug);
		session_add(&s, &plug);
	}
	if (lc) {
		if (probe)
			load_command_set_counter(
				lc, LOAD_COUNT_OPS,
				&(struct load_counter){.ctx = probe, .read = ops_probe_count});
		if (leaks)
			load_command_set_counter(
				lc, LOAD_COUNT_ALLOCS,
				&(struct load_counter){.ctx = leaks,
						       .read = leak_collector_alloc_count});
		load_command_plug(lc, &plug);
		session_add(&s, &plug);
	}
	status = session_start(&s);
	if (status)
		goto out;
	log_info("profiling PID %d (%s) at %d Hz%s", s.pid, s.comm, opts->frequency_hz,
		 opts->during ? " during the load command" : "");
	run_status = session_run(&s);

	/* Memory first: its last snapshot is taken now, next to the load window's end and the
	 * probe's count, before symbolizing the CPU samples takes its time. */
	if (leaks)
		fig.mem = leak_collector_finish(leaks, &s);
	profile_count_ops(opts, lc, probe, &fig);
	folded = cpu_collector_finish(cc, &s, &oo, &meta);
	if (!folded) {
		log_error("folding the profile: %s", strerror(errno));
		status = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	if (off) {
		fig.off_cpu = cpu_collector_finish_off_cpu(cc, &s, &oo);
		if (!fig.off_cpu)
			log_warn("off-CPU time: %s; left out of the report", strerror(errno));
	}
	fig.samples = meta.samples;
	fig.frequency_hz = opts->frequency_hz;
	fig.lost = meta.lost;
	fig.cpu_measured = !isnan(meta.cpu_time_s);
	fig.cpu_s = !isnan(meta.cpu_time_s) ? meta.cpu_time_s
					    : (double)meta.samples / (double)opts->frequency_hz;
	if (lc)
		load_command_read_tail(lc);
	if (!isnan(fig.ops))
		log_info("operations: %.0f (%s)", fig.ops, fig.ops_source);
	in = (struct profile_json_input){
		.session = &s, .timeline = tl, .load = lc, .fig = &fig, .folded = folded};
	status = profile_write(&in, outs, n_outs, &oo, &meta);
	if (status == SMOLDER_EXIT_OK)
		status = run_status;
	/* The load command could not start (the target never listened): what was collected is
	 * written, the exit code says the run did not happen as asked. */
	if (status == SMOLDER_EXIT_OK && lc && lc->failure)
		status = lc->failure;
	status = session_finish(&s, status);
out:
	profile_folded_free(folded);
	cpu_collector_free(cc);
	offcpu_collector_free(off);
	leak_collector_free(leaks);
	session_release(&s);
	load_command_free(lc);
	ops_probe_free(probe);
	timeline_free(tl);
	return status;
}
