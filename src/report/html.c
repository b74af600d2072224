/* html.c: the HTML report of `smolder profile` (html_report.h). Owns the page: header (command,
 * PID, duration, load command and its exit status, operations), findings ranked by impact, the
 * timeline (html_chart.c), the on-CPU, off-CPU and memory flame graphs (the flame graph library
 * in its embedded mode: one script for the page, ids prefixed per graph), the memory table and the
 * footer saying how the run was measured. Everything is read from the profile JSON document, so
 * the page and the JSON cannot disagree; every string from the target is escaped here. */
#include "smolder/html_report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flamegraph.h"
#include "html_internal.h"

void html_raw(struct html_out *o, const char *s)
{
	size_t n = strlen(s);

	if (!o->err && fwrite(s, 1, n, o->fp) != n)
		o->err = -EIO;
}

void html_printf(struct html_out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->err)
		return;
	va_start(ap, fmt);
	if (vfprintf(o->fp, fmt, ap) < 0)
		o->err = -EIO;
	va_end(ap);
}

/* The replacement of a byte sequence at s that must not reach the page as is, with its length in
 * *skip: markup characters as entities; C0 controls but newline and tab, DEL, C1 controls and
 * bidi overrides as '?' (the convention of text_sanitize: they reorder or hide the text around
 * them). NULL: copy the byte. */
static const char *html_replacement(const unsigned char *s, size_t *skip)
{
	*skip = 1;
	switch (s[0]) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	case '\n':
	case '\t':
		return NULL;
	default:
		break;
	}
	if (s[0] < 0x20 || s[0] == 0x7f)
		return "?";
	if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) {
		*skip = 2;
		return "?";
	}
	if (s[0] == 0xe2 && ((s[1] == 0x80 && s[2] >= 0xaa && s[2] <= 0xae) ||
			     (s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9))) {
		*skip = 3;
		return "?";
	}
	return NULL;
}

void html_text(struct html_out *o, const char *text)
{
	const unsigned char *s = (const unsigned char *)text, *run = s;

	if (!text)
		return;
	while (*s && !o->err) {
		size_t skip;
		const char *rep = html_replacement(s, &skip);

		if (!rep) {
			s++;
			continue;
		}
		if (s > run && fwrite(run, 1, (size_t)(s - run), o->fp) != (size_t)(s - run))
			o->err = -EIO;
		html_raw(o, rep);
		s += skip;
		run = s;
	}
	if (!o->err && *run)
		html_raw(o, (const char *)run);
}

const char *html_bytes(double v, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double a = fabs(v);
	int u = 0;

	while (a >= 1024 && u < 4) {
		a /= 1024;
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f B", v);
	else
		snprintf(buf, len, "%.*f %s", a < 10 ? 2 : 1, v, units[u]);
	return buf;
}

static double num(const json_t *obj, const char *key, double dflt)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : dflt;
}

static const char *str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key)); /* NULL when absent */
}

static const char page_style[] =
	"body{font-family:system-ui,\"DejaVu Sans\",sans-serif;margin:0 auto;max-width:1240px;"
	"padding:16px 20px;color:#212529;background:#fff}\n"
	"h1{font-size:22px;margin:4px 0 10px}h2{font-size:18px;border-bottom:1px solid #dee2e6;"
	"padding-bottom:4px;margin-top:28px}\n"
	"code,pre{font-family:\"DejaVu Sans Mono\",monospace;font-size:13px}\n"
	"pre{background:#f8f9fa;padding:8px;overflow-x:auto;max-height:260px}\n"
	"table.facts th{text-align:left;padding-right:14px;font-weight:600;vertical-align:top}\n"
	"table.facts td{padding:2px 0}\n"
	"ol.findings li{margin:6px 0;font-size:15px}\n"
	".kind{display:inline-block;min-width:58px;font-size:11px;text-transform:uppercase;"
	"color:#fff;border-radius:3px;padding:1px 5px;margin-right:6px;text-align:center}\n"
	".kind.cpu{background:#d9480f}.kind.memory{background:#2b8a3e}.kind.rss{background:#5f3dc4}"
	".kind.off_cpu{background:#1971c2}.kind.other{background:#495057}\n"
	".charts{display:flex;flex-wrap:wrap;gap:10px}\n"
	"figure.chart{margin:0;border:1px solid #e9ecef;padding:4px 6px}\n"
	"figure.chart figcaption{font-size:13px;font-weight:600}\n"
	".key{display:inline-block;width:10px;height:10px;margin:0 3px 0 8px}\n"
	".note{color:#868e96;font-weight:400;font-size:12px}\n"
	".readout{font-size:12px;font-family:monospace;height:16px;color:#343a40;white-space:pre}\n"
	".chart-svg text{font-size:10px;fill:#495057}\n"
	".chart-svg .ylabel{text-anchor:end}.chart-svg .xlabel{text-anchor:middle}\n"
	".chart-svg .grid{stroke:#e9ecef}\n"
	".chart-svg .series{fill:none;stroke-width:1.5}\n"
	".chart-svg .load-band{fill:#fff3bf;opacity:0.6}\n"
	".chart-svg .load-mark{stroke:#f08c00;stroke-dasharray:4 3}\n"
	".chart-svg .load-label{fill:#e67700}.chart-svg .load-label.end{text-anchor:end}\n"
	".chart-svg .cursor{stroke:#212529;stroke-width:0.7}\n"
	".chart-svg .hover{fill:transparent}\n"
	"svg.smolder-flamegraph{max-width:100%;height:auto;display:block}\n"
	"table.memory{border-collapse:collapse;font-size:13px;width:100%}\n"
	"table.memory th,table.memory td{border-bottom:1px solid #e9ecef;padding:4px 6px;"
	"text-align:left;vertical-align:top}\n"
	"table.memory td.n{text-align:right;white-space:nowrap}\n"
	".verdict{font-weight:600}.verdict.leak{color:#c92a2a}.verdict.growing{color:#e67700}"
	".verdict.plateau{color:#1971c2}.verdict.churn,.verdict.steady{color:#868e96}\n"
	"svg.spark polyline{fill:none;stroke:#2b8a3e;stroke-width:1.2}\n"
	"details summary{cursor:pointer;color:#495057}\n"
	".absent{color:#868e96}\n"
	"footer{margin-top:30px;border-top:1px solid #dee2e6;padding-top:8px;font-size:13px;"
	"color:#495057}\n";

static void write_header(struct html_out *o, const json_t *doc)
{
	const json_t *load = json_object_get(doc, "load");
	const json_t *per_op = json_object_get(doc, "per_op");
	const json_t *cpu = json_object_get(doc, "cpu");
	double ops = num(doc, "ops", NAN);
	char a[32];

	html_raw(o, "<header><h1>smolder profile: <span class=\"command\">");
	html_text(o, str(doc, "command"));
	html_printf(o, "</span> (PID %.0f)</h1><table class=\"facts\">\n", num(doc, "pid", 0));
	html_printf(o, "<tr><th>Duration</th><td>%.1f s", num(doc, "duration_s", 0));
	if (str(doc, "stop_reason")) {
		html_raw(o, " (ended: ");
		html_text(o, str(doc, "stop_reason"));
		html_raw(o, ")");
	}
	html_raw(o, "</td></tr>\n");
	if (json_is_object(load)) {
		const json_t *status = json_object_get(load, "exit_status");

		html_raw(o, "<tr><th>Load command</th><td><code id=\"load-command\">");
		html_text(o, str(load, "command"));
		html_raw(o, "</code><br>");
		if (json_is_integer(status))
			html_printf(o, "exit status %lld", (long long)json_integer_value(status));
		else
			html_raw(o, "still running when the run ended");
		html_printf(o, ", ran from %.1f s to %.1f s</td></tr>\n", num(load, "start_s", 0),
			    num(load, "end_s", 0));
	}
	html_raw(o, "<tr><th>Operations</th><td>");
	if (isnan(ops)) {
		html_raw(o, "unknown (give --ops N, or a load tool whose output states them)");
	} else {
		html_printf(o, "%.0f", ops);
		if (json_is_object(per_op)) {
			html_printf(o, "; per operation: CPU %.3g ms",
				    num(per_op, "cpu_s", 0) * 1e3);
			if (json_object_get(per_op, "allocations"))
				html_printf(o, ", %.3g allocations", num(per_op, "allocations", 0));
			if (json_object_get(per_op, "leaked_bytes"))
				html_printf(
					o, ", %s leaked",
					html_bytes(num(per_op, "leaked_bytes", 0), a, sizeof(a)));
			html_printf(o, ", RSS %s",
				    html_bytes(num(per_op, "rss_growth_bytes", 0), a, sizeof(a)));
		}
	}
	html_raw(o, "</td></tr>\n");
	html_printf(o, "<tr><th>On CPU</th><td>%.2f s (%.0f samples)</td></tr>\n",
		    num(cpu, "cpu_s", 0), num(cpu, "samples", 0));
	html_raw(o, "</table>\n");
	if (json_is_object(load) && str(load, "output_tail") && *str(load, "output_tail")) {
		html_raw(o, "<details><summary>Load command output (last lines)</summary><pre>");
		html_text(o, str(load, "output_tail"));
		html_raw(o, "</pre></details>\n");
	}
	html_raw(o, "</header>\n");
}

static int finding_cmp(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	double ix = num(x, "impact", -1), iy = num(y, "impact", -1);

	return ix < iy ? 1 : ix > iy ? -1 : 0;
}

/* Findings, highest "impact" first (the generator's order among equals or without one). */
static void write_findings(struct html_out *o, const json_t *doc)
{
	const json_t *f = json_object_get(doc, "findings");
	size_t n = json_array_size(f);
	json_t **order = calloc(n ? n : 1, sizeof(*order));

	html_raw(o, "<section id=\"findings\"><h2>Findings</h2>\n");
	if (!order) {
		o->err = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = json_array_get(f, i);
	/* qsort is not stable: ties keep the generator's order through the index. */
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && finding_cmp(&order[k - 1], &order[k]) > 0; k--) {
			json_t *t = order[k];

			order[k] = order[k - 1];
			order[k - 1] = t;
		}
	if (n == 0)
		html_raw(o,
			 "<p class=\"absent\">Nothing stood out: no function above 5% of CPU, no "
			 "leaking site, no RSS growth over 1 MiB.</p>\n");
	else
		html_raw(o, "<ol class=\"findings\">\n");
	for (size_t i = 0; i < n; i++) {
		const char *kind = str(order[i], "kind");
		const char *cls = kind && (!strcmp(kind, "cpu") || !strcmp(kind, "memory") ||
					   !strcmp(kind, "rss") || !strcmp(kind, "off_cpu"))
					  ? kind
					  : "other";

		html_printf(o, "<li class=\"finding\"><span class=\"kind %s\">", cls);
		html_text(o, kind ? kind : "note");
		html_raw(o, "</span>");
		html_text(o, str(order[i], "text"));
		html_raw(o, "</li>\n");
	}
	if (n)
		html_raw(o, "</ol>\n");
	html_raw(o, "</section>\n");
	free(order);
}

/* One flame graph inline, or a line saying why there is none. */
static void write_graph(struct html_out *o, const char *id, const char *heading,
			const struct folded_profile *p, const struct flamegraph_options *fo,
			const char *absent)
{
	html_printf(o, "<section id=\"%s\"><h2>%s</h2>\n", id, heading);
	if (!p || !(folded_profile_total(p) > 0)) {
		html_raw(o, "<p class=\"absent\">");
		html_text(o, absent);
		html_raw(o, "</p></section>\n");
		return;
	}
	html_raw(o, "<p class=\"note\">Click a frame to zoom (click the bottom frame to reset), "
		    "'Search' to highlight frames by regular expression.</p>\n");
	if (!o->err) {
		int ret = flamegraph_render(p, fo, o->fp);

		if (ret)
			o->err = ret;
	}
	html_raw(o, "</section>\n");
}

/* The memory flame graph of the JSON's sites: by the bytes each gained during the run
 * ("growth_bytes": outstanding at the end minus when first seen), which points at what grows
 * rather than at arenas and stacks mapped once; by outstanding bytes when nothing grew. *by_growth
 * says which. */
static struct folded_profile *memory_graph(const json_t *sites, bool *by_growth)
{
	struct folded_profile *p = folded_profile_new();
	const char **frames = NULL;

	if (!p)
		return NULL;
	*by_growth = false;
	for (size_t i = 0; i < json_array_size(sites); i++)
		if (num(json_array_get(sites, i), "growth_bytes", 0) > 0)
			*by_growth = true;
	for (size_t i = 0; i < json_array_size(sites); i++) {
		const json_t *site = json_array_get(sites, i),
			     *stack = json_object_get(site, "stack");
		double bytes = num(site, *by_growth ? "growth_bytes" : "outstanding_bytes", 0);
		size_t n = json_array_size(stack), k;

		if (!(bytes > 0) || n == 0)
			continue;
		free(frames);
		frames = calloc(n, sizeof(*frames));
		if (!frames)
			goto fail;
		for (k = 0; k < n; k++) {
			frames[k] = json_string_value(json_array_get(stack, k));
			if (!frames[k])
				frames[k] = "[unknown]";
		}
		if (folded_profile_add(p, frames, n, bytes))
			goto fail;
	}
	free(frames);
	return p;
fail:
	free(frames);
	folded_profile_free(p);
	return NULL;
}

static bool is_allocator(const char *name)
{
	static const char *const names[] = {
		"malloc",	"calloc",	  "realloc",	   "reallocarray",
		"free",		"posix_memalign", "aligned_alloc", "memalign",
		"valloc",	"pvalloc",	  "mmap",	   "mmap64",
		"operator new", "operator new[]", "strdup",	   "strndup"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(name, names[i], strlen(names[i])) &&
		    (!name[strlen(names[i])] || name[strlen(names[i])] == '('))
			return true;
	return false;
}

/* The site's name: the JSON's "function" (the deepest frame of the program itself, chosen
 * where the modules are known) or else the caller of the allocator; with its file:line. */
static void write_site_name(struct html_out *o, const json_t *site)
{
	const json_t *stack = json_object_get(site, "stack");
	const json_t *locs = json_object_get(site, "locations");
	const char *fn = str(site, "function"), *loc = str(site, "location");
	size_t n = json_array_size(stack), k = n;

	if (!fn) {
		while (k > 0 && is_allocator(json_string_value(json_array_get(stack, k - 1)) ?: ""))
			k--;
		if (k == 0)
			k = n;
		fn = json_string_value(json_array_get(stack, k - 1));
		loc = json_string_value(json_array_get(locs, k - 1));
	}
	html_raw(o, "<code>");
	html_text(o, fn ? fn : "[unknown]");
	html_raw(o, "</code>");
	if (loc) {
		html_raw(o, " <span class=\"note\">");
		html_text(o, loc);
		html_raw(o, "</span>");
	}
	html_raw(o, "<details><summary>stack</summary><pre>");
	for (size_t i = n; i-- > 0;) {
		const char *l = json_string_value(json_array_get(locs, i));

		html_text(o, json_string_value(json_array_get(stack, i)) ?: "[unknown]");
		if (l) {
			html_raw(o, " (");
			html_text(o, l);
			html_raw(o, ")");
		}
		html_raw(o, "\n");
	}
	html_raw(o, "</pre></details>");
}

static void write_memory(struct html_out *o, const json_t *doc)
{
	const json_t *mem = json_object_get(doc, "memory");
	const json_t *sites = json_object_get(mem, "sites"),
		     *totals = json_object_get(mem, "totals");
	double ops = num(doc, "ops", NAN), duration = num(doc, "duration_s", 0);
	size_t n = json_array_size(sites);
	struct flamegraph_options fo;
	struct folded_profile *graph;
	bool by_growth;
	char a[32], b[32];

	html_raw(o, "<section id=\"memory\"><h2>Memory growth</h2>\n");
	if (!json_is_object(mem)) {
		html_raw(o, "<p class=\"absent\">Allocations were not tracked (--no-memory).</p>"
			    "</section>\n");
		return;
	}
	html_printf(o,
		    "<p>Outstanding at the end: %s in tracked allocations; %.0f allocations "
		    "tracked; %s attributed to leaking sites. %zu sites%s, ranked by growth "
		    "rate.</p>\n",
		    html_bytes(num(totals, "outstanding_bytes", 0), a, sizeof(a)),
		    num(totals, "tracked_allocs", 0),
		    html_bytes(num(totals, "leaked_bytes", 0), b, sizeof(b)), n,
		    n > HTML_MAX_SITES ? " (the table shows the first 30)" : "");
	if (n) {
		html_printf(o,
			    "<table class=\"memory\"><thead><tr><th>#</th><th>Site</th>"
			    "<th>Verdict</th><th>Growth</th><th>%s</th><th>Outstanding over "
			    "time</th><th>Outstanding</th></tr></thead><tbody>\n",
			    isnan(ops) ? "Growth &#215; duration" : "Leaked per operation");
	}
	for (size_t i = 0; i < n && i < HTML_MAX_SITES && !o->err; i++) {
		const json_t *site = json_array_get(sites, i);
		const char *verdict = str(site, "verdict");
		double rate = num(site, "growth_bytes_per_s", 0);
		/* As per_op.leaked_bytes: outstanding at the end over the operations (the tracker
		 * sees only allocations made during the run), for sites that keep growing; a
		 * plateau's or a churning site's bytes are not a cost per operation. */
		double held = num(site, "outstanding_bytes", 0);
		bool growing = verdict && (!strcmp(verdict, "leak") || !strcmp(verdict, "growing"));

		html_printf(o, "<tr class=\"site\"><td class=\"n\">%zu</td><td>", i + 1);
		write_site_name(o, site);
		html_raw(o, "</td><td><span class=\"verdict ");
		html_text(o, verdict ? verdict : "unknown");
		html_raw(o, "\">");
		html_text(o, verdict ? verdict : "?");
		html_printf(o, "</span> <span class=\"note\">%.0f%%</span></td>",
			    100 * num(site, "confidence", 0));
		html_printf(o, "<td class=\"n\">%s/s</td>", html_bytes(rate, a, sizeof(a)));
		if (!isnan(ops) && ops > 0 && !growing)
			html_raw(o, "<td class=\"n absent\">&#8212;</td>");
		else if (!isnan(ops) && ops > 0)
			html_printf(o, "<td class=\"n\">%s</td>",
				    html_bytes(held / ops, a, sizeof(a)));
		else
			html_printf(o, "<td class=\"n\">%s</td>",
				    html_bytes(rate * duration, a, sizeof(a)));
		html_raw(o, "<td>");
		html_sparkline_write(o, json_object_get(site, "series"));
		html_printf(o, "</td><td class=\"n\">%s</td></tr>\n",
			    html_bytes(num(site, "outstanding_bytes", 0), a, sizeof(a)));
	}
	if (n)
		html_raw(o, "</tbody></table>\n");
	html_raw(o, "</section>\n");
	graph = memory_graph(sites, &by_growth);
	if (!graph) {
		o->err = -ENOMEM;
		return;
	}
	flamegraph_options_init(&fo);
	fo.title = by_growth ? "Memory growth by allocation stack"
			     : "Outstanding memory by allocation stack";
	fo.subtitle = by_growth ? "bytes each site gained during the run (the report's top sites)"
				: "bytes outstanding at the end (the report's top sites)";
	fo.countname = "bytes";
	fo.palette = FLAMEGRAPH_PALETTE_MEM;
	fo.minwidth = 0.5;
	fo.max_frames = HTML_MAX_FRAMES;
	fo.embed_id = "mem";
	write_graph(o, "memory-graph", "Memory flame graph", graph, &fo,
		    "No allocation was outstanding at the end of the run.");
	folded_profile_free(graph);
}

static void write_footer(struct html_out *o, const json_t *doc)
{
	const json_t *dropped = json_object_get(doc, "dropped");
	const json_t *self = json_object_get(doc, "smolder");
	double duration = num(doc, "duration_s", 0), hz = num(doc, "frequency_hz", 0);
	const char *key;
	json_t *v;
	char a[32];
	bool first = true;

	html_raw(o, "<footer id=\"measured\"><h2>How this was measured</h2><p>");
	if (hz > 0)
		html_printf(o,
			    "On-CPU stacks sampled at %.0f Hz (cpu-clock events on every CPU, "
			    "filtered to the target in eBPF, DWARF-unwound). ",
			    hz);
	else
		html_raw(o, "On-CPU stacks sampled by cpu-clock events on every CPU, filtered to "
			    "the target in eBPF, DWARF-unwound. ");
	html_printf(o, "Resource timeline from /proc every %.3g s. ", num(doc, "interval_s", 0));
	html_raw(o, json_is_object(json_object_get(doc, "memory"))
			    ? "Allocations tracked by uprobes on the allocator. "
			    : "Allocations not tracked (--no-memory). ");
	html_raw(o, json_is_object(json_object_get(doc, "off_cpu"))
			    ? "Off-CPU time from the scheduler's sched_switch tracepoint."
			    : "Off-CPU time not collected.");
	html_raw(o, "</p><p>Dropped: ");
	json_object_foreach((json_t *)dropped, key, v)
	{
		html_raw(o, first ? "" : ", ");
		html_text(o, key);
		html_printf(o, " %.0f", json_number_value(v));
		first = false;
	}
	if (first)
		html_raw(o, "nothing reported");
	html_raw(o, ".</p>");
	if (json_is_object(self)) {
		double cpu = num(self, "cpu_s", 0);

		html_printf(
			o,
			"<p>smolder's own cost: %.2f s of CPU (%.1f%% of one CPU over the run), "
			"peak RSS %s.</p>",
			cpu, duration > 0 ? 100 * cpu / duration : 0,
			html_bytes(num(self, "max_rss_bytes", 0), a, sizeof(a)));
	}
	html_raw(o, "<p class=\"note\">Report sizes are bounded: charts of at most 400 points, "
		    "flame graphs of at most 5000 frames, the memory table's first 30 sites.</p>"
		    "</footer>\n");
}

/* "</script" in s[0..len) in any case (s need not be NUL-terminated). */
static bool has_script_end(const char *s, size_t len)
{
	static const char end[] = "</script";

	for (size_t i = 0; i + sizeof(end) - 1 <= len; i++)
		if (!strncasecmp(s + i, end, sizeof(end) - 1))
			return true;
	return false;
}

int html_report_write(FILE *fp, const struct html_report_input *in)
{
	struct html_out o = {.fp = fp};
	struct flamegraph_options fo;
	json_error_t jerr;
	json_t *doc = json_loadb(in->json, in->json_len, 0, &jerr);
	const json_t *cpu;
	size_t script_len;
	const char *script = flamegraph_script(&script_len);
	char sub[160];

	if (!json_is_object(doc)) {
		json_decref(doc);
		return -EINVAL;
	}
	/* The scripts go inside <script>: they are ours, but a "</script" would end them. */
	if (has_script_end(script, script_len) ||
	    has_script_end(html_chart_script, strlen(html_chart_script))) {
		json_decref(doc);
		return -EINVAL;
	}
	cpu = json_object_get(doc, "cpu");
	html_raw(&o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		     "<meta name=\"generator\" content=\"smolder\"><title>smolder profile: ");
	html_text(&o, str(doc, "command"));
	html_printf(&o, " (PID %.0f)</title>\n<style>\n%s</style></head><body>\n",
		    num(doc, "pid", 0), page_style);
	write_header(&o, doc);
	write_findings(&o, doc);
	html_charts_write(&o, doc);

	flamegraph_options_init(&fo);
	fo.minwidth = 0.5;
	fo.max_frames = HTML_MAX_FRAMES;
	fo.title = "On-CPU";
	fo.embed_id = "cpu";
	snprintf(sub, sizeof(sub), "%.0f samples, %.2f s on CPU", num(cpu, "samples", 0),
		 num(cpu, "cpu_s", 0));
	fo.subtitle = sub;
	write_graph(&o, "on-cpu", "On-CPU flame graph", in->cpu, &fo,
		    "No on-CPU samples were recorded (the target did not run on a CPU).");
	fo.title = "Off-CPU";
	fo.embed_id = "offcpu";
	fo.countname = "us";
	fo.palette = FLAMEGRAPH_PALETTE_IO;
	fo.subtitle = "time blocked, by the stack it blocked at (microseconds)";
	write_graph(&o, "off-cpu", "Off-CPU flame graph", in->off_cpu, &fo,
		    in->off_cpu_absent ? in->off_cpu_absent
				       : "Off-CPU time was not collected in this run.");
	write_memory(&o, doc);
	write_footer(&o, doc);
	html_raw(&o, "<script>\n");
	if (!o.err && fwrite(script, 1, script_len, fp) != script_len)
		o.err = -EIO;
	html_raw(&o, html_chart_script);
	html_raw(
		&o,
		"document.querySelectorAll(\"svg.smolder-flamegraph\").forEach(function (svg) "
		"{\n\tsmolderFlameGraph(svg);\n});\nsmolderCharts();\n</script>\n</body></html>\n");
	json_decref(doc);
	if (!o.err && (fflush(fp) || ferror(fp)))
		o.err = -EIO;
	return o.err;
}
