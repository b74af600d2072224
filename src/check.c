/* check.c: the metrics `smolder check` gates on, read from record, leaks, profile, pprof and folded
 * inputs, and their evaluation against absolute limits and baselines (the budget file is
 * check_budget.c). Noise handling (why a same-build rerun does not fail): values are per
 * operation where an operation count is known; repeated baselines are combined by their median
 * and a current value within the worst baseline never fails; a change must exceed both the
 * allowed percentage and a minimum absolute change; values drawn from samples also get a 3-sigma
 * counting-noise allowance. */
#include "smolder/check.h"
#include "smolder/growth.h"
#include "smolder/report_input.h"
#include "smolder/text_sanitize.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_REGRESSION_PCT 10.0
/* Counting noise allowed on sampled values, in standard deviations. */
#define SAMPLING_SIGMAS 3.0

static const struct {
	const char *name;
	enum check_unit unit;
	double min_change;
} metrics[CHECK_METRIC_COUNT] = {
	[CHECK_PEAK_RSS] = {"peak_rss_bytes", CHECK_UNIT_BYTES, 4 << 20},
	[CHECK_RSS_GROWTH_PER_S] = {"rss_growth_bytes_per_s", CHECK_UNIT_BYTES_PER_S, 64 << 10},
	[CHECK_RSS_GROWTH_PER_OP] = {"rss_growth_bytes_per_op", CHECK_UNIT_BYTES, 64},
	[CHECK_LEAKED_BYTES] = {"leaked_bytes", CHECK_UNIT_BYTES, 64 << 10},
	[CHECK_LEAKED_PER_OP] = {"leaked_bytes_per_op", CHECK_UNIT_BYTES, 8},
	[CHECK_LEAKED_PER_100_OPS] = {"leaked_bytes_per_100_ops", CHECK_UNIT_BYTES, 800},
	[CHECK_HEAP_LEAK_RATE] = {"heap_leak_rate_bytes_per_s", CHECK_UNIT_BYTES_PER_S, 4 << 10},
	[CHECK_CPU_SECONDS] = {"cpu_s", CHECK_UNIT_SECONDS, 0.05},
	[CHECK_CPU_PER_OP] = {"cpu_s_per_op", CHECK_UNIT_SECONDS, 0},
	/* 5 points: a short run's share moves by a few stray blocks (26 ms of I/O wait made 2% of
	 * a 1.3 s CPU-bound run). */
	[CHECK_OFF_CPU_SHARE] = {"off_cpu_share", CHECK_UNIT_SHARE, 0.05},
	[CHECK_FUNCTION_SHARE] = {"function_share", CHECK_UNIT_SHARE, 0.02},
	[CHECK_FUNCTION_SELF_SHARE] = {"function_self_share", CHECK_UNIT_SHARE, 0.02},
	[CHECK_DROPPED_RATIO] = {"dropped_ratio", CHECK_UNIT_SHARE, 0.001},
};

static int check_error(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int check_error(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	text_sanitize_vformat(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

const char *check_metric_name(enum check_metric metric)
{
	return metric < CHECK_METRIC_COUNT ? metrics[metric].name : "?";
}

enum check_unit check_metric_unit(enum check_metric metric)
{
	return metrics[metric].unit;
}

double check_metric_default_min_change(enum check_metric metric)
{
	return metrics[metric].min_change;
}

int check_metric_lookup(const char *name)
{
	for (int i = 0; i < CHECK_METRIC_COUNT; i++)
		if (!strcmp(metrics[i].name, name))
			return i;
	return -1;
}

char *check_format_value(enum check_metric metric, double v, char *buf, size_t len)
{
	char tmp[64];

	if (isnan(v)) {
		snprintf(buf, len, "-");
		return buf;
	}
	switch (metrics[metric].unit) {
	case CHECK_UNIT_BYTES:
		if (fabs(v) < 1024)
			snprintf(buf, len, "%.4g B", v);
		else
			snprintf(buf, len, "%s%s", v < 0 ? "-" : "",
				 growth_format_bytes(fabs(v), tmp, sizeof(tmp)));
		break;
	case CHECK_UNIT_BYTES_PER_S:
		snprintf(buf, len, "%s%s/s", v < 0 ? "-" : "",
			 growth_format_bytes(fabs(v), tmp, sizeof(tmp)));
		break;
	case CHECK_UNIT_SECONDS:
		if (fabs(v) >= 1 || v == 0)
			snprintf(buf, len, "%.4g s", v);
		else if (fabs(v) >= 1e-3)
			snprintf(buf, len, "%.4g ms", v * 1e3);
		else
			snprintf(buf, len, "%.4g us", v * 1e6);
		break;
	case CHECK_UNIT_SHARE:
		snprintf(buf, len, "%.2f%%", v * 100);
		break;
	}
	return buf;
}

/* ---- metric values ---- */

static double jnum(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

static double report_ops(const struct report_input *in, double ops)
{
	double own = in->json ? jnum(in->json, "ops") : NAN;

	return own > 0 ? own : ops;
}

/* The RSS series: leaks' "rss", profile's "timeline". NULL when none. */
static json_t *rss_series(const struct report_input *in, const char **key)
{
	*key = "rss_bytes";
	if (in->kind == REPORT_KIND_LEAKS)
		return json_object_get(in->json, "rss");
	if (in->kind == REPORT_KIND_PROFILE)
		return json_object_get(in->json, "timeline");
	return NULL;
}

static json_t *leak_sites(const struct report_input *in)
{
	if (in->kind == REPORT_KIND_LEAKS)
		return json_object_get(in->json, "sites");
	if (in->kind == REPORT_KIND_PROFILE)
		return json_object_get(json_object_get(in->json, "memory"), "sites");
	return NULL;
}

/* Sum of KEY over sites whose verdict is leak; -ENODATA when there are no sites. */
static int leak_sum(const struct report_input *in, const char *key, double *out)
{
	json_t *sites = leak_sites(in), *site;
	size_t i;

	if (!json_is_array(sites))
		return -ENODATA;
	*out = 0;
	json_array_foreach(sites, i, site)
	{
		json_t *verdict = json_object_get(site, "verdict");
		double v = jnum(site, key);

		if (json_is_string(verdict) && !strcmp(json_string_value(verdict), "leak") &&
		    isfinite(v))
			*out += v;
	}
	return 0;
}

static int series_points(json_t *series, const char *key, struct growth_point **points, size_t *n)
{
	json_t *item;
	size_t i;

	*n = 0;
	*points = NULL;
	if (!json_is_array(series) || json_array_size(series) == 0)
		return -ENODATA;
	*points = calloc(json_array_size(series), sizeof(**points));
	if (!*points)
		return -ENOMEM;
	json_array_foreach(series, i, item)
	{
		double t = jnum(item, "t"), v = jnum(item, key);

		if (isfinite(t) && isfinite(v))
			(*points)[(*n)++] = (struct growth_point){.t = t, .v = v};
	}
	if (*n == 0) {
		free(*points);
		*points = NULL;
		return -ENODATA;
	}
	return 0;
}

static double cpu_samples(const struct report_input *in)
{
	if (in->kind == REPORT_KIND_RECORD)
		return jnum(json_object_get(in->json, "totals"), "samples");
	if (in->kind == REPORT_KIND_PROFILE)
		return jnum(json_object_get(in->json, "cpu"), "samples");
	if (!strcmp(in->countname, "samples"))
		return in->total;
	return NAN;
}

static double cpu_seconds(const struct report_input *in, double ops)
{
	double per_op;

	if (isfinite(in->cpu_seconds))
		return in->cpu_seconds;
	if (in->kind == REPORT_KIND_PROFILE) {
		per_op = jnum(json_object_get(in->json, "per_op"), "cpu_s");
		if (isfinite(per_op) && ops > 0)
			return per_op * ops;
	}
	return NAN;
}

/* Strips a folded frame's "_[k]" / "_[i]" suffix into buf. */
static const char *frame_base(const char *frame, char *buf, size_t len)
{
	size_t n = strlen(frame);

	if (n > 4 && frame[n - 4] == '_' && frame[n - 3] == '[' && frame[n - 1] == ']' &&
	    (frame[n - 2] == 'k' || frame[n - 2] == 'i')) {
		snprintf(buf, len, "%.*s", (int)(n - 4), frame);
		return buf;
	}
	return frame;
}

static bool frame_matches(const struct check_spec *spec, const char *frame)
{
	char buf[1024];
	const char *name = frame_base(frame, buf, sizeof(buf));
	size_t n = strlen(spec->function);

	if (spec->is_regex)
		return regexec(&spec->regex, name, 0, NULL, 0) == 0;
	/* "qualname (file.py:LINE)": the name alone matches too. */
	return !strcmp(name, spec->function) ||
	       (!strncmp(name, spec->function, n) && !strncmp(name + n, " (", 2));
}

static int function_share(const struct report_input *in, const struct check_spec *spec,
			  double *value, double *samples, char *err, size_t errlen)
{
	bool self = spec->metric == CHECK_FUNCTION_SELF_SHARE;
	json_t *funcs, *f;
	double sum = 0;
	size_t i;

	if (in->n_stacks && in->total > 0) {
		for (i = 0; i < in->n_stacks; i++) {
			const struct report_stack *s = &in->stacks[i];
			bool hit = false;

			if (self)
				hit = frame_matches(spec, s->frames[s->n_frames - 1]);
			for (size_t k = 0; !self && !hit && k < s->n_frames; k++)
				hit = frame_matches(spec, s->frames[k]);
			if (hit)
				sum += s->weight;
		}
		*value = sum / in->total;
		*samples = !strcmp(in->countname, "samples") ? in->total : NAN;
		return 0;
	}
	/* A profile report without stacks: its per-function list. With a regex, a total share
	 * cannot be summed (one stack may hold several matches): the largest one is taken. */
	funcs = json_object_get(json_object_get(in->json, "cpu"), "functions");
	if (!json_is_array(funcs))
		return check_error(err, errlen, -ENODATA, "%s has no stacks or functions",
				   report_kind_name(in->kind));
	*value = 0;
	json_array_foreach(funcs, i, f)
	{
		json_t *name = json_object_get(f, "name");
		double v = jnum(f, self ? "self" : "total");

		if (!json_is_string(name) || !isfinite(v) ||
		    !frame_matches(spec, json_string_value(name)))
			continue;
		if (self)
			*value += v;
		else if (v > *value)
			*value = v;
	}
	*samples = cpu_samples(in);
	return 0;
}

static int dropped_ratio(const struct report_input *in, double *value, char *err, size_t errlen)
{
	json_t *totals = json_object_get(in->json, "totals"), *dropped, *v;
	double lost, seen;
	const char *key;

	switch (in->kind) {
	case REPORT_KIND_RECORD:
		lost = jnum(totals, "lost");
		seen = jnum(totals, "samples");
		break;
	case REPORT_KIND_LEAKS:
		lost = jnum(totals, "lost_events");
		seen = jnum(totals, "tracked_allocs");
		break;
	case REPORT_KIND_PROFILE:
		dropped = json_object_get(in->json, "dropped");
		if (!json_is_object(dropped))
			return check_error(err, errlen, -ENODATA,
					   "profile report without \"dropped\"");
		lost = 0;
		json_object_foreach(dropped, key, v) if (json_is_number(v)) lost +=
			json_number_value(v);
		seen = 0;
		if (isfinite(cpu_samples(in)))
			seen += cpu_samples(in);
		if (isfinite(jnum(json_object_get(json_object_get(in->json, "memory"), "totals"),
				  "tracked_allocs")))
			seen += jnum(json_object_get(json_object_get(in->json, "memory"), "totals"),
				     "tracked_allocs");
		/* Off-CPU drops count blocks: the blocks measured are seen events too. */
		if (isfinite(jnum(json_object_get(in->json, "off_cpu"), "blocks")))
			seen += jnum(json_object_get(in->json, "off_cpu"), "blocks");
		break;
	default:
		return check_error(err, errlen, -ENODATA, "%s do not count dropped events",
				   report_kind_name(in->kind));
	}
	if (!isfinite(lost) || !isfinite(seen))
		return check_error(err, errlen, -ENODATA, "%s without drop counters",
				   report_kind_name(in->kind));
	*value = lost + seen > 0 ? lost / (lost + seen) : 0;
	return 0;
}

int check_metric_value(const struct report_input *in, const struct check_spec *spec, double ops,
		       double *value, double *samples, char *err, size_t errlen)
{
	struct growth_point *pts = NULL;
	const char *key = NULL;
	json_t *series;
	double v = NAN, intercept;
	size_t n;
	int ret = 0;

	*samples = NAN;
	err[0] = '\0';
	ops = report_ops(in, ops);
	switch (spec->metric) {
	case CHECK_PEAK_RSS:
	case CHECK_RSS_GROWTH_PER_S:
	case CHECK_RSS_GROWTH_PER_OP:
		series = rss_series(in, &key);
		ret = series_points(series, key, &pts, &n);
		if (ret) {
			if (ret == -ENODATA)
				snprintf(err, errlen, "%s has no RSS series",
					 report_kind_name(in->kind));
			break;
		}
		if (spec->metric == CHECK_PEAK_RSS) {
			v = pts[0].v;
			for (size_t i = 1; i < n; i++)
				v = fmax(v, pts[i].v);
		} else if (in->kind == REPORT_KIND_LEAKS &&
			   isfinite(jnum(in->json, "rss_growth_bytes_per_s"))) {
			v = jnum(in->json, "rss_growth_bytes_per_s");
		} else if (growth_theil_sen(pts, n, &v, &intercept)) {
			v = NAN;
		}
		/* Per operation: the robust rate over the run's length, not last - first (a
		 * launched target's first sample can predate its exec, and one spike would decide).
		 */
		if (spec->metric == CHECK_RSS_GROWTH_PER_OP && in->kind == REPORT_KIND_PROFILE &&
		    isfinite(jnum(json_object_get(in->json, "per_op"), "rss_growth_bytes"))) {
			/* A profile report's own figure: RSS growth over the window its operations
			 * were counted in (the load command's run, RSS read as it started and
			 * ended; else the run). Same-build profile runs of 20000 operations that a
			 * loaded machine stalled unevenly: 238-268 B per op, while the run-length
			 * rate gave 150-289 B. A launched run's figure holds the program's start-up
			 * (read right after exec: ~0.6 MB, timing-dependent), which matters for
			 * runs of few operations. */
			v = jnum(json_object_get(in->json, "per_op"), "rss_growth_bytes");
		} else if (spec->metric == CHECK_RSS_GROWTH_PER_OP) {
			double length =
				isfinite(in->duration_s) ? in->duration_s : pts[n - 1].t - pts[0].t;

			v = ops > 0 && length > 0 ? v * length / ops : NAN;
		}
		if (isnan(v))
			snprintf(err, errlen, "%s",
				 spec->metric == CHECK_RSS_GROWTH_PER_OP && !(ops > 0)
					 ? "no operation count (--ops N)"
					 : "RSS series too short for a rate");
		break;
	case CHECK_LEAKED_BYTES:
	case CHECK_LEAKED_PER_OP:
	case CHECK_LEAKED_PER_100_OPS:
		if (spec->metric != CHECK_LEAKED_BYTES && in->kind == REPORT_KIND_PROFILE &&
		    isfinite(jnum(json_object_get(in->json, "per_op"), "leaked_bytes"))) {
			v = jnum(json_object_get(in->json, "per_op"), "leaked_bytes");
		} else if (leak_sum(in, "outstanding_bytes", &v)) {
			snprintf(err, errlen, "%s has no allocation sites",
				 report_kind_name(in->kind));
			break;
		} else if (spec->metric != CHECK_LEAKED_BYTES) {
			v = ops > 0 ? v / ops : NAN;
		}
		if (spec->metric == CHECK_LEAKED_PER_100_OPS)
			v *= 100;
		if (isnan(v))
			snprintf(err, errlen, "no operation count (--ops N)");
		break;
	case CHECK_HEAP_LEAK_RATE:
		if (leak_sum(in, "growth_bytes_per_s", &v))
			snprintf(err, errlen, "%s has no allocation sites",
				 report_kind_name(in->kind));
		break;
	case CHECK_CPU_SECONDS:
	case CHECK_CPU_PER_OP:
		/* Measured CPU time has no counting noise; sampled CPU time does. */
		*samples = in->cpu_seconds_measured ? NAN : cpu_samples(in);
		if (spec->metric == CHECK_CPU_PER_OP && in->kind == REPORT_KIND_PROFILE &&
		    isfinite(jnum(json_object_get(in->json, "per_op"), "cpu_s"))) {
			v = jnum(json_object_get(in->json, "per_op"), "cpu_s");
			break;
		}
		v = cpu_seconds(in, ops);
		if (isnan(v)) {
			snprintf(err, errlen, "%s states no CPU time", report_kind_name(in->kind));
			break;
		}
		if (spec->metric == CHECK_CPU_PER_OP) {
			v = ops > 0 ? v / ops : NAN;
			if (isnan(v))
				snprintf(err, errlen, "no operation count (--ops N)");
		}
		break;
	case CHECK_OFF_CPU_SHARE: {
		json_t *off_cpu = json_object_get(in->json, "off_cpu");
		double off = jnum(off_cpu, "seconds");
		double runnable = jnum(json_object_get(off_cpu, "by_state"), "runnable");
		double on = cpu_seconds(in, ops);

		/* Time blocked (sleep, I/O, locks), not time preempted while runnable: waiting
		 * for a CPU measures the machine's load, not the program (a CPU-bound fixture's
		 * share with it went 0.72-0.85 between same-build runs on the busy machine). */
		if (isfinite(runnable) && runnable > 0 && runnable <= off)
			off -= runnable;

		if (in->kind != REPORT_KIND_PROFILE || !isfinite(off) || !isfinite(on)) {
			snprintf(err, errlen, "%s has no off-CPU and on-CPU seconds",
				 report_kind_name(in->kind));
			break;
		}
		v = off + on > 0 ? off / (off + on) : 0;
		break;
	}
	case CHECK_FUNCTION_SHARE:
	case CHECK_FUNCTION_SELF_SHARE:
		ret = function_share(in, spec, &v, samples, err, errlen);
		break;
	case CHECK_DROPPED_RATIO:
		ret = dropped_ratio(in, &v, err, errlen);
		break;
	default:
		snprintf(err, errlen, "unknown metric");
		break;
	}
	free(pts);
	if (ret == -ENOMEM)
		return ret;
	if (ret || isnan(v)) {
		if (!err[0])
			snprintf(err, errlen, "not available");
		return -ENODATA;
	}
	*value = v;
	return 0;
}

/* ---- evaluation ---- */

static int double_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void spec_label(const struct check_spec *s, char *buf, size_t len)
{
	if (s->function)
		snprintf(buf, len, "%s[%s]", metrics[s->metric].name, s->function);
	else
		snprintf(buf, len, "%s", metrics[s->metric].name);
}

static int evaluate_one(const struct check_budget *b, const struct check_spec *s,
			const struct report_input *current, struct report_input *const *baselines,
			size_t n_base, double cli_pct, struct check_result *r, char *err,
			size_t errlen)
{
	double *values = NULL, samples_cur, samples_base = NAN, pct, min_change, limit_reg = NAN;
	char why[160], a[48], c[48];
	int ret;

	memset(r, 0, sizeof(*r));
	r->spec = s;
	r->baseline = NAN;
	r->limit = NAN;
	spec_label(s, r->name, sizeof(r->name));
	ret = check_metric_value(current, s, b->ops, &r->current, &samples_cur, why, sizeof(why));
	if (ret)
		return ret == -ENOMEM ? ret
				      : check_error(err, errlen, -EINVAL, "%s: %s: %s",
						    current->name, r->name, why);
	pct = s->max_regression_pct;
	if (isnan(pct))
		pct = cli_pct;
	if (isnan(pct))
		pct = b->max_regression_pct;
	if (isnan(pct) && !s->from_budget && isnan(s->max))
		pct = DEFAULT_MAX_REGRESSION_PCT;
	if (n_base && isfinite(pct)) {
		values = calloc(n_base, sizeof(*values));
		if (!values)
			return -ENOMEM;
		for (size_t i = 0; i < n_base; i++) {
			double sb;

			ret = check_metric_value(baselines[i], s, b->ops, &values[i], &sb, why,
						 sizeof(why));
			if (ret) {
				free(values);
				return ret == -ENOMEM
					       ? ret
					       : check_error(err, errlen, -EINVAL, "%s: %s: %s",
							     baselines[i]->name, r->name, why);
			}
			if (isfinite(sb) && !(sb >= samples_base))
				samples_base = sb; /* the smallest: the noisiest baseline */
		}
		qsort(values, n_base, sizeof(*values), double_cmp);
		r->n_baselines = n_base;
		r->baseline = n_base % 2 ? values[n_base / 2]
					 : (values[n_base / 2 - 1] + values[n_base / 2]) / 2;
		min_change = isnan(s->min_change) ? metrics[s->metric].min_change : s->min_change;
		limit_reg = fmax(r->baseline * (1 + pct / 100), r->baseline + min_change);
		/* Never fail a value the same build has produced. */
		limit_reg = fmax(limit_reg, values[n_base - 1]);
		if (isfinite(samples_cur) && isfinite(samples_base) && samples_cur > 0 &&
		    samples_base > 0) {
			double noise;

			if (metrics[s->metric].unit == CHECK_UNIT_SHARE) {
				double p = fmin(fmax(r->baseline, 0), 1);

				noise = SAMPLING_SIGMAS *
					sqrt(p * (1 - p) * (1 / samples_base + 1 / samples_cur));
			} else {
				noise = SAMPLING_SIGMAS * r->baseline *
					sqrt(1 / samples_base + 1 / samples_cur);
			}
			limit_reg = fmax(limit_reg, r->baseline + noise);
		}
		free(values);
	}
	r->limit = limit_reg;
	if (isfinite(s->max) && !(r->limit <= s->max))
		r->limit = s->max;
	r->passed = isnan(r->limit) || r->current <= r->limit;
	check_format_value(s->metric, r->current, c, sizeof(c));
	check_format_value(s->metric, r->limit, a, sizeof(a));
	if (r->passed) {
		snprintf(r->message, sizeof(r->message), "%s %s within limit %s", r->name, c, a);
	} else if (isfinite(s->max) && r->current > s->max) {
		snprintf(r->message, sizeof(r->message), "%s %s is over the budget's max %s",
			 r->name, c, a);
	} else {
		char base[48];

		check_format_value(s->metric, r->baseline, base, sizeof(base));
		snprintf(
			r->message, sizeof(r->message),
			"%s %s regressed %+.1f%% against the baseline %s (median of %zu), limit %s "
			"(max regression %.4g%%)",
			r->name, c,
			r->baseline != 0 ? (r->current - r->baseline) / fabs(r->baseline) * 100
					 : 0.0,
			base, r->n_baselines, a, pct);
	}
	return 0;
}

int check_evaluate(const struct check_budget *b, const struct report_input *current,
		   struct report_input *const *baselines, size_t n_baselines,
		   double max_regression_pct, struct check_result **results, size_t *n_results,
		   char *err, size_t errlen)
{
	struct check_result *r = calloc(b->n_specs ? b->n_specs : 1, sizeof(*r));
	int ret;

	*results = NULL;
	*n_results = 0;
	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_specs; i++) {
		ret = evaluate_one(b, &b->specs[i], current, baselines, n_baselines,
				   max_regression_pct, &r[i], err, errlen);
		if (ret) {
			free(r);
			return ret;
		}
	}
	*results = r;
	*n_results = b->n_specs;
	return 0;
}
