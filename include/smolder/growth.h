/* growth.h: memory growth over time: bounded time series (old points downsampled so hours-long
 * runs keep a fixed size), a robust growth rate (Theil-Sen slope) and the leak / plateau / churn /
 * steady verdict with a confidence. Pure math, no I/O. */
#ifndef SMOLDER_GROWTH_H
#define SMOLDER_GROWTH_H

#include <stddef.h>
#include <stdint.h>

struct growth_point {
	double t; /* seconds since the run started */
	double v; /* bytes */
};

/* At most cap points, each the average of `stride` raw samples. When full, adjacent pairs merge
 * and the stride doubles: old points are downsampled, every point keeps an equal weight (so the
 * fit is not skewed towards recent data) and memory stays cap points for any run length. */
struct growth_series {
	struct growth_point *points;
	size_t n, cap;
	size_t stride;	     /* raw samples per point */
	double acc_t, acc_v; /* samples not yet folded into a point */
	size_t acc_n;
	struct growth_point last; /* newest raw sample */
	size_t samples;		  /* raw samples added */
};

/* cap >= 8. Returns 0 or -ENOMEM. */
int growth_series_init(struct growth_series *s, size_t cap);
/* NULL-safe. */
void growth_series_release(struct growth_series *s);
/* Appends (t, v); t must not go backwards. */
void growth_series_add(struct growth_series *s, double t, double v);

/* Theil-Sen estimator over points[0..n): the median of pairwise slopes; robust to outliers and
 * spikes. *intercept is the median of v - slope * t. Returns 0, or -EINVAL when n < 2 or all t
 * are equal. */
int growth_theil_sen(const struct growth_point *points, size_t n, double *slope, double *intercept);

enum growth_verdict {
	GROWTH_STEADY = 0,
	GROWTH_LEAK,	/* keeps growing through the run */
	GROWTH_PLATEAU, /* grew, then levelled off (caches, pools) */
	GROWTH_CHURN,	/* allocated and freed, no net growth */
};

struct growth_params {
	double warmup_s; /* transient after attach excluded from the rate (refilling caches) */
	double min_growth_bytes; /* growth below this over the window is noise */
	double turnover_bytes;	 /* bytes allocated by the site during the analysis window */
};

struct growth_result {
	enum growth_verdict verdict;
	double confidence; /* 0..1 */
	double rate;	   /* bytes/s over the analysis window (Theil-Sen) */
	double early_rate; /* first half of the window (and the warmup), bytes/s */
	double late_rate;  /* second half, bytes/s */
	double window_s;   /* length of the analysis window */
	size_t points;	   /* points in the window */
};

/* Analyses a series. Always fills *result; with too few points the verdict is steady with a low
 * confidence. */
void growth_analyze(const struct growth_series *s, const struct growth_params *params,
		    struct growth_result *result);

const char *growth_verdict_name(enum growth_verdict verdict);

/* "1.5 MiB", "98.4 KiB", "512 B". Returns buf. */
char *growth_format_bytes(double bytes, char *buf, size_t len);
/* "98.4 KiB/s (346 MiB/h)". Returns buf. */
char *growth_format_rate(double bytes_per_s, char *buf, size_t len);

#endif
