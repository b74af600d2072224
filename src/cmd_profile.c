/* cmd_profile.c: `smolder profile`: one session with the CPU and allocation collectors, a resource
 * timeline read from /proc every interval, and an optional load command (--during, run with
 * sh -c once attached; the run ends when it exits). Writes the profile JSON report of DESIGN.md
 * (on-CPU functions, memory sites, timeline, load, per-operation figures, findings, drops) and
 * the on-CPU flame graph (.folded/.svg). This file holds option handling and the session glue;
 * the collectors are timeline.c and load_command.c, the JSON writer report/profile_json.c.
 *
 * Not done yet (see README): off-CPU time, the HTML report, $PORT in launch mode, --ops-probe. */
#include "smolder/commands.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smolder/cpu_collector.h"
#include "smolder/leak_collector.h"
#include "smolder/load_command.h"
#include "smolder/log.h"
#include "smolder/output_file.h"
#include "smolder/profile_json.h"
#include "smolder/profile_output.h"
#include "smolder/session.h"
#include "smolder/timeline.h"

/* Writes the JSON report(s) and the on-CPU flame graph(s). Returns a smolder exit code. */
static int profile_write(const struct profile_json_input *in, const struct cli_output *outs,
			 size_t n_outs, const struct profile_output_options *oo,
			 const struct profile_output_meta *meta)
{
	int status = SMOLDER_EXIT_OK;

	for (size_t i = 0; i < n_outs; i++) {
		struct output_file f = {0};
		int err;

		if (outs[i].format != OUTPUT_FORMAT_JSON) {
			if (profile_output_write(in->folded, &outs[i], 1, oo, meta))
				status = SMOLDER_EXIT_INTERNAL;
			continue;
		}
		err = output_file_open(&f, outs[i].path);
		if (!err)
			err = profile_json_write(f.fp, in);
		if (!err)
			err = output_file_commit(&f);
		else if (f.fp)
			output_file_abort(&f);
		if (err) {
			log_error("cannot write %s: %s", outs[i].path,
				  strerror(err < 0 ? -err : EIO));
			status = SMOLDER_EXIT_INTERNAL;
		} else {
			log_info("wrote %s", outs[i].path);
		}
	}
	return status;
}

int cmd_profile(const struct cli_options *opts)
{
	struct session_options so = {
		.pid = opts->pid,
		.pids = opts->pids,
		.n_pids = opts->n_pids,
		.launch_argv = opts->launch_argv,
		.duration_ns = opts->duration_ns,
		.interval_ns = opts->interval_ns,
		.launch_end = SESSION_LAUNCH_STOP,
	};
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
	struct leak_collector *leaks = NULL; /* NULL with --no-memory */
	struct timeline *tl = NULL;
	struct load_command *lc = NULL; /* NULL without --during */
	struct profile_folded *folded = NULL;
	struct profile_output_meta meta;
	struct profile_figures fig = {.ops = NAN};
	struct profile_json_input in;
	struct cli_output def;
	const struct cli_output *outs = opts->outputs;
	size_t n_outs = opts->n_outputs;
	char default_path[96], err[512];
	struct session s;
	int status, run_status;

	memset(&s, 0, sizeof(s));
	status = session_open(&s, &so);
	if (status)
		goto out;
	if (n_outs == 0) {
		time_t now = time(NULL);
		struct tm tm;

		localtime_r(&now, &tm);
		snprintf(default_path, sizeof(default_path),
			 "smolder-%d-%04d%02d%02d-%02d%02d%02d.json", (int)s.pid, tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		if (output_file_check(default_path, err, sizeof(err)) != 0) {
			log_error("%s", err);
			status = SMOLDER_EXIT_USAGE;
			goto out;
		}
		def.path = default_path;
		def.format = OUTPUT_FORMAT_JSON;
		outs = &def;
		n_outs = 1;
	}
	if (!opts->no_off_cpu)
		log_info("off-CPU time is not collected yet (profile collects on-CPU samples, "
			 "allocations and the /proc timeline)");
	cc = cpu_collector_new(&co);
	if (!opts->no_memory)
		leaks = leak_collector_new(&lo);
	tl = timeline_new(0, leaks);
	if (opts->during)
		lc = load_command_new(opts->during);
	if (!cc || (!opts->no_memory && !leaks) || !tl || (opts->during && !lc)) {
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
	if (lc) {
		load_command_plug(lc, &plug);
		session_add(&s, &plug);
	}
	status = session_start(&s);
	if (status)
		goto out;
	log_info("profiling PID %d (%s) at %d Hz%s", s.pid, s.comm, opts->frequency_hz,
		 opts->during ? " during the load command" : "");
	run_status = session_run(&s);

	folded = cpu_collector_finish(cc, &s, &oo, &meta);
	if (!folded) {
		log_error("folding the profile: %s", strerror(errno));
		status = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	fig.samples = meta.samples;
	fig.lost = meta.lost;
	fig.cpu_s = !isnan(meta.cpu_time_s) ? meta.cpu_time_s
					    : (double)meta.samples / (double)opts->frequency_hz;
	if (leaks)
		fig.mem = leak_collector_finish(leaks, &s);
	if (lc)
		load_command_read_tail(lc);
	fig.ops = !isnan(opts->ops) ? opts->ops : lc ? load_command_ops(lc) : NAN;
	if (!isnan(fig.ops))
		log_info("operations: %.0f%s", fig.ops,
			 isnan(opts->ops) ? " (from the load output)" : "");
	in = (struct profile_json_input){
		.session = &s, .timeline = tl, .load = lc, .fig = &fig, .folded = folded};
	status = profile_write(&in, outs, n_outs, &oo, &meta);
	if (status == SMOLDER_EXIT_OK)
		status = run_status;
	status = session_finish(&s, status);
out:
	profile_folded_free(folded);
	cpu_collector_free(cc);
	leak_collector_free(leaks);
	session_release(&s);
	load_command_free(lc);
	timeline_free(tl);
	return status;
}
