/* report_outputs.h: the one dispatch from an output's format (its extension, cli.h) to the
 * writer a command has for that format, shared by record, leaks and profile. Each output goes
 * through a temporary file renamed into place (output_file.h); every output is attempted even
 * when one fails; "wrote PATH" is printed only once PATH is in place, a failure names the file. */
#ifndef SMOLDER_REPORT_OUTPUTS_H
#define SMOLDER_REPORT_OUTPUTS_H

#include <stddef.h>
#include <stdio.h>

#include "smolder/cli.h"

/* Writes one output to fp. Returns 0 or -errno. */
typedef int (*report_writer_fn)(void *ctx, const struct cli_output *out, FILE *fp);

struct report_writers {
	report_writer_fn by_format[OUTPUT_FORMAT_COUNT]; /* NULL: not written by the command */
	void *ctx;
	/* Optional: what the file holds, appended to "wrote PATH" (" (memory growth flame
	 * graph)"); NULL or "" for nothing. */
	const char *(*describe)(void *ctx, const struct cli_output *out);
};

/* Writes outs[0..n) with w's writers. Returns 0 or the first failure's -errno (each failure
 * logged on one line naming its file). */
int report_outputs_write(const struct report_writers *w, const struct cli_output *outs, size_t n);

#endif
