/* leak_collector.h: the allocation collector of a session (leaks, profile): the allocation
 * tracker's probes (by path before exec in launch mode, by the mapped objects otherwise, again
 * each interval for dlopen), a snapshot of outstanding bytes per site and of the target's RSS
 * every interval, and at the end the analysed, symbolized leak report. Owns the tracker and the
 * report; borrows the session's unwinder and symbolizer. */
#ifndef SMOLDER_LEAK_COLLECTOR_H
#define SMOLDER_LEAK_COLLECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "smolder/leak_report.h"

struct leak_collector;
struct session;
struct session_collector;
struct alloc_tracker;

struct leak_collector_options {
	double min_age_s;	 /* --min-age: outstanding totals count only older blocks */
	bool native;		 /* --native: keep interpreter-internal native frames */
	bool python_by_function; /* --function: Python frames without the executing line */
	bool children;		 /* follow children of the targets (--children, launch default) */
	bool merge_processes;	 /* --merge-processes: folded stacks rooted at COMMAND */
};

/* NULL and errno on failure; free with leak_collector_free. */
struct leak_collector *leak_collector_new(const struct leak_collector_options *opts);
/* NULL-safe. */
void leak_collector_free(struct leak_collector *lc);
/* Fills the session callbacks (attach: probes; start: first snapshot; tick: snapshot). */
void leak_collector_plug(struct leak_collector *lc, struct session_collector *out);

/* After the run: final snapshot, --min-age, drop counters, analysis, symbols. Returns the report
 * (owned by the collector). */
struct leak_report *leak_collector_finish(struct leak_collector *lc, struct session *s);
/* The tracker, for readers of live state (heap outstanding); NULL before attach. */
struct alloc_tracker *leak_collector_tracker(struct leak_collector *lc);
/* Heap bytes outstanding at the last snapshot (all sites, mmap excluded). */
uint64_t leak_collector_heap_bytes(const struct leak_collector *lc);
/* Heap allocations made since the tracker attached (tracked, or missed because its table was
 * full), read now from its BPF counters; lc is a struct leak_collector. 0 or -errno. */
int leak_collector_alloc_count(void *lc, uint64_t *count);

#endif
