/* growth.c: growth rates and verdicts for outstanding-bytes series. The rate is a Theil-Sen slope:
 * the median of pairwise slopes ignores bursts (a batch freed at once, a spike of temporaries) that
 * would drag a least-squares line. The verdict compares the two halves of the analysis window: a
 * leak still grows in the second half at a rate comparable to the first; a plateau grew (in the
 * window or during the excluded transient) and then stopped. Memory allocated before attach is
 * invisible, so a cache that was already full looks like it refills after attach: that ramp is
 * followed by a flat tail and reads as a plateau, never a leak. */
#include "smolder/growth.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int growth_series_init(struct growth_series *s, size_t cap)
{
	if (cap < 8)
		cap = 8;
	s->points = calloc(cap, sizeof(*s->points));
	if (!s->points)
		return -ENOMEM;
	s->n = 0;
	s->cap = cap;
	s->stride = 1;
	s->acc_t = s->acc_v = 0;
	s->acc_n = 0;
	s->samples = 0;
	return 0;
}

void growth_series_release(struct growth_series *s)
{
	if (!s)
		return;
	free(s->points);
	s->points = NULL;
	s->n = s->cap = 0;
}

void growth_series_add(struct growth_series *s, double t, double v)
{
	if (!s->points)
		return;
	s->last.t = t;
	s->last.v = v;
	s->samples++;
	s->acc_t += t;
	s->acc_v += v;
	if (++s->acc_n < s->stride)
		return;
	if (s->n == s->cap) {
		size_t pairs = s->n / 2;

		for (size_t i = 0; i < pairs; i++) {
			s->points[i].t = (s->points[2 * i].t + s->points[2 * i + 1].t) / 2;
			s->points[i].v = (s->points[2 * i].v + s->points[2 * i + 1].v) / 2;
		}
		if (s->n % 2)
			s->points[pairs++] = s->points[s->n - 1];
		s->n = pairs;
		s->stride *= 2;
	}
	s->points[s->n].t = s->acc_t / (double)s->acc_n;
	s->points[s->n].v = s->acc_v / (double)s->acc_n;
	s->n++;
	s->acc_t = s->acc_v = 0;
	s->acc_n = 0;
}

static void swap_d(double *a, double *b)
{
	double t = *a;

	*a = *b;
	*b = t;
}

/* k-th smallest of a[0..n) (reorders a). */
static double select_kth(double *a, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		double pivot = a[lo + (hi - lo) / 2];
		size_t i = lo, j = hi;

		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j) {
				swap_d(&a[i], &a[j]);
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return a[k];
	}
	return a[k];
}

static double median(double *a, size_t n)
{
	double hi = select_kth(a, n, n / 2);

	if (n % 2)
		return hi;
	return (select_kth(a, n, n / 2 - 1) + hi) / 2;
}

int growth_theil_sen(const struct growth_point *p, size_t n, double *slope, double *intercept)
{
	size_t m = 0;
	double *buf;

	if (n < 2)
		return -EINVAL;
	buf = malloc((n * (n - 1) / 2 + n) * sizeof(double));
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			double dt = p[j].t - p[i].t;

			if (dt > 0)
				buf[m++] = (p[j].v - p[i].v) / dt;
		}
	}
	if (m == 0) {
		free(buf);
		return -EINVAL;
	}
	*slope = median(buf, m);
	for (size_t i = 0; i < n; i++)
		buf[i] = p[i].v - *slope * p[i].t;
	*intercept = median(buf, n);
	free(buf);
	return 0;
}

/* Fraction of pairwise slopes above zero, minus the fraction below (Kendall's tau against time). */
static double trend_tau(const struct growth_point *p, size_t n)
{
	long up = 0, down = 0;

	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			if (p[j].v > p[i].v)
				up++;
			else if (p[j].v < p[i].v)
				down++;
		}
	}
	if (up + down == 0)
		return 0;
	return (double)(up - down) / (double)(up + down);
}

/* Robust noise scale: 1.4826 * median absolute residual about the line. */
static double residual_scale(const struct growth_point *p, size_t n, double slope, double icpt)
{
	double *r = malloc(n * sizeof(double)), s;

	if (!r)
		return 0;
	for (size_t i = 0; i < n; i++)
		r[i] = fabs(p[i].v - (slope * p[i].t + icpt));
	s = 1.4826 * median(r, n);
	free(r);
	return s;
}

static double clamp01(double x)
{
	return x < 0 ? 0 : (x > 1 ? 1 : x);
}

void growth_analyze(const struct growth_series *s, const struct growth_params *params,
		    struct growth_result *r)
{
	struct growth_point *p, *w;
	size_t start = 0, n, half, total;
	double icpt, noise, floor_bytes, rise_before, vmin, vmax, mean = 0, data_factor;
	double early, late, tmp;

	memset(r, 0, sizeof(*r));
	r->verdict = GROWTH_STEADY;
	total = s->n + (s->acc_n ? 1 : 0);
	if (total == 0)
		return;
	/* The samples not yet folded into a point count as one more (the run's last state). */
	p = malloc(total * sizeof(*p));
	if (!p)
		return;
	memcpy(p, s->points, s->n * sizeof(*p));
	if (s->acc_n) {
		p[s->n].t = s->acc_t / (double)s->acc_n;
		p[s->n].v = s->acc_v / (double)s->acc_n;
	}
	/* Analysis window: after the warmup, but keep at least 4 points when the run is short. */
	while (start < total && p[start].t - p[0].t < params->warmup_s)
		start++;
	if (total - start < 4)
		start = total > 4 ? total - 4 : 0;
	w = p + start;
	n = total - start;
	r->points = n;
	if (n < 3 || growth_theil_sen(w, n, &r->rate, &icpt)) {
		r->confidence = 0.1;
		free(p);
		return;
	}
	r->window_s = w[n - 1].t - w[0].t;
	vmin = vmax = w[0].v;
	for (size_t i = 0; i < n; i++) {
		vmin = fmin(vmin, w[i].v);
		vmax = fmax(vmax, w[i].v);
		mean += w[i].v / (double)n;
	}
	/* The second half is the second half of the window in time: it starts at the point nearest
	 * the window's middle (the later of two as near: n / 2 for evenly spaced points). Points
	 * are not always evenly spaced (a tick delayed on a loaded machine, the run's last point a
	 * partial interval), and split by count the "second half" could be a fraction of a second,
	 * too short to show the growth that makes a leak. */
	half = 1;
	for (size_t i = 2; i + 1 < n; i++)
		if (fabs(w[i].t - (w[0].t + r->window_s / 2)) <=
		    fabs(w[half].t - (w[0].t + r->window_s / 2)) + 1e-9)
			half = i;
	early = late = 0;
	/* Early half includes the warmup: a cache filling during the transient is still "grew". */
	if (growth_theil_sen(p, start + half + 1, &early, &tmp))
		early = r->rate;
	if (growth_theil_sen(w + half, n - half, &late, &tmp))
		late = r->rate;
	r->early_rate = early;
	r->late_rate = late;
	noise = residual_scale(w, n, r->rate, icpt);
	floor_bytes = fmax(params->min_growth_bytes, 4 * noise);
	rise_before = w[0].v - p[0].v;
	data_factor = clamp01((double)(n - 2) / 10.0);

	double late_window = w[n - 1].t - w[half].t;
	double tau = trend_tau(w, n);

	/* Leak: significant growth over the window that continues in its second half. */
	if (r->rate > 0 && r->rate * r->window_s > floor_bytes &&
	    late * late_window > floor_bytes / 2 && late >= 0.35 * fmax(early, r->rate)) {
		r->verdict = GROWTH_LEAK;
		r->confidence = clamp01(tau) * data_factor * clamp01(late / r->rate);
		goto out;
	}
	/* Plateau: grew in the window, then flat; or grew during the transient with little
	 * turnover. A pool that only refilled during the transient while allocating many times
	 * its size is churn: its growth was the invisible pre-attach blocks being replaced. */
	double early_w = 0, grown = vmax - w[0].v, *late_v = malloc((n - half) * sizeof(*late_v));

	if (growth_theil_sen(w, half + 1, &early_w, &tmp))
		early_w = 0;
	/* Grown to: the late half's median level, not its maximum, so one snapshot that caught a
	 * churning loop mid-burst (its in-flight blocks) is not taken for growth. */
	if (late_v) {
		for (size_t i = half; i < n; i++)
			late_v[i - half] = w[i].v;
		grown = median(late_v, n - half) - w[0].v;
		free(late_v);
	}
	bool grew_in_window = (early_w > 0 && early_w * (w[half].t - w[0].t) > floor_bytes) ||
			      grown > floor_bytes;
	bool grew_before = rise_before > floor_bytes &&
			   params->turnover_bytes <= 2 * fmax(fmax(mean, vmax), 1);

	/* A plateau holds a level: in the late half the series stays near its top. Allocations that
	 * are only in flight (a sort's temporary buffer) jump between zero and a few blocks; a
	 * spike in such a series is not growth. */
	double late_min = w[half].v, late_max = w[half].v;

	for (size_t i = half; i < n; i++) {
		late_min = fmin(late_min, w[i].v);
		late_max = fmax(late_max, w[i].v);
	}
	bool holds_level = late_max <= params->min_growth_bytes || late_min >= 0.6 * late_max;

	if ((grew_in_window || grew_before) && holds_level) {
		double ref = fmax(early, early_w);

		if (fabs(late) * late_window <= floor_bytes || late < 0.35 * ref) {
			double flat = ref > 0 ? 1 - clamp01(fabs(late) / ref) : 0.5;

			r->verdict = GROWTH_PLATEAU;
			r->confidence = clamp01(0.5 + 0.5 * flat) * data_factor;
			goto out;
		}
	}
	/* Churn: allocation volume well above what stays outstanding. */
	if (params->turnover_bytes > fmax(2 * fmax(mean, vmax), params->min_growth_bytes)) {
		r->verdict = GROWTH_CHURN;
		r->confidence =
			clamp01(1 - fabs(r->rate) * r->window_s / fmax(params->turnover_bytes, 1)) *
			data_factor;
		goto out;
	}
	r->verdict = GROWTH_STEADY;
	r->confidence =
		clamp01(1 - fabs(r->rate) * r->window_s / fmax(floor_bytes, 1)) * data_factor;
out:
	free(p);
}

const char *growth_verdict_name(enum growth_verdict verdict)
{
	switch (verdict) {
	case GROWTH_LEAK:
		return "leak";
	case GROWTH_PLATEAU:
		return "plateau";
	case GROWTH_CHURN:
		return "churn";
	default:
		return "steady";
	}
}

char *growth_format_bytes(double bytes, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = fabs(bytes);
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%s%.0f B", bytes < 0 ? "-" : "", v);
	else
		snprintf(buf, len, "%s%.*f %s", bytes < 0 ? "-" : "",
			 v < 10 ? 2 : (v < 100 ? 1 : 0), v, units[u]);
	return buf;
}

char *growth_format_rate(double bytes_per_s, char *buf, size_t len)
{
	char a[32], b[32];

	growth_format_bytes(bytes_per_s, a, sizeof(a));
	growth_format_bytes(bytes_per_s * 3600, b, sizeof(b));
	snprintf(buf, len, "%s/s (%s/h)", a, b);
	return buf;
}
