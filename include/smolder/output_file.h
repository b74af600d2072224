/* output_file.h: complete-or-nothing output files. Data goes to a temporary file beside the target
 * and is renamed over it only when complete, so a reader never sees half a profile. */
#ifndef SMOLDER_OUTPUT_FILE_H
#define SMOLDER_OUTPUT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct output_file {
	FILE *fp;	/* write here */
	char *path;	/* final path (owned) */
	char *tmp_path; /* NULL for stdout */
};

/* Checks, before any work, that path can be written: its directory exists and takes a new file,
 * it is not a directory or a device node, and it is not under /proc or /sys. "-" (stdout) passes.
 * Returns 0, or -errno with a one-line reason naming path in err. */
int output_file_check(const char *path, char *err, size_t errlen);
/* Removes temporary files of path (PATH.tmp.XXXXXX) that a killed smolder left behind: ours,
 * regular, and not locked by a live writer. Returns how many were removed, or -errno. */
int output_file_remove_stale(const char *path);
/* Opens a temporary file in path's directory ("-" = stdout). Returns 0 or -errno. */
int output_file_open(struct output_file *out, const char *path);
/* Flushes, fsyncs and renames into place; closes. Returns 0 or -errno (temp file removed then). */
int output_file_commit(struct output_file *out);
/* Closes and removes the temporary file. Safe on a zeroed or committed struct. */
void output_file_abort(struct output_file *out);

#endif
