/* mixed_stack.c: Python frames read in BPF, named and spliced into native stacks (see
 * include/smolder/mixed_stack.h). The per-version facts live in src/runtime/python.c; this file
 * only knows the walk's record format. */
#include "smolder/mixed_stack.h"

#include <errno.h>
#include <string.h>

#include "smolder/frame.h"
#include "smolder/frame_names.h"
#include "smolder/python.h"

/* Frames of the longest spliced stack handled; longer Python chains are already cut in BPF. */
#define MIXED_STACK_MAX_PY (SMOLDER_PYTHON_MAX_FRAMES + 1)

static void window_add(uint32_t off, uint32_t size, uint32_t *lo, uint32_t *hi)
{
	if (off == SMOLDER_PY_NO_OFFSET)
		return;
	if (off < *lo)
		*lo = off;
	if (off + size > *hi)
		*hi = off + size;
}

int mixed_stack_walk_window(struct smolder_python_config *cfg)
{
	uint32_t lo = UINT32_MAX, hi = 0;

	window_add(cfg->frame_previous, 8, &lo, &hi);
	window_add(cfg->frame_code, 8, &lo, &hi);
	/* The walk loads 8 bytes for the instruction even where it is a 4-byte f_lasti. */
	window_add(cfg->frame_instr, 8, &lo, &hi);
	window_add(cfg->frame_is_entry, 1, &lo, &hi);
	window_add(cfg->frame_owner, 1, &lo, &hi);
	if (cfg->version == 0)
		return 0;
	if (lo == UINT32_MAX || hi - lo > SMOLDER_PYTHON_FRAME_READ)
		return -EINVAL;
	cfg->frame_read_offset = lo;
	cfg->frame_read_size = hi - lo;
	if (cfg->max_frames == 0 || cfg->max_frames > SMOLDER_PYTHON_MAX_FRAMES)
		cfg->max_frames = SMOLDER_PYTHON_MAX_FRAMES;
	return 0;
}

static uint64_t marker(struct frame_names *names, const char *text)
{
	uint64_t frame = 0;

	if (frame_names_intern(names, FRAME_KIND_MARKER, text, NULL, 0, &frame) != 0)
		return 0;
	return frame;
}

/* True when every user frame after the leaf up to the first eval frame is the interpreter's. */
static bool mixed_stack_interpreter_call(const struct python_runtime *rt, const uint64_t *native,
					 size_t n_native)
{
	for (size_t i = 1; i < n_native; i++) {
		uint64_t addr = frame_user_address(native[i]);

		if (!frame_is_user(native[i]))
			continue;
		if (python_runtime_is_eval_frame(rt, addr))
			return i > 1;
		if (!python_runtime_is_internal(rt, addr))
			return false;
	}
	return false;
}

size_t mixed_stack_splice(struct python_runtime *rt, struct frame_names *names,
			  const struct smolder_python_frame *py, uint32_t n_py, uint32_t walk_flags,
			  const uint64_t *native, size_t n_native, unsigned options, uint64_t *out,
			  size_t cap, struct mixed_stack_stats *stats)
{
	uint64_t frames[MIXED_STACK_MAX_PY];
	uint32_t flags[MIXED_STACK_MAX_PY];
	size_t n = 0;

	if (walk_flags & SMOLDER_PYWALK_NO_TSTATE)
		stats->no_tstate++;
	if (walk_flags & SMOLDER_PYWALK_DONE)
		stats->stacks++;
	for (uint32_t i = 0; i < n_py && n < SMOLDER_PYTHON_MAX_FRAMES; i++) {
		uint64_t frame = 0;

		if (python_runtime_frame(rt, py[i].code, py[i].instr, &frame) == 0) {
			struct named_frame nf;

			stats->frames++;
			if ((options & MIXED_STACK_BY_FUNCTION) &&
			    frame_names_get(names, frame, &nf) == 0 &&
			    frame_names_intern(names, nf.kind, nf.function, nf.file, 0, &frame) !=
				    0)
				frame = 0;
		} else {
			/* Keep the place: a missing frame would make the caller look like the
			 * callee. Counted, never named wrongly. */
			stats->frames_unnamed++;
			frame = marker(names, "[python unknown]");
		}
		if (frame == 0)
			continue;
		frames[n] = frame;
		flags[n++] = py[i].flags;
	}
	if (walk_flags & (SMOLDER_PYWALK_TRUNCATED | SMOLDER_PYWALK_READ_FAILED)) {
		uint64_t m;

		if (walk_flags & SMOLDER_PYWALK_TRUNCATED)
			stats->truncated++;
		else
			stats->unreadable++;
		/* The chain's outer part is missing: say so where it would have been. */
		m = marker(names, walk_flags & SMOLDER_PYWALK_TRUNCATED ? "[python truncated]"
									: "[python unreadable]");
		if (m) {
			frames[n] = m;
			flags[n++] = SMOLDER_PY_FRAME_ENTRY;
		}
	}
	if ((options & MIXED_STACK_MMAP_SITE) && n > 0 && cap > 1 &&
	    mixed_stack_interpreter_call(rt, native, n_native)) {
		uint64_t m = marker(names, "[pymalloc arena]");

		if (m) {
			size_t k;

			stats->arena_sites++;
			/* The mmap call stays the leaf; the marker sits right above it. */
			out[0] = native[0];
			out[1] = m;
			k = python_runtime_merge(rt, native + 1, n_native - 1, frames, flags, n,
						 (options & MIXED_STACK_KEEP_NATIVE) != 0, out + 2,
						 cap - 2);
			return k + 2;
		}
	}
	return python_runtime_merge(rt, native, n_native, frames, flags, n,
				    (options & MIXED_STACK_KEEP_NATIVE) != 0, out, cap);
}
