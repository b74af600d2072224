/* html_report.h: the HTML report of `smolder profile`: one self-contained file (inline CSS, SVG
 * and script, no network) drawn from the profile JSON document, so the page always agrees with
 * the JSON, plus the folded profiles behind its flame graphs. Size is bounded for any run length:
 * timeline charts of at most HTML_CHART_POINTS points, flame graphs of at most HTML_MAX_FRAMES
 * frames each, the memory table's top HTML_MAX_SITES sites. */
#ifndef SMOLDER_HTML_REPORT_H
#define SMOLDER_HTML_REPORT_H

#include <stddef.h>
#include <stdio.h>

struct folded_profile;

#define HTML_CHART_POINTS 400  /* per timeline chart (max over merged points: spikes stay) */
#define HTML_MAX_FRAMES	  5000 /* per flame graph (minwidth raised until it fits) */
#define HTML_MAX_SITES	  30   /* rows of the memory table */

struct html_report_input {
	const char *json; /* the profile JSON document (profile_json.h), json_len bytes */
	size_t json_len;
	const struct folded_profile *cpu;     /* on-CPU stacks in samples; NULL: none */
	const struct folded_profile *off_cpu; /* off-CPU stacks in microseconds; NULL: absent */
	const char *off_cpu_absent;	      /* why off_cpu is NULL ("--no-off-cpu"), or NULL */
};

/* Writes the report to fp. The memory flame graph is built from the JSON's memory sites
 * (outstanding bytes by stack). Every string from the target is HTML-escaped. Returns 0,
 * -EINVAL (the JSON does not parse), -ENOMEM or -EIO. */
int html_report_write(FILE *fp, const struct html_report_input *in);

#endif
