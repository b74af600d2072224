/* folded_internal.h: the call-tree representation behind struct folded_profile, shared by the
 * folded parser/writer, the SVG renderer and the differential renderer inside flamegraph/. Not a
 * public interface: producers use folded.h. */
#ifndef SMOLDER_FOLDED_INTERNAL_H
#define SMOLDER_FOLDED_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "folded.h"

#define FOLDED_NO_NODE UINT32_MAX

/* Interned byte strings: id -> bytes, bytes -> id. Names are not NUL-terminated in the arena. */
struct name_table {
	char *arena;
	size_t arena_len, arena_cap;
	struct name_entry {
		uint64_t offset;
		uint32_t len;
		uint32_t hash;
	} * entries;
	uint32_t count, entries_cap;
	uint32_t *slots; /* open addressing: id + 1, 0 = empty */
	uint32_t slots_mask;
};

/* One frame in the call tree. Node 0 is the root (no name); a child's id is always greater than
 * its parent's, so descending id order visits children before parents. */
struct folded_node {
	uint32_t name;	 /* id in names */
	uint32_t parent; /* FOLDED_NO_NODE for the root */
	double self;	 /* count of stacks ending here */
};

/* (parent, name) -> node index entry. The key lives in the slot so a lookup touches one cache
 * line, not the slot and then the node: parsing a shuffled 60 MB input is bound by cache misses. */
struct folded_slot {
	uint32_t parent, name, node_plus_one; /* node_plus_one 0 = empty */
	uint32_t hash;			      /* path hash of the node (see folded.c) */
};

struct folded_profile {
	struct name_table names;
	struct folded_node *nodes;
	uint32_t node_count, node_cap;
	struct folded_slot *slots;
	uint32_t slots_mask;
	size_t stacks;	   /* nodes with self > 0 */
	double total;	   /* sum of all counts */
	double *totals;	   /* per node: self + descendants' counts, see folded_profile_totals */
	uint32_t totals_n; /* nodes covered by totals */
	bool totals_stale; /* counts changed since totals were computed */
};

/* Children of every node, siblings sorted by name: children of n are
 * child[start[n] .. start[n + 1]). Built on demand by renderers and the writer. */
struct folded_children {
	uint32_t *start;
	uint32_t *child;
	uint32_t n; /* nodes covered */
};

/* Large arrays (nodes, slots, child lists) come straight from mmap: growing by mremap moves
 * pages instead of copying them, and freeing returns them to the kernel at once. A malloc that
 * keeps freed pages for reuse (jemalloc's decay, which smolder links) would otherwise hold every
 * outgrown copy in RSS. Memory is zeroed. Under AddressSanitizer they fall back to malloc so the
 * fuzzer sees overflows. */
void *big_alloc(size_t size);
void *big_realloc(void *p, size_t old_size, size_t new_size);
void big_free(void *p, size_t size);

void name_table_init(struct name_table *t);
void name_table_release(struct name_table *t);
/* Returns the id of the string, adding it if new; -ENOMEM as a negative int64. */
int64_t name_table_intern(struct name_table *t, const char *s, size_t len);
/* Returns the id or -1 when absent. */
int64_t name_table_find(const struct name_table *t, const char *s, size_t len);
static inline const char *name_table_get(const struct name_table *t, uint32_t id, size_t *len)
{
	*len = t->entries[id].len;
	return t->arena + t->entries[id].offset;
}
/* Rank of every name in bytewise order (array of t->count, caller frees). NULL on ENOMEM. */
uint32_t *name_table_ranks(const struct name_table *t);

/* Brings p->totals (every node's self plus its descendants') up to date. Adding is kept cheap
 * by deferring totals to here; the profile is logically const (totals are a cache), so this is not
 * safe to call concurrently on the same profile. Returns 0 or -ENOMEM. */
int folded_profile_totals(const struct folded_profile *p);

/* Builds sorted child lists for p. Returns 0 or -ENOMEM. */
int folded_children_build(const struct folded_profile *p, struct folded_children *c);
void folded_children_release(struct folded_children *c);

/* Formats a count into BUF (at least 32 bytes): integral values without decimals, others with up
 * to 15 significant digits. Returns the length written. */
size_t folded_format_count(double v, char *buf, size_t size);

#endif
