/* cmd_record.c: `smolder record`: a session with the CPU collector: attach to a PID (or launch CMD
 * held before exec), sample CPU stacks until -d, Ctrl-C, SIGTERM or the target's exit, then
 * symbolize once and write every output atomically, and print a summary.
 *
 * Launch mode: outputs are written when profiling ends; smolder then waits for CMD (forwarding
 * SIGINT/SIGTERM) and returns its exit status. */
#include "smolder/commands.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "smolder/cpu_collector.h"
#include "smolder/cpu_profile.h"
#include "smolder/log.h"
#include "smolder/output_file.h"
#include "smolder/profile_output.h"
#include "smolder/session.h"

static int record_flush(struct cpu_collector *cc, struct session *s, const struct cli_options *opts,
			const struct cli_output *outputs, size_t n_outputs)
{
	struct profile_output_options oo = {
		.threads = opts->threads,
		.no_kernel = opts->no_kernel,
		.title = "CPU",
		.countname = "samples",
		.colors = "hot",
		.thread_name = cpu_collector_thread_name,
		.thread_name_ctx = cc,
	};
	struct profile_output_meta meta;
	struct profile_folded *folded;
	int ret;

	folded = cpu_collector_finish(cc, s, &oo, &meta);
	if (!folded) {
		log_error("folding the profile: %s", strerror(errno));
		return SMOLDER_EXIT_INTERNAL;
	}
	/* Ctrl-C before the first sample: an empty profile would replace a previous run's file
	 * with nothing worth keeping. Keep it and say why. A run that ended by itself (-d, target
	 * exit) writes its outputs, empty or not, so scripts find them. */
	if (meta.samples == 0 && s->stop == RUN_STOP_SIGNAL) {
		log_warn("nothing was sampled before the interrupt: no output written (existing "
			 "files left as they were)");
		ret = 0;
	} else {
		if (meta.samples == 0)
			log_warn(
				"no samples: the target did not run on a CPU during the recording");
		ret = profile_output_write(folded, outputs, n_outputs, &oo, &meta);
	}
	profile_folded_free(folded);
	return ret ? SMOLDER_EXIT_INTERNAL : SMOLDER_EXIT_OK;
}

int cmd_record(const struct cli_options *opts)
{
	struct session_options so;
	struct cpu_collector_options co = {
		.frequency_hz = opts->frequency_hz,
		.no_kernel = opts->no_kernel,
		.backend = opts->backend,
		.children = opts->children,
		.merge_processes = opts->merge_processes,
		.native = opts->native,
		.python_by_function = opts->python_by_function,
	};
	struct cli_output default_output;
	const struct cli_output *outputs = opts->outputs;
	size_t n_outputs = opts->n_outputs;
	struct session_collector plug;
	struct cpu_collector *cc = NULL;
	struct session s;
	char default_path[64], err[512];
	int code, run_code;

	session_options_from_cli(&so, opts, SESSION_LAUNCH_WAIT);
	/* The CPU collector resolves each sample in its own process's model. */
	so.no_shared_models = true;
	code = session_open(&s, &so);
	if (code != SMOLDER_EXIT_OK)
		goto out;
	if (n_outputs == 0) {
		snprintf(default_path, sizeof(default_path), "smolder-%d.svg", (int)s.pid);
		default_output.path = default_path;
		default_output.format = OUTPUT_FORMAT_SVG;
		outputs = &default_output;
		n_outputs = 1;
		/* -o paths were checked by the command line; the default one is checked here. */
		if (output_file_check(default_path, err, sizeof(err)) != 0) {
			log_error("%s", err);
			code = SMOLDER_EXIT_USAGE;
			goto out;
		}
		output_file_remove_stale(default_path);
	}
	cc = cpu_collector_new(&co);
	if (!cc) {
		log_error("out of memory");
		code = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	cpu_collector_plug(cc, &plug);
	session_add(&s, &plug);
	code = session_start(&s);
	if (code != SMOLDER_EXIT_OK)
		goto out;
	if (s.launched)
		log_info("profiling %s (PID %d) at %d Hz", opts->launch_argv[0], s.pid,
			 opts->frequency_hz);
	else
		log_info("profiling PID %d (%s) at %d Hz; Ctrl-C to stop", s.pid, s.comm,
			 opts->frequency_hz);

	run_code = session_run(&s);
	code = record_flush(cc, &s, opts, outputs, n_outputs);
	if (code == SMOLDER_EXIT_OK)
		code = run_code;
	code = session_finish(&s, code);
out:
	cpu_collector_free(cc);
	session_release(&s);
	return code;
}
