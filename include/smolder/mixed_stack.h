/* mixed_stack.h: the glue between the BPF Python walk (bpf/python_walk.bpf.h) and the stacks that
 * record and leaks aggregate: the per-frame read window of the walk's config, and turning one
 * sample's raw Python frames into named frames spliced into its native stack (through
 * python_runtime_frame and python_runtime_merge), counting everything that could not be read. */
#ifndef SMOLDER_MIXED_STACK_H
#define SMOLDER_MIXED_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smolder/events.h"

struct python_runtime;
struct frame_names;

/* Counters for the summary and the JSON totals. */
struct mixed_stack_stats {
	uint64_t stacks;	 /* stacks with a Python chain read in BPF */
	uint64_t no_tstate;	 /* stacks of threads without a Python thread state */
	uint64_t truncated;	 /* chains cut at the frame limit (marked "[python truncated]") */
	uint64_t unreadable;	 /* chains cut by an unreadable frame (marked as well) */
	uint64_t frames;	 /* Python frames named */
	uint64_t frames_unnamed; /* code objects unreadable or stale ("[python unknown]") */
	uint64_t arena_sites;	 /* mmap stacks marked "[pymalloc arena]" */
	/* samples of a Python process taken before BPF had its config (its first ones, until
	 * smolder examined it): not walked, native frames kept. Counted by the caller. */
	uint64_t not_examined;
};

/* Sets cfg's frame_read_offset/frame_read_size (one read covering every frame field the walk
 * uses) and caps max_frames. Returns 0, or -EINVAL when the fields span more than
 * SMOLDER_PYTHON_FRAME_READ bytes. */
int mixed_stack_walk_window(struct smolder_python_config *cfg);

enum mixed_stack_options {
	MIXED_STACK_KEEP_NATIVE = 1, /* --native: keep the interpreter's own frames */
	MIXED_STACK_BY_FUNCTION = 2, /* --function: "qualname (file.py)", no line */
	/* The stack's leaf is an anonymous mmap call: when the interpreter itself made it (every
	 * native frame between the call and the eval loop is the interpreter's own), it is a
	 * pymalloc arena (or 3.11+ frame stack chunk) and a "[pymalloc arena]" frame says so. */
	MIXED_STACK_MMAP_SITE = 4,
};

/* Splices one stack's Python frames (as the walk wrote them, innermost first, walk_flags its
 * enum smolder_python_walk_flags) into native (frame values, leaf first). options: enum
 * mixed_stack_options. Writes at most cap frames to out and returns how many. names gets
 * the marker frames; stats (not NULL) counts. */
size_t mixed_stack_splice(struct python_runtime *rt, struct frame_names *names,
			  const struct smolder_python_frame *py, uint32_t n_py, uint32_t walk_flags,
			  const uint64_t *native, size_t n_native, unsigned options, uint64_t *out,
			  size_t cap, struct mixed_stack_stats *stats);

#endif
