/* profile_findings.h (report/, internal): what the profile JSON writer shares with its findings:
 * the per-function share table of folded stacks, the frame that names a memory site, and the
 * findings themselves (profile_findings.c). */
#ifndef SMOLDER_PROFILE_FINDINGS_H
#define SMOLDER_PROFILE_FINDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "smolder/u64_map.h"

struct json_writer;
struct leak_report;
struct leak_site;
struct profile_figures;
struct profile_folded;
struct timeline;

struct func_share {
	char *name;
	uint64_t self, total, last_line;
};

struct func_table {
	struct func_share *items;
	size_t n, cap;
	struct u64_map index; /* name hash -> index (collisions fall back to a scan) */
};

/* The entry of name[0..len), added with zero weights if new. NULL on allocation failure. */
struct func_share *func_get(struct func_table *t, const char *name, size_t len);
/* Self and total weight per function over folded's lines (total once per stack holding it, self
 * as the leaf), sorted by total; *sum gets the total weight. 0 or -ENOMEM. */
int func_table_fill(struct func_table *t, const struct profile_folded *folded, uint64_t *sum);
/* Frees the table's entries (not the struct). */
void func_table_release(struct func_table *t);

/* Index of the frame that names a memory site: the deepest Python frame, else the deepest frame
 * of the program's own objects (not the allocator, not a system library), else the first caller
 * outside the allocator. */
size_t profile_site_function(const struct leak_report *r, const struct leak_site *site);

/* Writes "findings": the hottest function the program is responsible for, smolder's own probe
 * cost, leaking sites, RSS growth and the off-CPU finding, ranked by "impact" (0..1). ft and sum
 * are the on-CPU function table and total weight of folded. */
void profile_findings_write(struct json_writer *w, const struct func_table *ft, uint64_t sum,
			    const struct timeline *tl, const struct profile_figures *fig,
			    double duration, const struct profile_folded *folded);

#endif
