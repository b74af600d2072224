/* flamegraph.h: interactive SVG flame graphs from folded profiles (tooltips, click-zoom, regex
 * search, palettes, icicle layout), and differential flame graphs with a per-function summary
 * for regression gates. Every input string is sanitised (invalid UTF-8 replaced) and escaped, so
 * the SVG is well-formed XML for any input bytes; no input ever reaches the embedded script. */
#ifndef SMOLDER_FLAMEGRAPH_H
#define SMOLDER_FLAMEGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "folded.h"

enum flamegraph_palette {
	FLAMEGRAPH_PALETTE_HOT = 0, /* CPU: reds and yellows */
	FLAMEGRAPH_PALETTE_MEM,	    /* memory: greens */
	FLAMEGRAPH_PALETTE_IO,	    /* I/O, off-CPU: blues */
};

struct flamegraph_options {
	const char *title; /* NULL: "Flame Graph", "Icicle Graph" or "Differential Flame Graph" */
	const char *subtitle;  /* NULL: none */
	const char *countname; /* unit of counts, default "samples"; "bytes" shows KiB/MiB/GiB */
	enum flamegraph_palette palette;
	bool inverted;	  /* icicle: root at the top */
	int width;	  /* image width in px, default 1200 */
	double minwidth;  /* frames narrower than this (px) are not drawn; default 0.1 */
	int frame_height; /* px, default 16 */
	int font_size;	  /* px, default 12 */
	/* At most this many frames are drawn (0: no limit): minwidth is doubled until the graph
	 * fits, so a huge profile gives a bounded file. Culled frames keep their count in parents.
	 */
	size_t max_frames;
	/* NULL: a standalone SVG document with its script. Else an <svg> element for an HTML page
	 * holding several graphs: no XML declaration, no script (the page includes
	 * flamegraph_script() once and calls smolderFlameGraph(svg) per graph), and element ids,
	 * style rules and URL parameters prefixed "EMBED_ID-" so graphs do not collide. Must match
	 * [A-Za-z][A-Za-z0-9_]* (-EINVAL otherwise). */
	const char *embed_id;
};

/* Fills o with the defaults above. */
void flamegraph_options_init(struct flamegraph_options *o);
/* Parses "hot", "mem" or "io". Returns 0 or -EINVAL. */
int flamegraph_palette_parse(const char *name, enum flamegraph_palette *palette);

/* Writes an SVG flame graph of p to out. Frames with the suffix _[k] (kernel) or _[i] (inlined)
 * get their own colours and lose the suffix in labels. Output is deterministic. Returns 0,
 * -EINVAL (empty profile, bad options), -ENOMEM or -EIO. */
int flamegraph_render(const struct folded_profile *p, const struct flamegraph_options *o,
		      FILE *out);

/* The flame graphs' script (flamegraph.js) for a page embedding graphs (embed_id): defines
 * smolderFlameGraph(svgElement). Static storage, NOT NUL-terminated: *len gets its length. */
const char *flamegraph_script(size_t *len);

/* Differential flame graphs. Frame widths come from AFTER; a frame is red where its total grew
 * and blue where it shrank, more saturated the larger the change. With normalize, BEFORE is
 * scaled to AFTER's total first, so shares are compared rather than raw counts. */
struct flamegraph_diff;

/* One function (frame name, suffix kept) across both profiles. Shares are percentages of each
 * profile's total; a recursive function's total counts each stack once. */
struct flamegraph_diff_function {
	const char *name;		  /* NUL-terminated, owned by the diff */
	double before_total, after_total; /* % of all samples under this function */
	double before_self, after_self;	  /* % of all samples in this function itself */
};

/* Compares two profiles (both borrowed; they must outlive the diff). Returns NULL with errno set
 * (EINVAL when either profile is empty, ENOMEM). Free with flamegraph_diff_free. */
struct flamegraph_diff *flamegraph_diff_new(const struct folded_profile *before,
					    const struct folded_profile *after, bool normalize);
/* NULL is a no-op. */
void flamegraph_diff_free(struct flamegraph_diff *d);

/* Writes the differential SVG (see above). Returns 0, -ENOMEM or -EIO. */
int flamegraph_diff_render(const struct flamegraph_diff *d, const struct flamegraph_options *o,
			   FILE *out);

/* Functions of both profiles, sorted by the absolute change of their total share (largest first,
 * ties by name). The array is owned by the diff. */
const struct flamegraph_diff_function *flamegraph_diff_functions(const struct flamegraph_diff *d,
								 size_t *count);

/* Largest growth of a function's total share, in percentage points (<= 0 when nothing grew);
 * the function goes to *name if name is not NULL. The --fail-on gate compares against this. */
double flamegraph_diff_max_growth(const struct flamegraph_diff *d, const char **name);

/* Stacks present only in BEFORE (they cannot be drawn with AFTER's widths): how many, and their
 * share of BEFORE in percent. */
size_t flamegraph_diff_removed_stacks(const struct flamegraph_diff *d, double *before_share);

/* Prints the summary table: the max_rows functions whose total or self share changed most, then
 * functions and stacks that exist only in BEFORE. Returns 0 or -EIO. */
int flamegraph_diff_write_summary(const struct flamegraph_diff *d, size_t max_rows, FILE *out);

/* True for a Python frame as smolder names it, "qualname (file.py:LINE)" or "qualname (file.py)":
 * drawn in its own colour, and marked in smolder's JSON. */
bool flamegraph_frame_is_python(const char *name, size_t len);

#endif
