/* html_chart.c: the HTML report's resource timeline charts and memory sparklines, drawn as inline
 * SVG from the profile JSON: axes, gridlines, the load command's window shaded and its start and
 * end marked, and the points as data attributes for the hover readout script. Charts hold at most
 * HTML_CHART_POINTS points: adjacent points merge keeping the maximum, so a spike stays visible. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "html_internal.h"
#include "smolder/html_report.h"

enum chart_unit { UNIT_PCT, UNIT_BYTES, UNIT_COUNT, UNIT_PER_S, UNIT_BYTES_PER_S };

struct chart_series {
	const char *key, *label, *color;
	bool rate; /* a counter over the interval: drawn per second */
};

struct chart_def {
	const char *id, *title;
	enum chart_unit unit;
	struct chart_series s[2];
};

static const struct chart_def charts[] = {
	{"cpu",
	 "Process CPU",
	 UNIT_PCT,
	 {{"cpu_user_pct", "user", "#d9480f", false}, {"cpu_sys_pct", "sys", "#1c7ed6", false}}},
	{"memory",
	 "Memory",
	 UNIT_BYTES,
	 {{"rss_bytes", "RSS", "#2b8a3e", false},
	  {"heap_bytes", "heap (tracked)", "#ae3ec9", false}}},
	{"threads",
	 "Threads and file descriptors",
	 UNIT_COUNT,
	 {{"threads", "threads", "#e67700", false}, {"fds", "fds", "#495057", false}}},
	{"ctx",
	 "Context switches",
	 UNIT_PER_S,
	 {{"ctx_voluntary", "voluntary", "#1971c2", true},
	  {"ctx_involuntary", "involuntary", "#c92a2a", true}}},
	{"faults",
	 "Page faults",
	 UNIT_PER_S,
	 {{"minor_faults", "minor", "#5c940d", true}, {"major_faults", "major", "#c2255c", true}}},
	{"disk",
	 "Disk I/O",
	 UNIT_BYTES_PER_S,
	 {{"read_bytes", "read", "#0b7285", true}, {"write_bytes", "write", "#e8590c", true}}},
	{"net",
	 "Network (target's namespace, loopback not counted)",
	 UNIT_BYTES_PER_S,
	 {{"net_rx_bytes", "rx", "#364fc7", true}, {"net_tx_bytes", "tx", "#d6336c", true}}},
	{"host_cpu", "Host CPU", UNIT_PCT, {{"host_cpu_pct", "host busy", "#862e9c", false}}},
	{"host_mem",
	 "Host available memory",
	 UNIT_BYTES,
	 {{"mem_available_bytes", "available", "#087f5b", false}}},
};

#define CHART_W	 560
#define CHART_H	 170
#define MARGIN_L 62
#define MARGIN_R 12
#define MARGIN_T 10
#define MARGIN_B 26

static const char *unit_name(enum chart_unit u)
{
	static const char *const names[] = {"pct", "bytes", "count", "per_s", "bytes_per_s"};

	return names[u];
}

/* A round axis maximum >= v: 1, 2, 2.5 or 5 times a power of ten. */
static double nice_ceil(double v)
{
	double p, f;

	if (!(v > 0))
		return 1;
	p = pow(10, floor(log10(v)));
	f = v / p;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
}

static void axis_label(double v, enum chart_unit u, char *buf, size_t len)
{
	char b[32];

	switch (u) {
	case UNIT_PCT:
		snprintf(buf, len, "%.0f%%", v);
		break;
	case UNIT_BYTES:
		snprintf(buf, len, "%s", html_bytes(v, b, sizeof(b)));
		break;
	case UNIT_BYTES_PER_S:
		snprintf(buf, len, "%s/s", html_bytes(v, b, sizeof(b)));
		break;
	default:
		if (v >= 1e6)
			snprintf(buf, len, "%.1fM%s", v / 1e6, u == UNIT_PER_S ? "/s" : "");
		else if (v >= 1e4)
			snprintf(buf, len, "%.0fk%s", v / 1e3, u == UNIT_PER_S ? "/s" : "");
		else
			snprintf(buf, len, "%.4g%s", v, u == UNIT_PER_S ? "/s" : "");
	}
}

static double point_num(const json_t *point, const char *key, bool *present)
{
	const json_t *v = json_object_get(point, key);

	if (!json_is_number(v))
		return 0;
	*present = true;
	return json_number_value(v);
}

/* One chart's points after merging: t and up to two series. */
struct chart_data {
	size_t n;
	double *t, *v[2];
	bool present[2];
};

static int chart_data_fill(struct chart_data *d, const struct chart_def *c, const json_t *tl,
			   double interval)
{
	size_t n = json_array_size(tl), per = (n + HTML_CHART_POINTS - 1) / HTML_CHART_POINTS;
	double prev_t = 0;

	if (per == 0)
		per = 1;
	d->t = calloc(n + 1, sizeof(double));
	d->v[0] = calloc(n + 1, sizeof(double));
	d->v[1] = calloc(n + 1, sizeof(double));
	if (!d->t || !d->v[0] || !d->v[1])
		return -1;
	d->n = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_array_get(tl, i);
		double t = json_number_value(json_object_get(p, "t"));
		/* Counters are deltas since the previous point; merged points span longer. */
		double dt = i ? t - prev_t : (t > 0 ? t : interval);
		size_t slot = i / per;

		if (!(dt > 0))
			dt = interval > 0 ? interval : 1;
		prev_t = t;
		for (int k = 0; k < 2 && c->s[k].key; k++) {
			double v = point_num(p, c->s[k].key, &d->present[k]);

			if (c->s[k].rate)
				v /= dt;
			if (i % per == 0 || v > d->v[k][slot])
				d->v[k][slot] = v;
		}
		d->t[slot] = t;
		d->n = slot + 1;
	}
	return 0;
}

static void chart_data_release(struct chart_data *d)
{
	free(d->t);
	free(d->v[0]);
	free(d->v[1]);
}

/* Present and zero at every point (a missing figure is not zero). */
static bool chart_all_zero(const struct chart_data *d)
{
	if (!d->present[0] && !d->present[1])
		return false;
	for (size_t i = 0; i < d->n; i++)
		for (int k = 0; k < 2; k++)
			if (d->present[k] && d->v[k][i] != 0)
				return false;
	return true;
}

static void data_attr(struct html_out *o, const char *name, const double *v, size_t n)
{
	html_printf(o, " data-%s=\"", name);
	for (size_t i = 0; i < n; i++)
		html_printf(o, "%s%.6g", i ? "," : "", isfinite(v[i]) ? v[i] : 0.0);
	html_raw(o, "\"");
}

static void chart_write(struct html_out *o, const struct chart_def *c, const struct chart_data *d,
			double tmax, const json_t *load)
{
	const double pw = CHART_W - MARGIN_L - MARGIN_R, ph = CHART_H - MARGIN_T - MARGIN_B;
	double vmax = 0, ymax, step;
	char label[48];

	for (size_t i = 0; i < d->n; i++)
		for (int k = 0; k < 2; k++)
			if (d->present[k] && d->v[k][i] > vmax)
				vmax = d->v[k][i];
	ymax = c->unit == UNIT_PCT && vmax <= 100 ? (vmax > 50 ? 100 : nice_ceil(vmax * 1.05))
						  : nice_ceil(vmax * 1.05);
	html_printf(o, "<figure class=\"chart\" id=\"chart-%s\" data-unit=\"%s\"", c->id,
		    unit_name(c->unit));
	data_attr(o, "t", d->t, d->n);
	for (int k = 0; k < 2; k++) {
		char name[8];

		if (!d->present[k])
			continue;
		snprintf(name, sizeof(name), "v%d", k);
		data_attr(o, name, d->v[k], d->n);
		html_printf(o, " data-l%d=\"%s\"", k, c->s[k].label);
	}
	html_printf(o, "><figcaption>%s", c->title);
	for (int k = 0; k < 2; k++)
		if (d->present[k])
			html_printf(o, " <span class=\"key\" style=\"background:%s\"></span>%s",
				    c->s[k].color, c->s[k].label);
	if (c->s[0].rate)
		html_raw(o, " <span class=\"note\">(per second)</span>");
	html_printf(o,
		    "</figcaption><svg class=\"chart-svg\" width=\"%d\" height=\"%d\" "
		    "viewBox=\"0 0 %d %d\" data-l=\"%d\" data-pw=\"%.0f\" data-tmax=\"%.6g\">",
		    CHART_W, CHART_H, CHART_W, CHART_H, MARGIN_L, pw, tmax);
	/* Load window: shaded, start and end marked. */
	if (json_is_object(load)) {
		double s = json_number_value(json_object_get(load, "start_s"));
		double e = json_number_value(json_object_get(load, "end_s"));
		double xs = MARGIN_L + pw * fmin(fmax(s / tmax, 0), 1);
		double xe = MARGIN_L + pw * fmin(fmax(e / tmax, 0), 1);

		html_printf(o,
			    "<rect class=\"load-band\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
			    "height=\"%.0f\"><title>load command running</title></rect>",
			    xs, MARGIN_T, fmax(xe - xs, 0.5), ph);
		html_printf(
			o,
			"<line class=\"load-mark\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.0f\"/>"
			"<text class=\"load-label\" x=\"%.1f\" y=\"%d\">load start</text>",
			xs, xs, MARGIN_T, MARGIN_T + ph, xs + 2, MARGIN_T + 9);
		html_printf(
			o,
			"<line class=\"load-mark\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.0f\"/>"
			"<text class=\"load-label end\" x=\"%.1f\" y=\"%d\">load end</text>",
			xe, xe, MARGIN_T, MARGIN_T + ph, xe - 2,
			/* A short window: the end label one line lower, not over the start's. */
			MARGIN_T + (xe - xs < 110 ? 20 : 9));
	}
	for (int g = 0; g <= 2; g++) {
		double y = MARGIN_T + ph - ph * g / 2.0;

		axis_label(ymax * g / 2.0, c->unit, label, sizeof(label));
		html_printf(o,
			    "<line class=\"grid\" x1=\"%d\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\"/>"
			    "<text class=\"ylabel\" x=\"%d\" y=\"%.1f\">%s</text>",
			    MARGIN_L, MARGIN_L + pw, y, y, MARGIN_L - 4, y + 4, label);
	}
	step = nice_ceil(tmax / 5);
	for (double t = 0; t <= tmax * 1.0001; t += step)
		html_printf(o, "<text class=\"xlabel\" x=\"%.1f\" y=\"%d\">%gs</text>",
			    MARGIN_L + pw * t / tmax, CHART_H - 8, t);
	for (int k = 0; k < 2; k++) {
		if (!d->present[k])
			continue;
		html_printf(o, "<polyline class=\"series\" stroke=\"%s\" points=\"", c->s[k].color);
		for (size_t i = 0; i < d->n; i++)
			html_printf(o, "%s%.1f,%.1f", i ? " " : "", MARGIN_L + pw * d->t[i] / tmax,
				    MARGIN_T + ph - ph * fmin(d->v[k][i] / ymax, 1));
		html_raw(o, "\"/>");
	}
	html_printf(o,
		    "<line class=\"cursor\" x1=\"-10\" x2=\"-10\" y1=\"%d\" y2=\"%.0f\"/>"
		    "<rect class=\"hover\" x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\"/>"
		    "</svg><div class=\"readout\">&#160;</div></figure>\n",
		    MARGIN_T, MARGIN_T + ph, MARGIN_L, MARGIN_T, pw, ph);
}

void html_charts_write(struct html_out *o, const json_t *doc)
{
	const json_t *tl = json_object_get(doc, "timeline");
	const json_t *load = json_object_get(doc, "load");
	double interval = json_number_value(json_object_get(doc, "interval_s"));
	double tmax = json_number_value(json_object_get(doc, "duration_s"));
	size_t n = json_array_size(tl);

	html_raw(o, "<section id=\"timeline\"><h2>Resource timeline</h2>\n");
	if (n == 0) {
		html_raw(o, "<p class=\"absent\">No timeline points (the run was shorter than one "
			    "interval).</p></section>\n");
		return;
	}
	{
		double last = json_number_value(json_object_get(json_array_get(tl, n - 1), "t"));

		if (last > tmax)
			tmax = last;
		if (!(tmax > 0))
			tmax = 1;
	}
	html_printf(
		o,
		"<p class=\"note\">%zu points every %.3g s%s; move the pointer over a chart for "
		"its values.</p><div class=\"charts\">\n",
		n, interval,
		n > HTML_CHART_POINTS ? ", merged for drawing (each drawn point the maximum of "
					"the points it covers)"
				      : "");
	/* A figure that stayed at zero gets a word, not a chart of a flat line. */
	const char *zero[sizeof(charts) / sizeof(charts[0])];
	size_t n_zero = 0;

	for (size_t c = 0; c < sizeof(charts) / sizeof(charts[0]) && !o->err; c++) {
		struct chart_data d = {0};

		if (chart_data_fill(&d, &charts[c], tl, interval)) {
			o->err = -ENOMEM;
		} else if (chart_all_zero(&d)) {
			zero[n_zero++] = charts[c].id;
		} else if (d.present[0] || d.present[1]) {
			chart_write(o, &charts[c], &d, tmax, load);
		}
		chart_data_release(&d);
	}
	html_raw(o, "</div>");
	for (size_t i = 0; i < n_zero; i++) {
		const struct chart_def *c = NULL;

		for (size_t k = 0; k < sizeof(charts) / sizeof(charts[0]); k++)
			if (charts[k].id == zero[i])
				c = &charts[k];
		html_printf(o, "%s<span class=\"zero\" id=\"zero-%s\">%s</span>",
			    i ? ", "
			      : "<p class=\"note\" id=\"zero-charts\">Zero throughout the run: ",
			    c->id, c->title);
	}
	html_raw(o, n_zero ? ".</p></section>\n" : "</section>\n");
}

void html_sparkline_write(struct html_out *o, const json_t *series)
{
	const int w = 120, h = 26;
	size_t n = json_array_size(series);
	double tmax = 0, vmax = 0, tmin = 0;
	char a[32];

	if (n < 2) {
		html_raw(o, "<span class=\"absent\">&#8212;</span>");
		return;
	}
	tmin = json_number_value(json_object_get(json_array_get(series, 0), "t"));
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_array_get(series, i);
		double t = json_number_value(json_object_get(p, "t"));
		double v = json_number_value(json_object_get(p, "bytes"));

		tmax = fmax(tmax, t);
		vmax = fmax(vmax, v);
	}
	if (!(tmax > tmin))
		tmax = tmin + 1;
	if (!(vmax > 0))
		vmax = 1;
	html_printf(o,
		    "<svg class=\"spark\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">"
		    "<title>outstanding bytes over %.0f s, peak %s</title><polyline points=\"",
		    w, h, w, h, tmax - tmin, html_bytes(vmax, a, sizeof(a)));
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_array_get(series, i);
		double t = json_number_value(json_object_get(p, "t"));
		double v = json_number_value(json_object_get(p, "bytes"));

		html_printf(o, "%s%.1f,%.1f", i ? " " : "",
			    1 + (w - 2) * (t - tmin) / (tmax - tmin), h - 2 - (h - 4) * v / vmax);
	}
	html_raw(o, "\"/></svg>");
}

/* Hover readout: the nearest point's time and values, a cursor line at it. */
const char html_chart_script[] =
	"function smolderCharts() {\n"
	"\tfunction fmt(v, unit) {\n"
	"\t\tvar u = [\"B\", \"KiB\", \"MiB\", \"GiB\", \"TiB\"], i = 0;\n"
	"\t\tif (unit === \"pct\")\n\t\t\treturn v.toFixed(1) + \"%\";\n"
	"\t\tif (unit === \"bytes\" || unit === \"bytes_per_s\") {\n"
	"\t\t\twhile (Math.abs(v) >= 1024 && i < 4) {\n\t\t\t\tv /= 1024;\n\t\t\t\ti++;\n\t\t\t}\n"
	"\t\t\treturn (i ? v.toFixed(1) : v.toFixed(0)) + \" \" + u[i] +\n"
	"\t\t\t\t(unit === \"bytes_per_s\" ? \"/s\" : \"\");\n\t\t}\n"
	"\t\treturn (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + (unit === \"per_s\" ? \"/s\" : "
	"\"\");\n"
	"\t}\n"
	"\tdocument.querySelectorAll(\"figure.chart\").forEach(function (fig) {\n"
	"\t\tvar svg = fig.querySelector(\"svg\"), cursor = svg.querySelector(\".cursor\");\n"
	"\t\tvar readout = fig.querySelector(\".readout\"), unit = fig.dataset.unit;\n"
	"\t\tvar ts = fig.dataset.t.split(\",\").map(Number), series = [];\n"
	"\t\tvar l = Number(svg.dataset.l), pw = Number(svg.dataset.pw);\n"
	"\t\tvar tmax = Number(svg.dataset.tmax);\n"
	"\t\t[0, 1].forEach(function (k) {\n"
	"\t\t\tif (fig.dataset[\"v\" + k] !== undefined)\n"
	"\t\t\t\tseries.push({label: fig.dataset[\"l\" + k],\n"
	"\t\t\t\t\tv: fig.dataset[\"v\" + k].split(\",\").map(Number)});\n"
	"\t\t});\n"
	"\t\tsvg.addEventListener(\"mousemove\", function (e) {\n"
	"\t\t\tvar m = svg.getScreenCTM(), pt = svg.createSVGPoint();\n"
	"\t\t\tpt.x = e.clientX;\n\t\t\tpt.y = e.clientY;\n"
	"\t\t\tif (m)\n\t\t\t\tpt = pt.matrixTransform(m.inverse());\n"
	"\t\t\tvar t = (pt.x - l) / pw * tmax, best = 0;\n"
	"\t\t\tfor (var i = 1; i < ts.length; i++)\n"
	"\t\t\t\tif (Math.abs(ts[i] - t) < Math.abs(ts[best] - t))\n\t\t\t\t\tbest = i;\n"
	"\t\t\tvar x = l + pw * ts[best] / tmax;\n"
	"\t\t\tcursor.setAttribute(\"x1\", x);\n\t\t\tcursor.setAttribute(\"x2\", x);\n"
	"\t\t\treadout.textContent = \"t=\" + ts[best].toFixed(1) + \" s\" + series.map(function "
	"(s) {\n"
	"\t\t\t\treturn \"  \" + s.label + \" \" + fmt(s.v[best], unit);\n"
	"\t\t\t}).join(\"\");\n"
	"\t\t});\n"
	"\t\tsvg.addEventListener(\"mouseleave\", function () {\n"
	"\t\t\tcursor.setAttribute(\"x1\", -10);\n\t\t\tcursor.setAttribute(\"x2\", -10);\n"
	"\t\t});\n"
	"\t});\n"
	"}\n";
