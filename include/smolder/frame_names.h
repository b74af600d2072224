/* frame_names.h: the registry behind named frames (frame.h): frames that are not machine
 * addresses (Python and JavaScript functions, markers, process roots) are interned here once as
 * (kind, function, file, line) and travel through stack tables as 64-bit frame values. Outputs
 * look them up instead of asking the symbolizer. */
#ifndef SMOLDER_FRAME_NAMES_H
#define SMOLDER_FRAME_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smolder/frame.h"

struct frame_names;

/* One named frame. Strings belong to the registry and live until frame_names_free. */
struct named_frame {
	uint32_t kind;	      /* enum frame_kind */
	uint32_t line;	      /* 0 when unknown */
	const char *function; /* never NULL */
	const char *file;     /* NULL when unknown */
};

/* A new empty registry; NULL and errno on failure. */
struct frame_names *frame_names_new(void);
/* NULL-safe. */
void frame_names_free(struct frame_names *names);

/* Interns (kind, function, file, line); the same tuple always gives the same frame value. file may
 * be NULL. *frame gets the named frame (frame.h encoding). Returns 0, -EINVAL (kind NATIVE or out
 * of range, function NULL) or -ENOMEM. */
int frame_names_intern(struct frame_names *names, uint32_t kind, const char *function,
		       const char *file, uint32_t line, uint64_t *frame);

/* Looks up a named frame. Returns 0, or -ENOENT when frame is not one of this registry's. */
int frame_names_get(const struct frame_names *names, uint64_t frame, struct named_frame *out);

/* Formats a named frame for folded stacks and text: "function (file:line)", "function (file)" or
 * "function"; sanitised by text_sanitize.h's folded convention. Returns the length
 * written (truncated to len-1), 0 for an unknown frame. */
size_t frame_names_format(const struct frame_names *names, uint64_t frame, char *buf, size_t len);

/* The marker a stack that did not reach its thread's root ends with, as its outermost frame: at a
 * frame limit, when the stack copy ran out, at a frame without unwind information. record, leaks,
 * dump and profile append it; outputs show it as the stack's root frame and flag the stack as
 * truncated (JSON), so a partial stack is never presented as a complete one. */
#define FRAME_MARKER_TRUNCATED "[truncated]"

/* The FRAME_MARKER_TRUNCATED marker of this registry (interned on first use) in *frame. 0 or
 * -ENOMEM. */
int frame_names_truncated(struct frame_names *names, uint64_t *frame);
/* True when frame is this registry's FRAME_MARKER_TRUNCATED marker. NULL-safe. */
bool frame_names_is_truncated(const struct frame_names *names, uint64_t frame);

/* Number of interned frames and bytes held, for accounting. */
size_t frame_names_count(const struct frame_names *names);
size_t frame_names_memory(const struct frame_names *names);

#endif
