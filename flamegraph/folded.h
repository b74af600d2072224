/* folded.h: a profile of folded stacks ("root;caller;leaf COUNT"), stored as a call tree with
 * interned frame names. Identical stacks merge, input order does not matter, and the profile is
 * written back in a deterministic order. Used by the flame graph renderer and by every producer
 * of stacks (CPU profiler, leak detector). No dependency on the rest of smolder. */
#ifndef SMOLDER_FOLDED_H
#define SMOLDER_FOLDED_H

#include <stddef.h>
#include <stdio.h>

struct folded_profile;

/* What folded_profile_parse saw. Invalid lines are skipped and counted, never fatal. */
struct folded_parse_stats {
	size_t lines;		   /* lines read, blank ones included */
	size_t blank;		   /* empty or whitespace-only lines (ignored, not invalid) */
	size_t valid;		   /* lines added to the profile */
	size_t invalid;		   /* lines without a valid trailing count, or without a stack */
	size_t first_invalid_line; /* 1-based line number of the first invalid line, 0 if none */
	size_t too_long;	   /* of the invalid: longer than FOLDED_MAX_LINE, skipped unread */
	size_t nul_line;	   /* with -EILSEQ: the over-long line holding NUL bytes */
};

/* The longest line folded_profile_parse reads (4 MiB: thousands of frames of long C++ names); a
 * longer one is skipped without being held in memory, so memory stays bounded on any input. */
#define FOLDED_MAX_LINE (4u << 20)

/* Creates an empty profile. Returns NULL with errno set on allocation failure; free with
 * folded_profile_free. */
struct folded_profile *folded_profile_new(void);
/* Frees the profile and every string it owns. NULL is a no-op. */
void folded_profile_free(struct folded_profile *p);

/* Adds COUNT to the stack FRAMES[0..n) (root first). Frames are copied; ';', '\n' and '\r' in a
 * name are replaced so they cannot break the folded format, and an empty name becomes
 * "[unknown]". A zero count is accepted and adds nothing. Returns 0, -EINVAL (n == 0, NULL frame,
 * negative or non-finite count) or -ENOMEM. */
int folded_profile_add(struct folded_profile *p, const char *const *frames, size_t n, double count);

/* Reads folded lines from IN and adds them. Counts may be integers or decimals (an exponent is
 * accepted); CRLF endings and trailing whitespace are handled. Lines that do not parse or are
 * longer than FOLDED_MAX_LINE (skipped without being held) are counted in ST (may be NULL). Returns
 * 0, -EIO on a read error, -ENOMEM, or -EILSEQ for an over-long line holding NUL bytes (binary data
 * or a device: /dev/zero ends at once instead of being read forever; ST->nul_line says where). */
int folded_profile_parse(struct folded_profile *p, FILE *in, struct folded_parse_stats *st);

/* Writes one "root;caller;leaf COUNT" line per stack with a non-zero count, stacks in a
 * deterministic order (siblings sorted by name), integral counts without decimals.
 * Returns 0 or -EIO. */
int folded_profile_write(const struct folded_profile *p, FILE *out);

/* Frees the index that merges identical stacks (about 40% of a large profile's memory) once
 * all stacks are in; a later add or parse rebuilds it. Rendering and writing do not need it. */
void folded_profile_compact(struct folded_profile *p);

/* Sum of all counts. */
double folded_profile_total(const struct folded_profile *p);
/* Number of distinct stacks with a non-zero count. */
size_t folded_profile_stack_count(const struct folded_profile *p);

#endif
