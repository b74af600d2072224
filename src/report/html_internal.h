/* html_internal.h: what the HTML report's files share: an output stream that keeps the first
 * error, escaping, number formatting, and the timeline charts (html_chart.c). */
#ifndef SMOLDER_HTML_INTERNAL_H
#define SMOLDER_HTML_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

struct html_out {
	FILE *fp;
	int err; /* first error (-errno); later writes are skipped */
};

/* Writes s as is (page markup, never target text). */
void html_raw(struct html_out *o, const char *s);
void html_printf(struct html_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes s escaped for HTML text and attribute values (& < > " '); NULL writes nothing. */
void html_text(struct html_out *o, const char *s);
/* "1.5 MiB", "512 B" into buf (returned). */
const char *html_bytes(double v, char *buf, size_t len);

/* The timeline section: one inline SVG chart per figure the JSON's "timeline" holds, load
 * start/end marked, values on hover (the page's script reads the charts' data attributes). */
void html_charts_write(struct html_out *o, const json_t *doc);
/* A sparkline of a memory site's "series" ([{t, bytes}]) as a small inline SVG. */
void html_sparkline_write(struct html_out *o, const json_t *series);
/* The charts' hover script (static text, no data). */
extern const char html_chart_script[];

#endif
