/* report_input.h: reads a profile or report given to `check`, `diff` or `flamegraph`, whatever its
 * format: smolder's JSON reports (record, leaks, profile; parsed with jansson), pprof (gzipped or
 * plain protobuf) and folded stacks, told apart by content. Gives the parsed JSON document (for
 * check's metrics) and the weighted stacks (for shares and flame graphs). */
#ifndef SMOLDER_REPORT_INPUT_H
#define SMOLDER_REPORT_INPUT_H

#include <stdbool.h>
#include <stddef.h>

struct json_t;
struct folded_profile;

enum report_kind {
	REPORT_KIND_FOLDED = 0,
	REPORT_KIND_RECORD,  /* smolder record -o x.json */
	REPORT_KIND_LEAKS,   /* smolder leaks -o x.json */
	REPORT_KIND_PROFILE, /* smolder profile -o x.json */
	REPORT_KIND_PPROF,   /* x.pb.gz / x.pb */
};

/* One weighted stack, frames root first. */
struct report_stack {
	char **frames;
	size_t n_frames;
	double weight;
};

struct report_input {
	enum report_kind kind;
	char *name;	     /* file name, for messages */
	struct json_t *json; /* JSON reports: the document (jansson); NULL otherwise */
	struct report_stack *stacks;
	size_t n_stacks, cap_stacks;
	double total;	    /* sum of the stacks' weights */
	char countname[64]; /* unit of the weights: "samples", "bytes", "nanoseconds", ... */
	double cpu_seconds; /* on-CPU seconds the input states (record, pprof cpu); NAN if none */
	bool cpu_seconds_measured; /* from the kernel's accounting, not counted from samples */
	double duration_s;	   /* length of the run; NAN when unknown */
};

/* Reads PATH ("-": stdin). On success *out is a new input (free with report_input_free). Errors:
 * -EINVAL (content is not a known format, or malformed: one line naming the problem in err),
 * -ENOENT/-EACCES/... (cannot open), -ENOMEM, -EIO. Nothing is logged; the caller prints err. */
int report_input_load(const char *path, struct report_input **out, char *err, size_t errlen);

/* The same over a buffer already in memory (name is for messages; the buffer is not kept). */
int report_input_parse(const void *data, size_t len, const char *name, struct report_input **out,
		       char *err, size_t errlen);

/* Appends a stack (frames root first, copied) with its weight. 0 or -ENOMEM. For the readers. */
int report_input_add_stack(struct report_input *in, const char *const *frames, size_t n,
			   double weight);

/* NULL-safe. */
void report_input_free(struct report_input *in);

/* The input's stacks as a new flame graph profile (caller frees), or NULL with errno. */
struct folded_profile *report_input_to_folded(const struct report_input *in);

const char *report_kind_name(enum report_kind kind);

/* True when data starts like a format report_input reads and the folded parser does not (JSON
 * object, gzip, protobuf by name): lets the folded loaders hand such input over. */
bool report_input_is_structured(const void *data, size_t len, const char *name);

/* Exit code class of an error from report_input_load: 1 for bad input, 6 for ENOMEM/EIO. */
int report_input_exit_code(int err);

#endif
