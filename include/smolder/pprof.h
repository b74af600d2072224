/* pprof.h: the pprof profile format (profile.proto, gzipped), as `go tool pprof`, Pyroscope and
 * Grafana read it. A builder that interns strings, functions, mappings and locations and writes
 * the gzipped profile; and a reader that turns a profile into report_input stacks. */
#ifndef SMOLDER_PPROF_H
#define SMOLDER_PPROF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct pprof_builder;
struct report_input;
struct profile_folded;
struct profile_output_options;
struct profile_output_meta;
struct leak_report;
struct report_parts;

/* One source line of a location: function name and file:line (file NULL, line 0 when unknown). */
struct pprof_line {
	const char *function;
	const char *file;
	int64_t line;
};

/* A new, empty profile; NULL and errno on failure. Free with pprof_builder_free (NULL-safe). */
struct pprof_builder *pprof_builder_new(void);
void pprof_builder_free(struct pprof_builder *b);

/* Declares the next value of every sample (call before adding samples). 0 or -ENOMEM/-EINVAL. */
int pprof_builder_sample_type(struct pprof_builder *b, const char *type, const char *unit);
/* The sample type pprof shows by default (one already declared). */
int pprof_builder_default_type(struct pprof_builder *b, const char *type);
/* Sampling period ("cpu", "nanoseconds", 10101010 for 99 Hz); 0 or -ENOMEM. */
int pprof_builder_period(struct pprof_builder *b, const char *type, const char *unit,
			 int64_t period);
void pprof_builder_duration(struct pprof_builder *b, int64_t time_nanos, int64_t duration_nanos);
/* A comment line shown by pprof -comments. 0 or -ENOMEM. */
int pprof_builder_comment(struct pprof_builder *b, const char *text);

/* Interns a mapping (an object mapped at [start, limit) from file offset, with its build id as
 * hex; NULL when unknown). Returns its id (>= 1), 0 on allocation failure. */
uint64_t pprof_builder_mapping(struct pprof_builder *b, uint64_t start, uint64_t limit,
			       uint64_t offset, const char *file, const char *build_id);
/* Interns a location: by (mapping, address) when address != 0, else by its lines. lines are
 * innermost first (inlined callees before their caller). Returns its id, 0 on failure. */
uint64_t pprof_builder_location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
				const struct pprof_line *lines, size_t n_lines);
/* Adds a sample: locations leaf first, one value per declared sample type. 0 or -errno. */
int pprof_builder_sample(struct pprof_builder *b, const uint64_t *locations, size_t n,
			 const int64_t *values);
/* Adds a label to the last sample added: a string (str != NULL) or a number. pprof shows them
 * with -tags and filters by them (-tagfocus). 0 or -errno. */
int pprof_builder_label(struct pprof_builder *b, const char *key, const char *str, int64_t num);
/* Serialises, gzips and writes the profile to fp. 0 or -errno. */
int pprof_builder_write(const struct pprof_builder *b, FILE *fp);

/* Writes a run's parts (report_parts.h) as one gzipped pprof profile whose sample types follow
 * the parts: cpu: samples/count and cpu/nanoseconds (samples times the period of meta's
 * frequency); off_cpu: off_cpu/nanoseconds; memory: inuse_space/bytes, inuse_objects/count and
 * growth_space/bytes. The default type is the first part's. Returns 0 or -errno (-EINVAL: no
 * part). */
int pprof_write_parts(const struct report_parts *parts, FILE *fp);
/* A CPU profile (record) as pprof: sample types samples/count and cpu/nanoseconds (samples times
 * the sampling period), one location per address with its mapping (file, build id) and its
 * lines (function, file:line; inlined calls as extra lines). Returns 0 or -errno. */
int pprof_write_cpu(const struct profile_folded *folded, const struct profile_output_options *opts,
		    const struct profile_output_meta *meta, FILE *fp);
/* A leak report as pprof: inuse_space/bytes (default), inuse_objects/count and
 * growth_space/bytes (gained during the run) per allocation site; locations by function and
 * file:line (the tracker keeps no addresses). Returns 0 or -errno. */
int pprof_write_leaks(const struct leak_report *report, FILE *fp);

/* Decodes an uncompressed profile into in's stacks (the default sample type's values; inlined
 * frames get "_[i]", kernel frames "_[k]", like folded stacks), countname and cpu_seconds.
 * Returns 0, -EINVAL with a one-line reason in err, or -ENOMEM. */
int pprof_read(const void *data, size_t len, struct report_input *in, char *err, size_t errlen);

#endif
