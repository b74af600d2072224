/* cpu_collector.h: the on-CPU collector of a session (record, profile): the eBPF sampler (or the
 * ptrace backend), the per-sample path (unwind the user stack snapshot, add kernel frames,
 * aggregate into a cpu_profile), and at the end the folded profile through the shared symbolizer
 * and the run summary. Owns its sampler and profile; borrows the session's models. */
#ifndef SMOLDER_CPU_COLLECTOR_H
#define SMOLDER_CPU_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smolder/cli.h"
#include "smolder/events.h"
#include "smolder/profile_output.h"

struct cpu_collector;
struct cpu_profile;
struct frame_names;
struct offcpu_collector;
struct offcpu_report;
struct session;
struct session_collector;

struct cpu_collector_options {
	int frequency_hz;
	bool no_kernel;
	enum sample_backend backend;
	bool native;		    /* --native: keep interpreter-internal native frames */
	bool python_by_function;    /* --function: Python frames without the executing line */
	enum cli_children children; /* FOLLOW: forked children join (eBPF backend) */
	bool merge_processes;	    /* one root frame per command, not per process */
	/* Off-CPU time (eBPF backend): its records arrive in the sampler's ring buffer and are
	 * unwound here, then kept by this collector (borrowed). NULL: not collected. */
	struct offcpu_collector *off_cpu;
};

/* A collector for opts (copied). NULL and errno on failure; free with cpu_collector_free. */
struct cpu_collector *cpu_collector_new(const struct cpu_collector_options *opts);
/* NULL-safe. */
void cpu_collector_free(struct cpu_collector *cc);
/* Fills the session callbacks (attach: sampler; poll: samples; stop: drain). */
void cpu_collector_plug(struct cpu_collector *cc, struct session_collector *out);

/* The one per-sample path of every CPU backend: unwinds, names the thread, aggregates. Called by
 * the samplers for each record; returns 0 (a sample that cannot be kept is counted, not fatal). */
int cpu_collector_on_sample(void *ctx, const struct smolder_cpu_sample *sample, size_t size);

/* The aggregated profile (owned by the collector). */
struct cpu_profile *cpu_collector_profile(struct cpu_collector *cc);

/* The registry of named frames (Python functions, markers) in the profile's stacks, or NULL; set
 * it as profile_output_options.names. Owned by the collector. */
const struct frame_names *cpu_collector_names(const struct cpu_collector *cc);

/* After the run: reads the drop counters, folds the profile through each process's symbolizer
 * with oo (title, --threads, ...; its names and process fields are filled here), logs the summary
 * and fills meta for the JSON writer (meta's tables belong to the collector). Returns the folded
 * profile (caller frees with profile_folded_free) or NULL and errno. */
struct profile_folded *cpu_collector_finish(struct cpu_collector *cc, struct session *s,
					    struct profile_output_options *oo,
					    struct profile_output_meta *meta);
/* After cpu_collector_finish (oo as it filled it): the off-CPU report (owned by the off-CPU
 * collector), or NULL and errno (ENODEV: off-CPU time was not collected). */
const struct offcpu_report *cpu_collector_finish_off_cpu(struct cpu_collector *cc,
							 struct session *s,
							 const struct profile_output_options *oo);
/* Thread name callback for profile_output_options (ctx: the collector). */
const char *cpu_collector_thread_name(void *ctx, int32_t tid);

#endif
