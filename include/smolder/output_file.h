/* output_file.h: complete-or-nothing output files. Data goes to a temporary file beside the target
 * and is renamed over it only when complete, so a reader never sees half a profile. */
#ifndef SMOLDER_OUTPUT_FILE_H
#define SMOLDER_OUTPUT_FILE_H

#include <stdio.h>

struct output_file {
	FILE *fp;	/* write here */
	char *path;	/* final path (owned) */
	char *tmp_path; /* NULL for stdout */
};

/* Opens a temporary file in path's directory ("-" = stdout). Returns 0 or -errno. */
int output_file_open(struct output_file *out, const char *path);
/* Flushes, fsyncs and renames into place; closes. Returns 0 or -errno (temp file removed then). */
int output_file_commit(struct output_file *out);
/* Closes and removes the temporary file. Safe on a zeroed or committed struct. */
void output_file_abort(struct output_file *out);

#endif
