/* profile_json.h: the profile JSON report of `smolder profile` (DESIGN.md contract): run facts,
 * load command, operations and per-operation figures, on-CPU function shares, memory sites,
 * timeline, findings, drops and smolder's own cost. */
#ifndef SMOLDER_PROFILE_JSON_H
#define SMOLDER_PROFILE_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct session;
struct timeline;
struct load_command;
struct leak_report;
struct profile_folded;
struct offcpu_report;

/* The figures of one run, gathered by cmd_profile once the collectors finished. */
struct profile_figures {
	double ops;		    /* operations done (NAN: unknown) */
	const char *ops_source;	    /* "option", "probe", "load_output" or NULL */
	double cpu_s;		    /* on-CPU seconds of the target over the run */
	bool cpu_measured;	    /* cpu_s from the kernel's accounting, not from samples */
	uint64_t samples, lost;	    /* on-CPU samples kept and lost */
	int frequency_hz;	    /* on-CPU sampling rate */
	struct leak_report *mem;    /* NULL with --no-memory */
	bool ops_probe;		    /* --ops-probe was used */
	uint64_t ops_probe_dropped; /* its calls not counted */
	const struct offcpu_report *off_cpu; /* NULL with --no-off-cpu */
};

/* Everything the report is written from (all borrowed). */
struct profile_json_input {
	const struct session *session;
	const struct timeline *timeline;
	const struct load_command *load; /* NULL without --during */
	const struct profile_figures *fig;
	const struct profile_folded *folded; /* on-CPU stacks */
};

/* Writes the profile JSON report to fp. 0 or -errno (-ENOMEM, or the writer's I/O error). */
int profile_json_write(FILE *fp, const struct profile_json_input *in);

#endif
