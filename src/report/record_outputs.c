/* record_outputs.c: the outputs of `smolder record` from its folded profile (profile_output.h):
 * the JSON report (DESIGN.md: stacks heaviest first, totals, threads, processes), the flame graph
 * (an SVG that is always complete, a placeholder frame when nothing was sampled), the merged
 * folded lines, pprof and speedscope, each through report_outputs_write (atomic files). */
#include "smolder/profile_output.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flamegraph.h"
#include "folded.h"
#include "smolder/json_writer.h"
#include "smolder/log.h"
#include "smolder/mixed_stack.h"
#include "smolder/pprof.h"
#include "smolder/report_outputs.h"
#include "smolder/speedscope.h"

static int profile_json_write(const struct profile_folded *folded, FILE *fp,
			      const struct profile_output_options *opts,
			      const struct profile_output_meta *meta)
{
	size_t n_lines, *order = profile_folded_by_weight(folded, &n_lines);
	struct json_writer w;
	char *copy;

	if (!order)
		return -ENOMEM;
	json_writer_init(&w, fp, true);
	json_object_begin(&w);
	json_key(&w, "pid");
	json_int(&w, meta->pid);
	json_key(&w, "command");
	json_string(&w, meta->command);
	json_key(&w, "duration_s");
	json_double(&w, meta->duration_s);
	json_key(&w, "frequency_hz");
	json_int(&w, meta->frequency_hz);
	json_key(&w, "countname");
	json_string(&w, opts->countname ? opts->countname : "samples");
	json_key(&w, "totals");
	json_object_begin(&w);
	json_key(&w, "samples");
	json_uint(&w, meta->samples);
	json_key(&w, "lost");
	json_uint(&w, meta->lost);
	json_key(&w, "complete");
	json_uint(&w, meta->complete);
	json_key(&w, "truncated");
	json_uint(&w, meta->truncated);
	if (meta->python) {
		json_key(&w, "python");
		json_object_begin(&w);
		json_key(&w, "version");
		json_string(&w, meta->python_version ? meta->python_version : "");
		json_key(&w, "stacks");
		json_uint(&w, meta->python->stacks);
		json_key(&w, "frames");
		json_uint(&w, meta->python->frames);
		json_key(&w, "no_thread_state");
		json_uint(&w, meta->python->no_tstate);
		json_key(&w, "chains_truncated");
		json_uint(&w, meta->python->truncated);
		json_key(&w, "chains_unreadable");
		json_uint(&w, meta->python->unreadable);
		json_key(&w, "frames_unnamed");
		json_uint(&w, meta->python->frames_unnamed);
		json_key(&w, "samples_not_examined");
		json_uint(&w, meta->python->not_examined);
		json_object_end(&w);
	}
	if (isfinite(meta->cpu_time_s)) {
		json_key(&w, "cpu_time_s");
		json_double(&w, meta->cpu_time_s);
	}
	json_object_end(&w);
	if (meta->n_processes) {
		json_key(&w, "processes");
		json_array_begin(&w);
		for (size_t i = 0; i < meta->n_processes; i++) {
			json_object_begin(&w);
			json_key(&w, "pid");
			json_int(&w, meta->processes[i].pid);
			json_key(&w, "command");
			json_string(&w, meta->processes[i].command);
			json_key(&w, opts->countname ? opts->countname : "samples");
			json_uint(&w, meta->processes[i].weight);
			json_object_end(&w);
		}
		json_array_end(&w);
	}
	json_key(&w, "stacks");
	json_array_begin(&w);
	for (size_t i = 0; i < n_lines; i++) {
		char *frame, *save = NULL;
		uint64_t weight = 0;

		copy = strdup(profile_folded_line(folded, order[i], &weight));
		if (!copy) {
			free(order);
			return -ENOMEM;
		}
		size_t n_frames = 0, n_python = 0;

		json_object_begin(&w);
		json_key(&w, "stack");
		json_array_begin(&w);
		for (frame = strtok_r(copy, ";", &save); frame;
		     frame = strtok_r(NULL, ";", &save)) {
			json_string(&w, frame);
			n_python += flamegraph_frame_is_python(frame, strlen(frame));
		}
		json_array_end(&w);
		if (n_python) {
			/* Which frames are Python functions: their indexes in "stack". */
			json_key(&w, "python_frames");
			json_array_begin(&w);
			free(copy);
			copy = strdup(profile_folded_line(folded, order[i], &weight));
			if (!copy) {
				free(order);
				return -ENOMEM;
			}
			save = NULL;
			for (frame = strtok_r(copy, ";", &save); frame;
			     frame = strtok_r(NULL, ";", &save), n_frames++)
				if (flamegraph_frame_is_python(frame, strlen(frame)))
					json_uint(&w, n_frames);
			json_array_end(&w);
		}
		json_key(&w, "count");
		json_uint(&w, weight);
		/* Its root frame is then "[truncated]", not the thread's entry. */
		json_key(&w, "truncated");
		json_bool(&w, profile_folded_line_truncated(folded, order[i]));
		json_object_end(&w);
		free(copy);
	}
	json_array_end(&w);
	json_object_end(&w);
	free(order);
	return json_writer_finish(&w);
}

static int profile_svg_write(const struct folded_profile *p, FILE *fp,
			     const struct profile_output_options *opts,
			     const struct profile_output_meta *meta)
{
	struct flamegraph_options fo;
	struct folded_profile *placeholder = NULL;
	char subtitle[256];
	int ret;

	flamegraph_options_init(&fo);
	fo.title = opts->title;
	fo.countname = opts->countname;
	if (opts->colors && flamegraph_palette_parse(opts->colors, &fo.palette) != 0)
		fo.palette = FLAMEGRAPH_PALETTE_HOT;
	snprintf(subtitle, sizeof(subtitle), "%s (PID %d), %.1f s%s",
		 meta->command ? meta->command : "?", (int)meta->pid, meta->duration_s,
		 folded_profile_total(p) > 0 ? "" : ": no samples were recorded");
	fo.subtitle = subtitle;
	if (folded_profile_total(p) <= 0) {
		/* The renderer refuses an empty profile; the file must still be complete. */
		const char *frame = "[no samples]";

		placeholder = folded_profile_new();
		if (!placeholder)
			return -ENOMEM;
		ret = folded_profile_add(placeholder, &frame, 1, 1);
		if (ret) {
			folded_profile_free(placeholder);
			return ret;
		}
		p = placeholder;
	}
	ret = flamegraph_render(p, &fo, fp);
	folded_profile_free(placeholder);
	return ret;
}

int profile_output_write_graph(const struct profile_folded *folded, enum output_format format,
			       FILE *fp, const struct profile_output_options *opts,
			       const struct profile_output_meta *meta)
{
	struct folded_profile *graph = profile_folded_to_graph(folded);
	int ret;

	if (!graph)
		return -ENOMEM;
	ret = format == OUTPUT_FORMAT_SVG ? profile_svg_write(graph, fp, opts, meta)
					  : folded_profile_write(graph, fp);
	folded_profile_free(graph);
	return ret;
}

/* record's outputs: the folded profile, its flame graph built once for .folded and .svg. */
struct record_outputs {
	const struct profile_folded *folded;
	struct folded_profile *graph;
	const struct profile_output_options *opts;
	const struct profile_output_meta *meta;
};

static int record_write_folded(void *ctx, const struct cli_output *out, FILE *fp)
{
	(void)out;
	return folded_profile_write(((struct record_outputs *)ctx)->graph, fp);
}

static int record_write_svg(void *ctx, const struct cli_output *out, FILE *fp)
{
	struct record_outputs *r = ctx;

	(void)out;
	return profile_svg_write(r->graph, fp, r->opts, r->meta);
}

static int record_write_json(void *ctx, const struct cli_output *out, FILE *fp)
{
	struct record_outputs *r = ctx;

	(void)out;
	return profile_json_write(r->folded, fp, r->opts, r->meta);
}

static int record_write_pprof(void *ctx, const struct cli_output *out, FILE *fp)
{
	struct record_outputs *r = ctx;

	(void)out;
	return pprof_write_cpu(r->folded, r->opts, r->meta, fp);
}

static int record_write_speedscope(void *ctx, const struct cli_output *out, FILE *fp)
{
	struct record_outputs *r = ctx;

	(void)out;
	return speedscope_write_cpu(r->folded, r->meta, fp);
}

int profile_output_write(const struct profile_folded *folded, const struct cli_output *outputs,
			 size_t n_outputs, const struct profile_output_options *opts,
			 const struct profile_output_meta *meta)
{
	struct record_outputs r = {.folded = folded,
				   .graph = profile_folded_to_graph(folded),
				   .opts = opts,
				   .meta = meta};
	struct report_writers w = {
		.by_format = {[OUTPUT_FORMAT_FOLDED] = record_write_folded,
			      [OUTPUT_FORMAT_SVG] = record_write_svg,
			      [OUTPUT_FORMAT_JSON] = record_write_json,
			      [OUTPUT_FORMAT_PPROF] = record_write_pprof,
			      [OUTPUT_FORMAT_SPEEDSCOPE] = record_write_speedscope},
		.ctx = &r,
	};
	int ret;

	if (!r.graph) {
		log_error("cannot build the folded profile: %s", strerror(errno));
		return -ENOMEM;
	}
	ret = report_outputs_write(&w, outputs, n_outputs);
	folded_profile_free(r.graph);
	return ret;
}
