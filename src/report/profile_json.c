/* profile_json.c: the profile JSON report of `smolder profile` (see profile_json.h): function
 * shares from the folded on-CPU stacks, memory totals and sites, per-operation figures, the
 * timeline; the findings are profile_findings.c's. */
#include "smolder/profile_json.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "flamegraph.h"
#include "smolder/json_writer.h"
#include "smolder/leak_report.h"
#include "smolder/load_command.h"
#include "smolder/offcpu_collector.h"
#include "smolder/profile_output.h"
#include "smolder/session.h"
#include "smolder/timeline.h"
#include "smolder/u64_map.h"

#include "profile_findings.h"

#define PROFILE_TOP_FUNCS 50

/* "off_cpu": exact seconds per state and per thread (from the BPF totals), and function shares
 * of the time-weighted stacks (blocks >= min_block_us kept, shorter ones sampled). */
static int write_off_cpu(struct json_writer *w, const struct offcpu_report *r)
{
	struct func_table ft = {0};
	uint64_t sum = 0;
	int err = r->folded ? func_table_fill(&ft, r->folded, &sum) : 0;

	if (err) {
		func_table_release(&ft);
		return err;
	}
	json_key(w, "off_cpu");
	json_object_begin(w);
	json_key(w, "seconds");
	json_double(w, r->seconds);
	json_key(w, "by_state");
	json_object_begin(w);
	for (uint32_t st = 0; st < SMOLDER_OFFCPU_STATE_COUNT; st++) {
		json_key(w, offcpu_state_name(st));
		json_double(w, r->state_seconds[st]);
	}
	json_object_end(w);
	json_key(w, "still_blocked_s");
	json_double(w, r->still_blocked_s);
	json_key(w, "blocks");
	json_uint(w, r->blocks);
	json_key(w, "stacks_min_block_us");
	json_double(w, (double)r->min_block_ns / 1e3);
	json_key(w, "records");
	json_uint(w, r->records);
	if (r->bpf_runs && r->bpf_run_ns) {
		/* Only with kernel.bpf_stats_enabled=1: what the programs cost, in the kernel. */
		json_key(w, "bpf_run_ns");
		json_uint(w, r->bpf_run_ns);
		json_key(w, "bpf_runs");
		json_uint(w, r->bpf_runs);
	}
	json_key(w, "threads");
	json_array_begin(w);
	for (size_t i = 0; i < r->n_threads && i < 100; i++) {
		const struct offcpu_thread_total *t = &r->threads[i];
		double total = 0;

		for (uint32_t st = 0; st < SMOLDER_OFFCPU_STATE_COUNT; st++)
			total += t->seconds[st];
		json_object_begin(w);
		json_key(w, "tid");
		json_int(w, t->tid);
		json_key(w, "name");
		json_string(w, t->name);
		json_key(w, "seconds");
		json_double(w, total);
		json_key(w, "by_state");
		json_object_begin(w);
		for (uint32_t st = 0; st < SMOLDER_OFFCPU_STATE_COUNT; st++) {
			json_key(w, offcpu_state_name(st));
			json_double(w, t->seconds[st]);
		}
		json_object_end(w);
		json_object_end(w);
	}
	json_array_end(w);
	json_key(w, "functions");
	json_array_begin(w);
	for (size_t i = 0; sum && i < ft.n && i < PROFILE_TOP_FUNCS; i++) {
		json_object_begin(w);
		json_key(w, "name");
		json_string(w, ft.items[i].name);
		json_key(w, "self");
		json_double(w, (double)ft.items[i].self / (double)sum);
		json_key(w, "total");
		json_double(w, (double)ft.items[i].total / (double)sum);
		json_key(w, "seconds");
		json_double(w, (double)ft.items[i].total / 1e6);
		json_object_end(w);
	}
	json_array_end(w);
	json_object_end(w);
	func_table_release(&ft);
	return 0;
}

static void write_timeline(struct json_writer *w, const struct timeline *tl)
{
	json_key(w, "timeline");
	json_array_begin(w);
	for (size_t i = 0; i < tl->n_points; i++) {
		const struct timeline_point *p = &tl->points[i];

		json_object_begin(w);
		json_key(w, "t");
		json_double(w, p->t);
		json_key(w, "cpu_user_pct");
		json_double(w, p->cpu_user_pct);
		json_key(w, "cpu_sys_pct");
		json_double(w, p->cpu_sys_pct);
		json_key(w, "rss_bytes");
		json_uint(w, p->rss_bytes);
		json_key(w, "rss_anon_bytes");
		json_uint(w, p->anon_bytes);
		json_key(w, "rss_file_bytes");
		json_uint(w, p->file_bytes);
		json_key(w, "heap_bytes");
		json_uint(w, p->heap_bytes);
		json_key(w, "threads");
		json_uint(w, p->threads);
		json_key(w, "fds");
		json_uint(w, p->fds);
		json_key(w, "read_bytes");
		json_uint(w, p->read_bytes);
		json_key(w, "write_bytes");
		json_uint(w, p->write_bytes);
		json_key(w, "net_rx_bytes");
		json_uint(w, p->net_rx_bytes);
		json_key(w, "net_tx_bytes");
		json_uint(w, p->net_tx_bytes);
		json_key(w, "ctx_voluntary");
		json_uint(w, p->ctx_voluntary);
		json_key(w, "ctx_involuntary");
		json_uint(w, p->ctx_involuntary);
		json_key(w, "minor_faults");
		json_uint(w, p->minor_faults);
		json_key(w, "major_faults");
		json_uint(w, p->major_faults);
		json_key(w, "host_cpu_pct");
		json_double(w, p->host_cpu_pct);
		json_key(w, "mem_available_bytes");
		json_uint(w, p->mem_available);
		json_object_end(w);
	}
	json_array_end(w);
}

/* The span per-operation CPU and RSS figures are measured over. */
struct profile_per_op {
	const char *window; /* "load": the load command's run; "run": the whole run */
	double window_s, cpu_s, rss_growth;
	uint64_t allocs; /* allocations made in the window */
};

/* The load window when the load command ran and the target could be read at both ends; else
 * the run (its CPU accounting, the timeline's RSS growth). */
static void profile_per_op_window(const struct profile_json_input *in, uint64_t run_allocs,
				  struct profile_per_op *po)
{
	const struct load_command *lc = in->load;

	po->window = "run";
	po->window_s = in->session->duration_s;
	po->cpu_s = in->fig->cpu_s;
	po->rss_growth = timeline_rss_growth(in->timeline);
	po->allocs = run_allocs;
	if (!lc || !lc->started || !isfinite(lc->at_start.cpu_s) || !isfinite(lc->at_end.cpu_s) ||
	    !lc->at_start.rss_valid || !lc->at_end.rss_valid)
		return;
	po->window = "load";
	po->window_s = (lc->done ? lc->end_s : in->session->duration_s) - lc->start_s;
	po->cpu_s = lc->at_end.cpu_s - lc->at_start.cpu_s;
	po->rss_growth = (double)lc->at_end.rss_bytes - (double)lc->at_start.rss_bytes;
	if (!load_command_count(lc, LOAD_COUNT_ALLOCS, &po->allocs))
		po->allocs = run_allocs;
}

int profile_json_write(FILE *fp, const struct profile_json_input *in)
{
	const struct session *s = in->session;
	const struct timeline *tl = in->timeline;
	const struct load_command *lc = in->load;
	const struct profile_figures *fig = in->fig;
	struct func_table ft = {0};
	struct json_writer w;
	uint64_t sum = 0, leaked = 0, allocs = 0, outstanding = 0, heap = 0;
	struct profile_per_op po;
	struct rusage self;
	int err = func_table_fill(&ft, in->folded, &sum);

	if (err) {
		func_table_release(&ft);
		return err;
	}
	if (fig->mem) {
		for (size_t i = 0; i < fig->mem->n_sites; i++) {
			const struct leak_site *site = &fig->mem->sites[i];

			outstanding += site->outstanding_bytes;
			allocs += site->alloc_count_last;
			/* The tracker sees only allocations made since it attached, so what is
			 * outstanding at the end was allocated during the run and not freed.
			 * Leaked: that, at sites judged `leak` (a cache that levelled off is not a
			 * leak). */
			if (!(site->flags & ALLOC_SITE_MMAP))
				heap += site->outstanding_bytes;
			if (site->growth.verdict == GROWTH_LEAK)
				leaked += site->outstanding_bytes;
		}
	}
	profile_per_op_window(in, allocs, &po);
	json_writer_init(&w, fp, true);
	json_object_begin(&w);
	json_key(&w, "pid");
	json_int(&w, s->pid);
	json_key(&w, "command");
	json_string(&w, s->comm);
	json_key(&w, "duration_s");
	json_double(&w, s->duration_s);
	json_key(&w, "interval_s");
	json_double(&w, (double)s->opts.interval_ns / 1e9);
	json_key(&w, "frequency_hz");
	json_int(&w, fig->frequency_hz);
	json_key(&w, "stop_reason");
	json_string(&w, s->stop_requested ? s->stop_requested : run_control_reason_name(s->stop));
	if (lc) {
		json_key(&w, "load");
		json_object_begin(&w);
		json_key(&w, "command");
		json_string(&w, lc->command);
		json_key(&w, "exit_status");
		if (lc->done && lc->started) /* a command held for $PORT never ran */
			json_int(&w, lc->status);
		else
			json_null(&w);
		json_key(&w, "start_s");
		json_double(&w, lc->start_s);
		json_key(&w, "end_s");
		json_double(&w, lc->done ? lc->end_s : s->duration_s);
		json_key(&w, "port");
		if (lc->port)
			json_uint(&w, lc->port);
		else
			json_null(&w);
		json_key(&w, "output_tail");
		json_string(&w, lc->tail);
		json_object_end(&w);
	}
	json_key(&w, "ops");
	if (isnan(fig->ops))
		json_null(&w);
	else
		json_double(&w, fig->ops);
	json_key(&w, "ops_source");
	if (fig->ops_source)
		json_string(&w, fig->ops_source);
	else
		json_null(&w);
	if (!isnan(fig->ops) && fig->ops > 0) {
		json_key(&w, "per_op");
		json_object_begin(&w);
		/* CPU, RSS and allocations over the load window when there is one (what the load
		 * tool's count covers); leaks over the run (the tracker's whole series). */
		json_key(&w, "window");
		json_string(&w, po.window);
		json_key(&w, "window_s");
		json_double(&w, po.window_s);
		json_key(&w, "cpu_s");
		json_double(&w, po.cpu_s / fig->ops);
		if (fig->mem) {
			json_key(&w, "allocations");
			json_double(&w, (double)po.allocs / fig->ops);
			json_key(&w, "leaked_bytes");
			json_double(&w, (double)leaked / fig->ops);
			json_key(&w, "leaked_bytes_per_100_ops");
			json_double(&w, (double)leaked / fig->ops * 100);
			json_key(&w, "heap_growth_bytes");
			json_double(&w, (double)heap / fig->ops);
		}
		json_key(&w, "rss_growth_bytes");
		json_double(&w, po.rss_growth / fig->ops);
		json_object_end(&w);
	}
	json_key(&w, "cpu");
	json_object_begin(&w);
	json_key(&w, "samples");
	json_uint(&w, fig->samples);
	json_key(&w, "cpu_s");
	json_double(&w, fig->cpu_s);
	/* true: the kernel's accounting of the target (no counting noise); false: samples / rate.
	 */
	json_key(&w, "cpu_s_measured");
	json_bool(&w, fig->cpu_measured);
	json_key(&w, "functions");
	json_array_begin(&w);
	for (size_t i = 0; sum && i < ft.n && i < PROFILE_TOP_FUNCS; i++) {
		json_object_begin(&w);
		json_key(&w, "name");
		json_string(&w, ft.items[i].name);
		json_key(&w, "self");
		json_double(&w, (double)ft.items[i].self / (double)sum);
		json_key(&w, "total");
		json_double(&w, (double)ft.items[i].total / (double)sum);
		json_object_end(&w);
	}
	json_array_end(&w);
	json_object_end(&w);
	if (fig->off_cpu) {
		err = write_off_cpu(&w, fig->off_cpu);
		if (err) {
			func_table_release(&ft);
			return err;
		}
	}
	if (fig->mem) {
		json_key(&w, "memory");
		json_object_begin(&w);
		json_key(&w, "totals");
		json_object_begin(&w);
		json_key(&w, "outstanding_bytes");
		json_uint(&w, outstanding);
		json_key(&w, "tracked_allocs");
		json_uint(&w, fig->mem->stats[SMOLDER_STAT_ALLOCS]);
		json_key(&w, "leaked_bytes");
		json_uint(&w, leaked);
		json_object_end(&w);
		json_key(&w, "sites");
		json_array_begin(&w);
		for (size_t i = 0; i < fig->mem->n_sites && i < 100; i++) {
			const struct leak_site *site = &fig->mem->sites[i];

			json_object_begin(&w);
			json_key(&w, "stack");
			json_array_begin(&w);
			/* Process trees: the site adds up its command's processes (leak_report.h).
			 */
			if (fig->mem->n_processes > 1)
				json_string(&w, site->command);
			for (size_t k = 0; k < site->n_frames; k++)
				json_string(&w, site->frames[k]);
			json_array_end(&w);
			size_t fn = profile_site_function(fig->mem, site);

			json_key(&w, "locations");
			json_array_begin(&w);
			if (fig->mem->n_processes > 1)
				json_string(&w, NULL); /* the command */
			for (size_t k = 0; k < site->n_frames; k++)
				json_string(&w, site->locations ? site->locations[k] : NULL);
			json_array_end(&w);
			/* The frame the HTML report and the findings name the site by. */
			json_key(&w, "function");
			json_string(&w, fn < site->n_frames ? site->frames[fn] : NULL);
			json_key(&w, "location");
			json_string(&w, fn < site->n_frames && site->locations ? site->locations[fn]
									       : NULL);
			if (fig->mem->n_processes > 1) {
				json_key(&w, "command");
				json_string(&w, site->command);
				json_key(&w, "processes");
				leak_report_json_site_processes(&w, site);
			}
			json_key(&w, "outstanding_bytes");
			json_uint(&w, site->outstanding_bytes);
			json_key(&w, "allocations");
			json_uint(&w, site->alloc_count_last);
			json_key(&w, "growth_bytes");
			json_uint(&w, site->outstanding_bytes > site->first_bytes
					      ? site->outstanding_bytes - site->first_bytes
					      : 0);
			json_key(&w, "growth_bytes_per_s");
			json_double(&w, site->growth.rate);
			json_key(&w, "verdict");
			json_string(&w, growth_verdict_name(site->growth.verdict));
			json_key(&w, "confidence");
			json_double(&w, site->growth.confidence);
			json_key(&w, "series"); /* outstanding bytes, bounded by the leak series */
			json_array_begin(&w);
			for (size_t k = 0; k < site->series.n; k++) {
				json_object_begin(&w);
				json_key(&w, "t");
				json_double(&w, round(site->series.points[k].t * 1000) / 1000);
				json_key(&w, "bytes");
				json_uint(&w, (uint64_t)llround(site->series.points[k].v));
				json_object_end(&w);
			}
			json_array_end(&w);
			json_object_end(&w);
		}
		json_array_end(&w);
		json_object_end(&w);
	}
	write_timeline(&w, tl);
	profile_findings_write(&w, &ft, sum, tl, fig, s->duration_s, in->folded);
	json_key(&w, "dropped");
	json_object_begin(&w);
	json_key(&w, "cpu_samples");
	json_uint(&w, fig->lost);
	if (fig->ops_probe) {
		json_key(&w, "ops_probe_calls");
		json_uint(&w, fig->ops_probe_dropped);
	}
	if (fig->off_cpu) {
		/* Records lost lose a stack, not time: the per-state seconds count every block. */
		json_key(&w, "off_cpu_records");
		json_uint(&w, fig->off_cpu->records_lost);
		json_key(&w, "off_cpu_no_user_stack");
		json_uint(&w, fig->off_cpu->no_user_stack);
		json_key(&w, "off_cpu_unmeasured_blocks");
		json_uint(&w, fig->off_cpu->no_switch_out + fig->off_cpu->threads_full);
		json_key(&w, "off_cpu_kernel_stacks");
		json_uint(&w, fig->off_cpu->kstack_failed);
	}
	if (fig->mem) {
		json_key(&w, "allocations");
		json_uint(&w, fig->mem->stats[SMOLDER_STAT_ALLOC_TABLE_FULL] +
				      fig->mem->stats[SMOLDER_STAT_THREAD_TABLE_FULL]);
		json_key(&w, "stacks");
		json_uint(&w, fig->mem->stats[SMOLDER_STAT_RINGBUF_FULL] +
				      fig->mem->stats[SMOLDER_STAT_STACK_TABLE_FULL] +
				      fig->mem->stats[SMOLDER_STAT_SNAPSHOT_THROTTLED]);
	}
	json_object_end(&w);
	/* How it was measured: smolder's own cost. */
	getrusage(RUSAGE_SELF, &self);
	json_key(&w, "smolder");
	json_object_begin(&w);
	json_key(&w, "cpu_s");
	json_double(&w, (double)self.ru_utime.tv_sec + (double)self.ru_utime.tv_usec / 1e6 +
				(double)self.ru_stime.tv_sec + (double)self.ru_stime.tv_usec / 1e6);
	json_key(&w, "max_rss_bytes");
	json_uint(&w, (uint64_t)self.ru_maxrss * 1024);
	json_object_end(&w);
	json_object_end(&w);
	func_table_release(&ft);
	return json_writer_finish(&w);
}
