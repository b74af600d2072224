/* json_writer.h: streaming JSON output with correct string escaping (invalid UTF-8 replaced) and
 * commas handled, for reports (leaks, dump --json). Writes to a FILE owned by the caller. */
#ifndef SMOLDER_JSON_WRITER_H
#define SMOLDER_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_WRITER_MAX_DEPTH 32

struct json_writer {
	FILE *fp;
	int depth;
	bool need_comma[JSON_WRITER_MAX_DEPTH];
	bool after_key;
	bool pretty;
	int error; /* first error (-EINVAL for misuse, -EIO), sticky */
};

void json_writer_init(struct json_writer *w, FILE *fp, bool pretty);
void json_object_begin(struct json_writer *w);
void json_object_end(struct json_writer *w);
void json_array_begin(struct json_writer *w);
void json_array_end(struct json_writer *w);
void json_key(struct json_writer *w, const char *key);
void json_string(struct json_writer *w, const char *value); /* NULL writes null */
void json_int(struct json_writer *w, int64_t value);
void json_uint(struct json_writer *w, uint64_t value);
void json_double(struct json_writer *w, double value); /* non-finite writes null */
void json_bool(struct json_writer *w, bool value);
void json_null(struct json_writer *w);
/* Writes a trailing newline, flushes. Returns 0 or the first error. */
int json_writer_finish(struct json_writer *w);

#endif
