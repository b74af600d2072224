/* report_parts.h: the results of one run as the export formats (pprof, speedscope) take them:
 * on-CPU samples and off-CPU time as address-level folded profiles (profile_output.h), memory as
 * a leak report. `record` has the CPU part, `leaks` the memory part, `profile` all of them. */
#ifndef SMOLDER_REPORT_PARTS_H
#define SMOLDER_REPORT_PARTS_H

#include <stdint.h>

struct profile_folded;
struct profile_output_options;
struct profile_output_meta;
struct leak_report;

/* Every pointer borrowed; a NULL part is absent. */
struct report_parts {
	const char *tool;		  /* "record", "leaks", "profile": named in the outputs */
	const struct profile_folded *cpu; /* weights: samples at meta->frequency_hz */
	const struct profile_output_options *cpu_opts;
	const struct profile_folded *off_cpu; /* weights: off_cpu_unit_ns nanoseconds each */
	const struct profile_output_options *off_cpu_opts;
	int64_t off_cpu_unit_ns; /* 1000 for microseconds */
	const struct leak_report *memory;
	/* pid, command, frequency, duration; NULL only with the memory part alone */
	const struct profile_output_meta *meta;
};

#endif
