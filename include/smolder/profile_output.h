/* profile_output.h: turns a profile given as "stack id -> weight" (CPU samples, or bytes for memory
 * flame graphs) into folded stacks through the symbolizer, and writes the requested outputs
 * (.folded, .svg, .json) atomically through the flame graph library (flamegraph/). Each unique
 * address is symbolized once. */
#ifndef SMOLDER_PROFILE_OUTPUT_H
#define SMOLDER_PROFILE_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "smolder/cli.h"
#include "smolder/stack_table.h"

struct frame_names;
struct symbolizer;
struct profile_folded;
struct process_table;
struct process_model;
struct mixed_stack_stats;

/* One weighted stack. The stack's frames in the stack_table are leaf first (kernel frames, if any,
 * before user frames, as cpu_profile stores them); lookup addresses as the unwinder returns them.
 */
struct profile_weight {
	uint32_t stack_id;
	int32_t tid; /* thread, for the --threads root frame; 0 when unknown or not per thread */
	uint64_t weight;
};

struct profile_output_options {
	bool threads;	       /* add a "NAME-TID" root frame per thread */
	bool no_kernel;	       /* drop kernel frames */
	const char *title;     /* SVG/JSON title; NULL: "smolder" */
	const char *countname; /* unit of weights: "samples" (default), "bytes" */
	const char *colors;    /* flame graph palette: "hot" (default), "mem" */
	/* Thread name for the --threads frame; NULL or a NULL result gives "TID". */
	const char *(*thread_name)(void *ctx, int32_t tid);
	void *thread_name_ctx;
	/* Stacks whose outermost frame is a process root of this table are resolved with that
	 * process's symbolizer (the sym argument of profile_output_fold is for the others). */
	const struct process_table *processes;
	bool process_roots;   /* write the process root frame "COMMAND [PID]" */
	bool merge_processes; /* ... as "COMMAND" only, merging same-command processes */
	/* Registry of the stacks' named frames (frame.h: markers such as [truncated], interpreted
	 * functions); NULL when the stacks hold addresses only. */
	const struct frame_names *names;
};

/* One process's share, for the JSON report's "processes" table. */
struct profile_process {
	pid_t pid;
	const char *command;
	uint64_t weight;
};

struct profile_output_stats {
	uint64_t unique_addresses;  /* addresses symbolized */
	uint64_t unknown_addresses; /* of them, without a function name */
	uint64_t unknown_frames;    /* frames without a name, weighted like the stacks */
	uint64_t folded_stacks;	    /* unique folded lines */
	double total_weight;
	double symbolize_seconds;
};

/* Run metadata written into the JSON report. */
struct profile_output_meta {
	pid_t pid;
	const char *command;
	double duration_s;
	int frequency_hz; /* 0 when not sampled */
	uint64_t samples;
	uint64_t lost;
	uint64_t complete;
	uint64_t truncated;
	const struct profile_process *processes; /* per-process table; none when n_processes 0 */
	size_t n_processes;
	const char *python_version;		/* the target's CPython ("3.11"), NULL if none */
	const struct mixed_stack_stats *python; /* Python frame counters, NULL if none */
	double cpu_time_s; /* the target's CPU seconds during the run (kernel accounting); NAN */
};

/* Symbolizes and folds weights[0..n) over stacks. sym may be NULL: frames are then raw addresses
 * ("0x..."). Returns the folded profile (free with profile_folded_free), or NULL and errno. */
struct profile_folded *profile_output_fold(const struct stack_table *stacks,
					   const struct profile_weight *weights, size_t n,
					   struct symbolizer *sym,
					   const struct profile_output_options *opts,
					   struct profile_output_stats *stats);
void profile_folded_free(struct profile_folded *folded);

/* The address-level profile behind the folded lines, for exporters that keep addresses, mappings
 * and source lines (pprof). Everything belongs to the folded profile. */
struct profile_frame_info {
	char *name;	/* as in folded stacks ("f_[i]", "module+0x1f", ...) */
	char *function; /* demangled; NULL when unknown */
	char *file;	/* source file; NULL when unknown */
	uint32_t line;
	bool inlined;
};

struct profile_address {
	uint64_t addr;
	struct symbolizer
		*sym;	   /* its process's symbolizer (an address means one thing per process) */
	uint32_t first, n; /* its frames in the frame array, innermost first */
	uint32_t unknown;  /* frames without a function name */
	bool kernel;
	char *module_path; /* NULL: kernel, JIT or unmapped */
	char build_id[129];
	uint64_t map_start, map_end, map_offset;
};

struct profile_sample {
	uint32_t first, n; /* address indices (leaf first) in the index array */
	int32_t tid;
	/* Its process, when folded lines carry a process root frame (opts->process_roots). */
	const struct process_model *process;
	uint64_t weight;
};

const struct profile_sample *profile_folded_samples(const struct profile_folded *folded, size_t *n,
						    const uint32_t **addr_indices);
const struct profile_address *profile_folded_addresses(const struct profile_folded *folded,
						       size_t *n,
						       const struct profile_frame_info **frames);
/* Line i of the merged folded profile and its weight; NULL past the end. */
const char *profile_folded_line(const struct profile_folded *folded, size_t i, uint64_t *weight);
/* Indices of folded's lines, heaviest first (equal weights by text); *n gets their count. The
 * caller frees the array; NULL with errno set. */
size_t *profile_folded_by_weight(const struct profile_folded *folded, size_t *n);
/* Whether line i ends at the [truncated] marker instead of the thread's entry. */
bool profile_folded_line_truncated(const struct profile_folded *folded, size_t i);
/* The --threads root frame of a thread, as folded lines carry it. */
void profile_thread_frame(const struct profile_output_options *opts, int32_t tid, char *buf,
			  size_t len);

/* The process root frame of a model, as folded lines carry it ("COMMAND [PID]" or "COMMAND"). */
void profile_process_frame(const struct profile_output_options *opts,
			   const struct process_model *model, char *buf, size_t len);

/* The flame graph library's profile (folded.h) of folded's merged lines, for renderers that take
 * it (the HTML report). NULL with errno set; free with folded_profile_free. */
struct folded_profile;
struct folded_profile *profile_folded_to_graph(const struct profile_folded *folded);

/* Writes folded as "root;...;leaf WEIGHT" lines, sorted, to fp. Returns 0 or -EIO. */
int profile_folded_write(const struct profile_folded *folded, FILE *fp);

/* Writes folded's flame graph: .svg (format OUTPUT_FORMAT_SVG) or merged folded lines (any
 * other). Returns 0 or -errno. */
int profile_output_write_graph(const struct profile_folded *folded, enum output_format format,
			       FILE *fp, const struct profile_output_options *opts,
			       const struct profile_output_meta *meta);

/* Writes every output (format by cli_output, "-" = stdout) through temporary files renamed into
 * place. All outputs are attempted; returns 0 or the first -errno, with a one-line reason logged
 * for each failure. */
int profile_output_write(const struct profile_folded *folded, const struct cli_output *outputs,
			 size_t n_outputs, const struct profile_output_options *opts,
			 const struct profile_output_meta *meta);

#endif
