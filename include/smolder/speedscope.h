/* speedscope.h: speedscope's JSON file format (https://www.speedscope.app/file-format-schema.json):
 * shared frames and one "sampled" profile of weighted stacks. */
#ifndef SMOLDER_SPEEDSCOPE_H
#define SMOLDER_SPEEDSCOPE_H

#include <stddef.h>
#include <stdio.h>

struct report_stack;
struct profile_folded;
struct profile_output_meta;
struct leak_report;
struct report_parts;

/* One sampled profile: stacks (frames root first), each weight multiplied by scale, in unit (one
 * of speedscope's: "none", "nanoseconds", "bytes", ...). */
struct speedscope_profile {
	const char *name;
	const char *unit;
	double scale;
	const struct report_stack *stacks;
	size_t n_stacks;
};

/* Writes profiles (frames shared) as one file named name. A frame "name (file:LINE)"
 * (interpreted code) gets its file and line. Returns 0 or -errno. */
int speedscope_write_profiles(const struct speedscope_profile *profiles, size_t n, const char *name,
			      FILE *fp);

/* Writes stacks (frames root first) as one sampled profile named name; unit is one of
 * speedscope's ("none", "nanoseconds", "bytes", ...), each weight multiplied by scale. A frame
 * "name (file:LINE)" (interpreted code) gets its file and line. Returns 0 or -errno. */
int speedscope_write(const struct report_stack *stacks, size_t n, const char *name,
		     const char *unit, double scale, FILE *fp);

/* A run's parts (report_parts.h), one profile each: on-CPU (nanoseconds: samples times the
 * integral period, as pprof has it; stacks as the .folded output has them), off-CPU
 * (nanoseconds), outstanding memory and memory growth during the run (bytes, sites rooted at
 * [heap] / [anon mmap] like the memory flame graphs). Returns 0 or -errno (-EINVAL: no part). */
int speedscope_write_parts(const struct report_parts *parts, FILE *fp);

/* record's profile: weights in nanoseconds (samples times the integral period, as pprof
 * has it). Returns 0 or -errno. */
int speedscope_write_cpu(const struct profile_folded *folded,
			 const struct profile_output_meta *meta, FILE *fp);
/* leaks' report: bytes outstanding per allocation site at the end, and gained during the run.
 * Returns 0 or -errno. */
int speedscope_write_leaks(const struct leak_report *report, FILE *fp);

#endif
