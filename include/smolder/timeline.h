/* timeline.h: the resource timeline of `smolder profile`: a session collector that reads the
 * target's /proc figures (CPU, RSS, heap, threads, fds, I/O, network, context switches, faults)
 * and the host's CPU and available memory every interval, into a series bounded for any run
 * length (adjacent points merge when it is full). */
#ifndef SMOLDER_TIMELINE_H
#define SMOLDER_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct session;
struct session_collector;
struct leak_collector;

#define TIMELINE_MAX_POINTS 3600 /* then pairs merge: bounded for any run length */

/* One timeline point: /proc figures at t (counters as deltas over the interval, levels as read). */
struct timeline_point {
	double t;
	double cpu_user_pct, cpu_sys_pct, host_cpu_pct;
	uint64_t rss_bytes, anon_bytes, file_bytes, heap_bytes, threads, fds;
	uint64_t read_bytes, write_bytes, net_rx_bytes, net_tx_bytes;
	uint64_t ctx_voluntary, ctx_involuntary, minor_faults, major_faults, mem_available;
};

/* Cumulative /proc counters of the previous read (deltas are taken against them). */
struct timeline_counters {
	double utime_s, stime_s, host_busy, host_total;
	uint64_t read_bytes, write_bytes, rx, tx, vol, invol, minflt, majflt;
	bool valid;
};

struct timeline {
	struct timeline_point *points; /* n_points of max_points, in time order */
	size_t n_points, max_points;
	uint64_t first_rss, peak_rss; /* at the baseline read; highest seen */
	struct leak_collector *leaks; /* heap_bytes source, or NULL (--no-memory) */
	struct timeline_counters last;
	double last_t;
};

/* A timeline of at most max_points points (0: TIMELINE_MAX_POINTS); leaks (may be NULL) gives
 * the heap figure and must outlive it. NULL with errno set on failure; free with timeline_free. */
struct timeline *timeline_new(size_t max_points, struct leak_collector *leaks);
/* Frees the timeline. NULL-safe. */
void timeline_free(struct timeline *tl);
/* Fills plug with the collector's callbacks: start reads the baseline, tick appends a point. */
void timeline_plug(struct timeline *tl, struct session_collector *plug);
/* Appends p; when the series is full, it first halves it (timeline_downsample). */
void timeline_append(struct timeline *tl, const struct timeline_point *p);
/* Halves the series: adjacent pairs merge (counters add, percentages average, levels and t are
 * the later point's); an odd last point is dropped. */
void timeline_downsample(struct timeline *tl);
/* RSS at the last point minus RSS at the baseline (bytes; 0 without points). */
double timeline_rss_growth(const struct timeline *tl);

#endif
