/* check_budget.c: the budget file of `smolder check` (JSON, format in README.md "smolder check":
 * unknown keys and metrics are errors, so a typo cannot silently disable a gate), and the default
 * checks added when a budget does not name a metric: a regression check of every metric the
 * reports hold, and a bound on dropped events so a broken measurement never passes. */
#include "smolder/check.h"
#include "smolder/report_input.h"
#include "smolder/text_sanitize.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_DROPPED_RATIO 0.01

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

/* ---- budget ---- */

static void spec_release(struct check_spec *s)
{
	if (s->is_regex)
		regfree(&s->regex);
	free(s->function);
}

void check_budget_free(struct check_budget *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_specs; i++)
		spec_release(&b->specs[i]);
	free(b->specs);
	free(b);
}

struct check_budget *check_budget_empty(void)
{
	struct check_budget *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->max_regression_pct = NAN;
	b->ops = NAN;
	return b;
}

static struct check_spec *budget_push(struct check_budget *b)
{
	struct check_spec *grown = realloc(b->specs, (b->n_specs + 1) * sizeof(*grown));

	if (!grown)
		return NULL;
	b->specs = grown;
	memset(&grown[b->n_specs], 0, sizeof(*grown));
	grown[b->n_specs].max = NAN;
	grown[b->n_specs].max_regression_pct = NAN;
	grown[b->n_specs].min_change = NAN;
	return &grown[b->n_specs++];
}

/* A non-negative finite number at key, or NAN when absent; -EINVAL when present but wrong. */
static int budget_number(json_t *obj, const char *key, const char *where, double *out, char *err,
			 size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	*out = NAN;
	if (!v)
		return 0;
	if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0)
		return check_error(err, errlen, -EINVAL, "%s: \"%s\" must be a non-negative number",
				   where, key);
	*out = json_number_value(v);
	return 0;
}

static int budget_check_entry(struct check_budget *b, json_t *item, size_t index, const char *name,
			      char *err, size_t errlen)
{
	static const char *const allowed[] = {
		"metric",     "function",   "regex", "max", "max_regression_percent",
		"min_change", "description"};
	char where[96];
	const char *key;
	json_t *v, *fn, *rx;
	struct check_spec *s;
	int metric, ret;

	snprintf(where, sizeof(where), "%s: checks[%zu]", name, index);
	if (!json_is_object(item))
		return check_error(err, errlen, -EINVAL, "%s: must be an object", where);
	json_object_foreach(item, key, v)
	{
		size_t k;

		for (k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++)
			if (!strcmp(key, allowed[k]))
				break;
		if (k == sizeof(allowed) / sizeof(allowed[0]))
			return check_error(err, errlen, -EINVAL, "%s: unknown key \"%s\"", where,
					   key);
	}
	v = json_object_get(item, "metric");
	if (!json_is_string(v))
		return check_error(err, errlen, -EINVAL, "%s: needs \"metric\" (a metric name)",
				   where);
	metric = check_metric_lookup(json_string_value(v));
	if (metric < 0)
		return check_error(err, errlen, -EINVAL,
				   "%s: unknown metric \"%s\" (see smolder check --help)", where,
				   json_string_value(v));
	s = budget_push(b);
	if (!s)
		return -ENOMEM;
	s->metric = metric;
	s->from_budget = true;
	fn = json_object_get(item, "function");
	rx = json_object_get(item, "regex");
	if (metric == CHECK_FUNCTION_SHARE || metric == CHECK_FUNCTION_SELF_SHARE) {
		if (!json_is_string(fn) || !*json_string_value(fn))
			return check_error(err, errlen, -EINVAL,
					   "%s: %s needs \"function\" (a name or, with \"regex\": "
					   "true, a regular expression)",
					   where, check_metric_name(metric));
		if (rx && !json_is_boolean(rx))
			return check_error(err, errlen, -EINVAL,
					   "%s: \"regex\" must be true or false", where);
		s->function = strdup(json_string_value(fn));
		if (!s->function)
			return -ENOMEM;
		if (json_is_true(rx)) {
			ret = regcomp(&s->regex, s->function, REG_EXTENDED | REG_NOSUB);
			if (ret) {
				char msg[128];

				regerror(ret, &s->regex, msg, sizeof(msg));
				return check_error(err, errlen, -EINVAL,
						   "%s: invalid regex \"%s\": %s", where,
						   s->function, msg);
			}
			s->is_regex = true;
		}
	} else if (fn || rx) {
		return check_error(err, errlen, -EINVAL,
				   "%s: \"function\" and \"regex\" apply to function_share and "
				   "function_self_share only",
				   where);
	}
	if (json_object_get(item, "description") &&
	    !json_is_string(json_object_get(item, "description")))
		return check_error(err, errlen, -EINVAL, "%s: \"description\" must be a string",
				   where);
	ret = budget_number(item, "max", where, &s->max, err, errlen);
	if (!ret)
		ret = budget_number(item, "max_regression_percent", where, &s->max_regression_pct,
				    err, errlen);
	if (!ret)
		ret = budget_number(item, "min_change", where, &s->min_change, err, errlen);
	if (ret)
		return ret;
	if (isnan(s->max) && isnan(s->max_regression_pct))
		return check_error(err, errlen, -EINVAL,
				   "%s: sets no limit (needs \"max\" and/or "
				   "\"max_regression_percent\")",
				   where);
	return 0;
}

int check_budget_parse(const char *text, size_t len, const char *name, struct check_budget **out,
		       char *err, size_t errlen)
{
	struct check_budget *b;
	json_error_t je;
	json_t *root, *checks, *item, *v;
	const char *key;
	size_t i;
	int ret = 0;

	*out = NULL;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return check_error(err, errlen, -EINVAL,
				   "%s: invalid JSON at line %d column %d: %s", name, je.line,
				   je.column, je.text);
	b = check_budget_empty();
	if (!b) {
		json_decref(root);
		return -ENOMEM;
	}
	if (!json_is_object(root)) {
		ret = check_error(err, errlen, -EINVAL, "%s: a budget must be a JSON object", name);
		goto out;
	}
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "checks") && strcmp(key, "max_regression_percent") &&
		    strcmp(key, "ops") && strcmp(key, "description") && strcmp(key, "defaults")) {
			ret = check_error(err, errlen, -EINVAL,
					  "%s: unknown key \"%s\" (expected checks, "
					  "max_regression_percent, ops, defaults, description)",
					  name, key);
			goto out;
		}
	}
	v = json_object_get(root, "defaults");
	if (v && !json_is_boolean(v)) {
		ret = check_error(err, errlen, -EINVAL, "%s: \"defaults\" must be true or false",
				  name);
		goto out;
	}
	b->no_defaults = v && json_is_false(v);
	ret = budget_number(root, "max_regression_percent", name, &b->max_regression_pct, err,
			    errlen);
	if (!ret)
		ret = budget_number(root, "ops", name, &b->ops, err, errlen);
	if (ret)
		goto out;
	if (b->ops == 0) {
		ret = check_error(err, errlen, -EINVAL, "%s: \"ops\" must be positive", name);
		goto out;
	}
	checks = json_object_get(root, "checks");
	if (checks && !json_is_array(checks)) {
		ret = check_error(err, errlen, -EINVAL, "%s: \"checks\" must be an array", name);
		goto out;
	}
	if (!checks && isnan(b->max_regression_pct)) {
		ret = check_error(err, errlen, -EINVAL,
				  "%s: no \"checks\" and no \"max_regression_percent\": nothing "
				  "to check",
				  name);
		goto out;
	}
	json_array_foreach(checks, i, item)
	{
		ret = budget_check_entry(b, item, i, name, err, errlen);
		if (ret)
			goto out;
	}
out:
	json_decref(root);
	if (ret) {
		check_budget_free(b);
		return ret;
	}
	*out = b;
	return 0;
}

/* ---- defaults ---- */

static bool budget_has(const struct check_budget *b, enum check_metric m)
{
	for (size_t i = 0; i < b->n_specs; i++)
		if (b->specs[i].metric == m)
			return true;
	return false;
}

static bool all_have(const struct report_input *current, struct report_input *const *baselines,
		     size_t n, enum check_metric m, double ops)
{
	struct check_spec spec = {.metric = m};
	double v, s;
	char err[8];

	if (check_metric_value(current, &spec, ops, &v, &s, err, sizeof(err)))
		return false;
	for (size_t i = 0; i < n; i++)
		if (check_metric_value(baselines[i], &spec, ops, &v, &s, err, sizeof(err)))
			return false;
	return true;
}

int check_budget_add_defaults(struct check_budget *b, const struct report_input *current,
			      struct report_input *const *baselines, size_t n_baselines)
{
	/* Per-operation forms replace the raw totals when an operation count is known, and the
	 * per-second rates too: bytes leaked per second are bytes per operation times operations
	 * per second, and the second factor measures how busy the machine was (same-build profile
	 * runs' leak rates varied 20% here while their leak per operation varied 0.3%). The
	 * off-CPU share is no default either: a program that paces itself (a rate-limited loop, a
	 * service between requests) blocks for whatever its work leaves of the wall time, which
	 * the machine's load decides (77% and 90% in two same-build runs); budgets can name it. */
	static const struct {
		enum check_metric metric, unless;
	} defaults[] = {
		{CHECK_PEAK_RSS, CHECK_METRIC_COUNT},
		{CHECK_RSS_GROWTH_PER_OP, CHECK_METRIC_COUNT},
		{CHECK_RSS_GROWTH_PER_S, CHECK_RSS_GROWTH_PER_OP},
		{CHECK_LEAKED_PER_100_OPS, CHECK_METRIC_COUNT},
		{CHECK_LEAKED_BYTES, CHECK_LEAKED_PER_100_OPS},
		{CHECK_HEAP_LEAK_RATE, CHECK_LEAKED_PER_100_OPS},
		{CHECK_CPU_PER_OP, CHECK_METRIC_COUNT},
		{CHECK_CPU_SECONDS, CHECK_CPU_PER_OP},
	};
	bool added[CHECK_METRIC_COUNT] = {false};
	struct check_spec *s;

	/* "defaults": false: only what the budget names, but never without the drop gate. */
	for (size_t i = 0; !b->no_defaults && i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		enum check_metric m = defaults[i].metric;

		if (budget_has(b, m) ||
		    (defaults[i].unless < CHECK_METRIC_COUNT &&
		     (added[defaults[i].unless] || budget_has(b, defaults[i].unless))))
			continue;
		if (!all_have(current, baselines, n_baselines, m, b->ops))
			continue;
		s = budget_push(b);
		if (!s)
			return -ENOMEM;
		s->metric = m;
		added[m] = true;
	}
	/* A gate must not pass on a broken measurement: dropped events are always bounded. */
	if (!budget_has(b, CHECK_DROPPED_RATIO) &&
	    all_have(current, NULL, 0, CHECK_DROPPED_RATIO, b->ops)) {
		s = budget_push(b);
		if (!s)
			return -ENOMEM;
		s->metric = CHECK_DROPPED_RATIO;
		s->max = DEFAULT_MAX_DROPPED_RATIO;
	}
	return 0;
}
