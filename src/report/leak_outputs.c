/* leak_outputs.c: the outputs of `smolder leaks` (see leak_report.h): the text summary and the
 * JSON report rank sites by growth rate; flame graphs weigh stacks by bytes still outstanding at
 * the end, or by bytes gained during the run (the growth graph). */
#include "smolder/leak_report.h"
#include "smolder/text_sanitize.h"
#include "smolder/alloc_tracker.h"
#include "smolder/frame.h"
#include "smolder/frame_names.h"
#include "smolder/json_writer.h"
#include "smolder/process_table.h"
#include "smolder/stack_table.h"
#include "smolder/symbolizer.h"

#include "flamegraph.h"
#include "folded.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const stat_names[SMOLDER_STAT_MAX] = {
	[SMOLDER_STAT_ALLOCS] = "allocs",
	[SMOLDER_STAT_FREES] = "frees",
	[SMOLDER_STAT_FREE_UNKNOWN] = "frees_of_preattach_or_untracked",
	[SMOLDER_STAT_ALLOC_FAILED] = "alloc_failed",
	[SMOLDER_STAT_ALLOC_TABLE_FULL] = "dropped_alloc_table_full",
	[SMOLDER_STAT_SITE_TABLE_FULL] = "dropped_site_table_full",
	[SMOLDER_STAT_STACK_TABLE_FULL] = "dropped_stack_table_full",
	[SMOLDER_STAT_RINGBUF_FULL] = "lost_ringbuf_full",
	[SMOLDER_STAT_SNAPSHOT_THROTTLED] = "stacks_throttled",
	[SMOLDER_STAT_SNAPSHOTS] = "unwind_snapshots",
	[SMOLDER_STAT_STACK_TRUNCATED] = "stacks_truncated",
	[SMOLDER_STAT_NESTED] = "nested_allocator_calls",
	[SMOLDER_STAT_RETURN_ORPHAN] = "orphan_returns",
	[SMOLDER_STAT_THREAD_TABLE_FULL] = "dropped_thread_table_full",
	[SMOLDER_STAT_REALLOC_MOVED] = "reallocs",
	[SMOLDER_STAT_MMAP] = "anon_mmaps",
	[SMOLDER_STAT_MUNMAP] = "munmaps",
	[SMOLDER_STAT_MUNMAP_UNKNOWN] = "munmaps_untracked_or_partial",
	[SMOLDER_STAT_MMAP_TABLE_FULL] = "dropped_mmap_table_full",
	[SMOLDER_STAT_UNSAMPLED_ALLOCS] = "unsampled_allocs",
	[SMOLDER_STAT_WALKS_CACHED] = "stack_walks_cached",
	[SMOLDER_STAT_PY_WALKS] = "python_walks",
	[SMOLDER_STAT_PY_NO_TSTATE] = "python_no_thread_state",
	[SMOLDER_STAT_PY_TRUNCATED] = "python_chains_truncated",
	[SMOLDER_STAT_PY_READ_FAILED] = "python_chains_unreadable",
	[SMOLDER_STAT_PY_NO_CONFIG] = "python_process_not_examined",
	[SMOLDER_STAT_TARGETS_FULL] = "children_not_followed_target_map_full",
	[SMOLDER_STAT_PROCESS_EVENT_LOST] = "lost_process_events",
	[SMOLDER_STAT_FORKS_FOLLOWED] = "children_followed",
	[SMOLDER_STAT_LAYOUTS_FULL] = "layouts_full",
};

static uint64_t lost_events(const struct leak_report *r)
{
	return r->stats[SMOLDER_STAT_ALLOC_TABLE_FULL] + r->stats[SMOLDER_STAT_SITE_TABLE_FULL] +
	       r->stats[SMOLDER_STAT_PROCESS_EVENT_LOST] + r->stats[SMOLDER_STAT_TARGETS_FULL] +
	       r->stats[SMOLDER_STAT_STACK_TABLE_FULL] + r->stats[SMOLDER_STAT_RINGBUF_FULL] +
	       r->stats[SMOLDER_STAT_SNAPSHOT_THROTTLED] +
	       r->stats[SMOLDER_STAT_THREAD_TABLE_FULL] + r->stats[SMOLDER_STAT_MMAP_TABLE_FULL];
}

static size_t truncated_sites(const struct leak_report *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_sites; i++)
		n += !!(r->sites[i].flags & ALLOC_SITE_TRUNCATED);
	return n;
}

static void totals(const struct leak_report *r, bool mmap, uint64_t *bytes, uint64_t *allocs)
{
	*bytes = *allocs = 0;
	for (size_t i = 0; i < r->n_sites; i++) {
		if (!!(r->sites[i].flags & ALLOC_SITE_MMAP) != mmap)
			continue;
		*bytes += r->sites[i].outstanding_bytes;
		*allocs += r->sites[i].outstanding_allocs;
	}
}

/* A JIT-compiled JavaScript or Python function, named from the target's perf map ("_[j]", the
 * mark symbol_frame_format gives such frames). */
static bool is_script_frame(const char *frame)
{
	size_t len = strlen(frame);

	return len > 4 && !strcmp(frame + len - 4, "_[j]");
}

/* The index of the innermost script frame among frames[0..n), preferring one not in node's
 * built-in modules; SIZE_MAX when there is none. */
static size_t innermost_script(const struct leak_site *s, size_t n)
{
	size_t any = SIZE_MAX;

	for (size_t k = n; k-- > 0;) {
		if (!is_script_frame(s->frames[k]))
			continue;
		if (!strstr(s->frames[k], " (node:"))
			return k;
		if (any == SIZE_MAX)
			any = k;
	}
	return any;
}

static void text_site(const struct leak_site *s, size_t rank, bool tree, FILE *out)
{
	char rate[64], outb[32];
	size_t shown = 0, hidden, script;
	bool script_shown = false;

	growth_format_rate(s->growth.rate, rate, sizeof(rate));
	growth_format_bytes((double)s->outstanding_bytes, outb, sizeof(outb));
	fprintf(out, "  #%zu %-7s %s  confidence %.2f  outstanding %s in %llu allocations", rank,
		growth_verdict_name(s->growth.verdict), rate, s->growth.confidence, outb,
		(unsigned long long)s->outstanding_allocs);
	if (tree) {
		/* Same-command workers add up: say over how many, and each one's share. */
		fputs(" of ", out);
		text_sanitize_fputs(s->command[0] ? s->command : "?", out, 0);
		fprintf(out, " in %zu process%s:", s->n_procs, s->n_procs == 1 ? "" : "es");
		for (size_t k = 0; k < s->n_procs && k < 6; k++) {
			growth_format_rate(s->procs[k].growth.rate, rate, sizeof(rate));
			fprintf(out, "%s %d %s %s", k ? "," : "", s->procs[k].pid,
				growth_verdict_name(s->procs[k].growth.verdict), rate);
		}
		if (s->n_procs > 6)
			fprintf(out, ", ... %zu more", s->n_procs - 6);
	}
	fputc('\n', out);
	/* Leaf first, as a debugger shows it; at most 8 frames. */
	for (size_t k = s->n_frames; k-- > 0 && shown < 8; shown++) {
		script_shown |= is_script_frame(s->frames[k]);
		/* Frames and locations come from the target's symbols (text_sanitize.h). */
		fputs("      ", out);
		text_sanitize_fputs(s->frames[k], out, 0);
		if (s->locations[k]) {
			fputs(" (", out);
			text_sanitize_fputs(s->locations[k], out, 0);
			fputc(')', out);
		}
		fputc('\n', out);
	}
	hidden = s->n_frames > 8 ? s->n_frames - 8 : 0;
	/* A JIT-compiled script's allocations (a node Buffer, an addon's malloc) show 8 frames of
	 * the runtime's own code: name the innermost script function below them too, the
	 * application's own before node's built-in modules ("name (node:buffer:391)"): the function
	 * that caused them, which flame graphs and JSON show. */
	script = script_shown ? SIZE_MAX : innermost_script(s, hidden);
	if (script != SIZE_MAX) {
		if (hidden - 1 - script)
			fprintf(out, "      ... %zu more\n", hidden - 1 - script);
		fputs("      ", out);
		text_sanitize_fputs(s->frames[script], out, 0);
		fputc('\n', out);
		hidden = script;
	}
	/* The root frame says whether the stack is whole: keep it visible. */
	if (hidden)
		fprintf(out, "      ... %zu more%s\n", hidden,
			(s->flags & ALLOC_SITE_TRUNCATED) ? ", from [truncated]" : "");
}

int leak_report_write_text(const struct leak_report *r, FILE *out, size_t max_sites)
{
	char a[32], b[32], rate[64];
	uint64_t bytes, allocs;
	size_t shown = 0;

	fprintf(out, "smolder leaks: pid %d (", r->pid);
	text_sanitize_fputs(r->command, out, 0);
	if (r->n_processes > 1)
		fprintf(out, ") and %zu more process%s (%llu forked, %llu exited during the run",
			r->n_processes - 1, r->n_processes == 2 ? "" : "es",
			(unsigned long long)r->tree.forks, (unsigned long long)r->tree.exits);
	fprintf(out, "), %.1f s, interval %.3g s, stopped by %s\n", r->duration_s, r->interval_s,
		r->stop_reason);
	if (!r->complete)
		fprintf(out,
			"WARNING: REPORT INCOMPLETE: tracking tables filled up; allocations were "
			"dropped (see totals). Missing growth is not evidence of no leak.\n");
	fprintf(out, "\nHeap sites by growth rate:\n");
	for (size_t i = 0; i < r->n_sites && shown < max_sites; i++) {
		const struct leak_site *s = &r->sites[i];

		if (s->flags & ALLOC_SITE_MMAP)
			continue;
		if (s->growth.verdict == GROWTH_STEADY && s->outstanding_bytes == 0)
			continue;
		text_site(s, ++shown, r->n_processes > 1, out);
	}
	if (!shown)
		fprintf(out, "  (no heap allocations tracked)\n");
	shown = 0;
	for (size_t i = 0; i < r->n_sites && shown < 3; i++) {
		const struct leak_site *s = &r->sites[i];

		if (!(s->flags & ALLOC_SITE_MMAP) || s->outstanding_bytes == 0)
			continue;
		if (!shown)
			fprintf(out, "\nAnonymous mmap sites:\n");
		text_site(s, ++shown, r->n_processes > 1, out);
	}
	if (r->python_arena_sites)
		fprintf(out,
			"\n[pymalloc arena]: the interpreter mapped memory for its small-object "
			"allocator (objects of 512 bytes or less; pymalloc arenas, and on 3.11+ "
			"its frame stack) while running the Python line shown above it. An arena "
			"is returned only when every object in it is freed: a growing arena site "
			"means small objects created on that path are kept alive, or fragment the "
			"arenas.\n");
	if (r->rss.samples) {
		double first = r->rss.points[0].v, last = r->rss.last.v;

		growth_format_rate(r->rss_growth.rate, rate, sizeof(rate));
		fprintf(out, "\nRSS: %s -> %s, trend %s (%s)\n",
			growth_format_bytes(first, a, sizeof(a)),
			growth_format_bytes(last, b, sizeof(b)), rate,
			growth_verdict_name(r->rss_growth.verdict));
	}
	totals(r, false, &bytes, &allocs);
	fprintf(out, "Heap outstanding: %s in %llu allocations%s\n",
		growth_format_bytes((double)bytes, a, sizeof(a)), (unsigned long long)allocs,
		r->min_age_s > 0 ? " (older than --min-age)" : "");
	totals(r, true, &bytes, &allocs);
	fprintf(out, "Anonymous mmap outstanding: %s in %llu mappings\n",
		growth_format_bytes((double)bytes, a, sizeof(a)), (unsigned long long)allocs);
	fprintf(out,
		"Totals: %llu allocations and %llu frees tracked; %llu frees of memory allocated "
		"before attach ignored\n",
		(unsigned long long)r->stats[SMOLDER_STAT_ALLOCS],
		(unsigned long long)r->stats[SMOLDER_STAT_FREES],
		(unsigned long long)r->stats[SMOLDER_STAT_FREE_UNKNOWN]);
	fprintf(out,
		"Dropped: %llu (alloc table full %llu, site table full %llu, stack table full "
		"%llu, thread table full %llu, mmap table full %llu, ring buffer full %llu, "
		"stacks throttled %llu)\n",
		(unsigned long long)lost_events(r),
		(unsigned long long)r->stats[SMOLDER_STAT_ALLOC_TABLE_FULL],
		(unsigned long long)r->stats[SMOLDER_STAT_SITE_TABLE_FULL],
		(unsigned long long)r->stats[SMOLDER_STAT_STACK_TABLE_FULL],
		(unsigned long long)r->stats[SMOLDER_STAT_THREAD_TABLE_FULL],
		(unsigned long long)r->stats[SMOLDER_STAT_MMAP_TABLE_FULL],
		(unsigned long long)r->stats[SMOLDER_STAT_RINGBUF_FULL],
		(unsigned long long)r->stats[SMOLDER_STAT_SNAPSHOT_THROTTLED]);
	if (r->exec.execs)
		fprintf(out,
			"exec: the target exec'd %llu time(s) (last at %.1f s, was %s); the old "
			"image's %llu allocations (%llu bytes) and %llu mappings (%llu bytes) died "
			"with it and were closed, not counted as outstanding\n",
			(unsigned long long)r->exec.execs, r->exec_at_s, r->command_before_exec,
			(unsigned long long)r->exec.closed.allocs,
			(unsigned long long)r->exec.closed.heap_bytes,
			(unsigned long long)r->exec.closed.mmaps,
			(unsigned long long)r->exec.closed.mmap_bytes);
	if (r->tree.exits)
		fprintf(out,
			"exit: %llu target process(es) exited; their %llu allocations (%llu bytes) "
			"and %llu mappings (%llu bytes) died with them and were closed, not "
			"counted "
			"as outstanding\n",
			(unsigned long long)r->tree.exits,
			(unsigned long long)r->tree.exit_closed.allocs,
			(unsigned long long)r->tree.exit_closed.heap_bytes,
			(unsigned long long)r->tree.exit_closed.mmaps,
			(unsigned long long)r->tree.exit_closed.mmap_bytes);
	fprintf(out,
		"Stacks: %zu of %zu sites truncated (the walk stopped before the thread's root, at "
		"most %d frames: rooted at [truncated])\n",
		truncated_sites(r), r->n_sites, SMOLDER_ALLOC_MAX_FRAMES);
	fprintf(out,
		"Probes: %zu allocator functions in %zu objects (%zu at emulated instructions)\n",
		r->probe_points, r->probe_objects, r->probe_emulated);
	return ferror(out) ? -EIO : 0;
}

static void json_series(struct json_writer *w, const struct growth_series *s, const char *vkey)
{
	json_array_begin(w);
	for (size_t i = 0; i < s->n; i++) {
		json_object_begin(w);
		json_key(w, "t");
		json_double(w, round(s->points[i].t * 1000) / 1000);
		json_key(w, vkey);
		json_uint(w, (uint64_t)llround(s->points[i].v));
		json_object_end(w);
	}
	if (s->samples && (s->n == 0 || s->points[s->n - 1].t != s->last.t)) {
		json_object_begin(w);
		json_key(w, "t");
		json_double(w, round(s->last.t * 1000) / 1000);
		json_key(w, vkey);
		json_uint(w, (uint64_t)llround(s->last.v));
		json_object_end(w);
	}
	json_array_end(w);
}

void leak_report_json_site_processes(struct json_writer *w, const struct leak_site *s)
{
	json_array_begin(w);
	for (size_t k = 0; k < s->n_procs; k++) {
		const struct leak_site_process *p = &s->procs[k];

		json_object_begin(w);
		json_key(w, "pid");
		json_int(w, p->pid);
		json_key(w, "outstanding_bytes");
		json_uint(w, p->outstanding_bytes);
		json_key(w, "outstanding_allocs");
		json_uint(w, p->outstanding_allocs);
		json_key(w, "allocated_bytes");
		json_uint(w, p->alloc_bytes_last);
		json_key(w, "growth_bytes_per_s");
		json_double(w, p->growth.rate);
		json_key(w, "verdict");
		json_string(w, growth_verdict_name(p->growth.verdict));
		json_key(w, "closed_by_exit");
		json_bool(w, p->flags & ALLOC_SITE_EXIT_CLOSED);
		json_object_end(w);
	}
	json_array_end(w);
}

static void json_sites(struct json_writer *w, const struct leak_report *r, bool mmap)
{
	bool tree = r->n_processes > 1;

	json_array_begin(w);
	for (size_t i = 0; i < r->n_sites; i++) {
		const struct leak_site *s = &r->sites[i];

		if (!!(s->flags & ALLOC_SITE_MMAP) != mmap)
			continue;
		json_object_begin(w);
		/* With several processes the stack starts with its command, as --merge-processes
		 * folds record's: the site adds up that command's processes. */
		json_key(w, "stack");
		json_array_begin(w);
		if (tree)
			json_string(w, s->command[0] ? s->command : "[unknown process]");
		for (size_t k = 0; k < s->n_frames; k++)
			json_string(w, s->frames[k]);
		json_array_end(w);
		json_key(w, "locations");
		json_array_begin(w);
		if (tree)
			json_string(w, NULL);
		for (size_t k = 0; k < s->n_frames; k++)
			json_string(w, s->locations[k]);
		json_array_end(w);
		json_key(w, "command");
		json_string(w, s->command);
		json_key(w, "processes");
		leak_report_json_site_processes(w, s);
		json_key(w, "outstanding_bytes");
		json_uint(w, s->outstanding_bytes);
		json_key(w, "outstanding_allocs");
		json_uint(w, s->outstanding_allocs);
		json_key(w, "allocated_bytes");
		json_uint(w, s->alloc_bytes_last);
		json_key(w, "allocations");
		json_uint(w, s->alloc_count_last);
		json_key(w, "growth_bytes_per_s");
		json_double(w, s->growth.rate);
		json_key(w, "early_growth_bytes_per_s");
		json_double(w, s->growth.early_rate);
		json_key(w, "late_growth_bytes_per_s");
		json_double(w, s->growth.late_rate);
		json_key(w, "verdict");
		json_string(w, growth_verdict_name(s->growth.verdict));
		json_key(w, "confidence");
		json_double(w, round(s->growth.confidence * 1000) / 1000);
		json_key(w, "stack_truncated");
		json_bool(w, s->flags & ALLOC_SITE_TRUNCATED);
		/* Complete: walked to the thread's root and every frame in a known object. */
		json_key(w, "closed_by_exec");
		json_bool(w, s->flags & ALLOC_SITE_EXEC_CLOSED);
		json_key(w, "closed_by_exit");
		json_bool(w, s->flags & ALLOC_SITE_EXIT_CLOSED);
		json_key(w, "unknown_frames");
		json_uint(w, s->unknown_frames);
		json_key(w, "stack_complete");
		json_bool(w, !(s->flags & (ALLOC_SITE_TRUNCATED | ALLOC_SITE_UNAVAILABLE)) &&
				     s->unknown_frames == 0);
		json_key(w, "series");
		json_series(w, &s->series, "bytes");
		json_object_end(w);
	}
	json_array_end(w);
}

int leak_report_write_json(const struct leak_report *r, FILE *out)
{
	struct json_writer w;
	uint64_t bytes, allocs;

	json_writer_init(&w, out, true);
	json_object_begin(&w);
	json_key(&w, "pid");
	json_int(&w, r->pid);
	json_key(&w, "command");
	json_string(&w, r->command);
	json_key(&w, "duration_s");
	json_double(&w, round(r->duration_s * 1000) / 1000);
	json_key(&w, "interval_s");
	json_double(&w, r->interval_s);
	json_key(&w, "min_age_s");
	json_double(&w, r->min_age_s);
	json_key(&w, "stop_reason");
	json_string(&w, r->stop_reason);
	json_key(&w, "complete");
	json_bool(&w, r->complete);
	json_key(&w, "totals");
	json_object_begin(&w);
	totals(r, false, &bytes, &allocs);
	json_key(&w, "outstanding_bytes");
	json_uint(&w, bytes);
	json_key(&w, "outstanding_allocs");
	json_uint(&w, allocs);
	json_key(&w, "tracked_allocs");
	json_uint(&w, r->stats[SMOLDER_STAT_ALLOCS]);
	json_key(&w, "lost_events");
	json_uint(&w, lost_events(r));
	totals(r, true, &bytes, &allocs);
	json_key(&w, "mmap_outstanding_bytes");
	json_uint(&w, bytes);
	json_key(&w, "mmap_outstanding_mappings");
	json_uint(&w, allocs);
	for (int i = 0; i < SMOLDER_STAT_MAX; i++) {
		json_key(&w, stat_names[i]);
		json_uint(&w, r->stats[i]);
	}
	json_key(&w, "unwind_rules_learned");
	json_uint(&w, r->rules_installed);
	json_key(&w, "unwind_rules_relearned");
	json_uint(&w, r->rules_relearned);
	json_key(&w, "truncated_sites");
	json_uint(&w, truncated_sites(r));
	json_key(&w, "execs");
	json_uint(&w, r->exec.execs);
	json_key(&w, "exec_closed_allocs");
	json_uint(&w, r->exec.closed.allocs);
	json_key(&w, "exec_closed_bytes");
	json_uint(&w, r->exec.closed.heap_bytes);
	json_key(&w, "exec_closed_mmaps");
	json_uint(&w, r->exec.closed.mmaps);
	json_key(&w, "exec_closed_mmap_bytes");
	json_uint(&w, r->exec.closed.mmap_bytes);
	json_key(&w, "processes");
	json_uint(&w, r->n_processes);
	json_key(&w, "forks_followed");
	json_uint(&w, r->tree.forks);
	json_key(&w, "children_gone_before_probed");
	json_uint(&w, r->tree.children_gone);
	json_key(&w, "exits");
	json_uint(&w, r->tree.exits);
	json_key(&w, "exit_closed_allocs");
	json_uint(&w, r->tree.exit_closed.allocs);
	json_key(&w, "exit_closed_bytes");
	json_uint(&w, r->tree.exit_closed.heap_bytes);
	json_key(&w, "exit_closed_mmaps");
	json_uint(&w, r->tree.exit_closed.mmaps);
	json_key(&w, "exit_closed_mmap_bytes");
	json_uint(&w, r->tree.exit_closed.mmap_bytes);
	if (r->python_version[0]) {
		json_key(&w, "python");
		json_object_begin(&w);
		json_key(&w, "version");
		json_string(&w, r->python_version);
		json_key(&w, "frames_named");
		json_uint(&w, r->python_frames);
		json_key(&w, "frames_unnamed");
		json_uint(&w, r->python_frames_unnamed);
		json_key(&w, "stacks_native_lost");
		json_uint(&w, r->python_orphans);
		json_key(&w, "arena_sites");
		json_uint(&w, r->python_arena_sites);
		json_object_end(&w);
	}
	json_object_end(&w);
	json_key(&w, "probes");
	json_object_begin(&w);
	json_key(&w, "objects");
	json_uint(&w, r->probe_objects);
	json_key(&w, "functions");
	json_uint(&w, r->probe_points);
	json_key(&w, "emulated");
	json_uint(&w, r->probe_emulated);
	json_object_end(&w);
	json_key(&w, "rss_growth_bytes_per_s");
	json_double(&w, r->rss_growth.rate);
	json_key(&w, "rss_verdict");
	json_string(&w, growth_verdict_name(r->rss_growth.verdict));
	json_key(&w, "rss");
	json_series(&w, &r->rss, "rss_bytes");
	json_key(&w, "anon");
	json_series(&w, &r->anon, "anon_bytes");
	json_key(&w, "sites");
	json_sites(&w, r, false);
	json_key(&w, "mmap_sites");
	json_sites(&w, r, true);
	json_object_end(&w);
	return json_writer_finish(&w);
}

size_t leak_report_graph_stacks(const struct leak_report *r, const struct leak_site *s)
{
	return r->n_processes > 1 && !r->merge_processes ? s->n_procs : 1;
}

void leak_report_graph_stack(const struct leak_report *r, const struct leak_site *s, size_t m,
			     struct leak_graph_stack *g)
{
	/* With several processes, each stack starts with its process (COMMAND [PID]), or with its
	 * command (--merge-processes), as record's do. */
	const struct leak_site_process *sp =
		r->n_processes > 1 && !r->merge_processes && m < s->n_procs ? &s->procs[m] : NULL;

	memset(g, 0, sizeof(*g));
	g->member = sp;
	g->outstanding_bytes = sp ? sp->outstanding_bytes : s->outstanding_bytes;
	g->outstanding_allocs = sp ? sp->outstanding_allocs : s->outstanding_allocs;
	g->first_bytes = sp ? sp->first_bytes : s->first_bytes;
	if (sp)
		snprintf(g->root, sizeof(g->root), "%s [%d]", s->command, sp->pid);
	else if (r->n_processes > 1)
		snprintf(g->root, sizeof(g->root), "%s", s->command);
}

int leak_report_write_flamegraph(const struct leak_report *r, FILE *out, bool growth, bool svg)
{
	struct folded_profile *p = folded_profile_new();
	struct flamegraph_options o;
	int err = 0;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_sites && !err; i++) {
		const struct leak_site *s = &r->sites[i];

		for (size_t m = 0; m < leak_report_graph_stacks(r, s) && !err; m++) {
			struct leak_graph_stack g;
			const char *frames[SMOLDER_ALLOC_MAX_FRAMES * 4 + 3];
			double w;
			size_t n = 0;

			leak_report_graph_stack(r, s, m, &g);
			w = growth ? (double)g.outstanding_bytes - (double)g.first_bytes
				   : (double)g.outstanding_bytes;
			if (w <= 0 || s->n_frames == 0)
				continue;
			if (g.root[0])
				frames[n++] = g.root;
			frames[n++] = (s->flags & ALLOC_SITE_MMAP) ? "[anon mmap]" : "[heap]";
			for (size_t k = 0;
			     k < s->n_frames && n < sizeof(frames) / sizeof(frames[0]); k++)
				frames[n++] = s->frames[k];
			err = folded_profile_add(p, frames, n, w);
		}
	}
	if (!err && !svg) {
		err = folded_profile_write(p, out);
	} else if (!err) {
		flamegraph_options_init(&o);
		o.title = growth ? "Memory growth during the run" : "Outstanding memory";
		o.subtitle = growth ? "bytes gained per stack between the first and last snapshot"
				    : "bytes allocated and not freed at the end of the run";
		o.countname = "bytes";
		o.palette = FLAMEGRAPH_PALETTE_MEM;
		if (folded_profile_total(p) <= 0) {
			/* An empty graph is still a valid file. */
			const char *none[] = {growth ? "[no memory growth]"
						     : "[no outstanding memory]"};

			folded_profile_add(p, none, 1, 1);
		}
		err = flamegraph_render(p, &o, out);
	}
	folded_profile_free(p);
	return err;
}

bool leak_report_path_is_growth(const char *path)
{
	const char *dot = strrchr(path, '.');
	size_t stem;

	if (!dot)
		return false;
	stem = (size_t)(dot - path);
	return stem >= 7 && memcmp(path + stem - 7, ".growth", 7) == 0;
}
