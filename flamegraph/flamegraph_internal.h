/* flamegraph_internal.h: the render core shared by the plain and the differential flame graph
 * (flamegraph.c renders, flamegraph_diff.c supplies per-frame "before" values). Not public. */
#ifndef SMOLDER_FLAMEGRAPH_INTERNAL_H
#define SMOLDER_FLAMEGRAPH_INTERNAL_H

#include "flamegraph.h"
#include "folded_internal.h"

/* Differential colouring of a rendered profile (AFTER). */
struct render_overlay {
	const double *before; /* per node of AFTER: BEFORE's total for the same call path */
	double before_total;  /* BEFORE's grand total */
	bool normalize;	      /* compare shares instead of counts */
	double max_change;    /* largest |change| over non-root frames, in the compared unit */
};

/* Change of one frame in the overlay's unit: share points with normalize, else counts. */
double render_overlay_change(const struct render_overlay *ov, double after, double after_total,
			     double before);

/* Renders p (totals must be current) with children c; ov NULL for a plain flame graph. */
int flamegraph_render_tree(const struct folded_profile *p, const struct folded_children *c,
			   const struct flamegraph_options *o, const struct render_overlay *ov,
			   FILE *out);

/* Sanitises bytes for XML text and the diff summary: invalid UTF-8, characters XML 1.0 forbids,
 * DEL, C1 controls and bidi overrides become U+FFFD, tab/CR/LF become spaces. OUT needs 3 * len
 * bytes. Returns the output length; the number of code points goes to *codepoints if not NULL. */
size_t flamegraph_sanitize_utf8(const char *in, size_t len, char *out, size_t *codepoints);

#endif
