/* folded_internal.h: the call-tree representation behind struct folded_profile, shared by the
 * folded parser/writer, the SVG renderer and the differential renderer inside flamegraph/. Not a
 * public interface: producers use folded.h. */
#ifndef SMOLDER_FOLDED_INTERNAL_H
#define SMOLDER_FOLDED_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "folded.h"

#define FOLDED_NO_NODE	     UINT32_MAX
#define FOLDED_UNKNOWN_FRAME "[unknown]"

/* Byte hash of a frame name. */
static inline uint32_t folded_hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ (len * 0xff51afd7ed558ccdull);
	uint64_t w;

	while (len >= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
		s += 8;
		len -= 8;
	}
	w = 0;
	memcpy(&w, s, len);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	h *= 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32);
}

/* Slot hash of a node: a chain over the name hashes of its path from the root. It depends only
 * on the bytes of the stack, not on node ids, so every slot of a line can be computed and
 * prefetched before any lookup resolves (parsing a shuffled input is bound by cache misses). */
#define FOLDED_ROOT_PATH_HASH 0x2545f491u

static inline uint32_t folded_hash_chain(uint32_t parent_hash, uint32_t name_hash)
{
	uint64_t k = ((uint64_t)parent_hash << 32 | name_hash) * 0x9e3779b97f4a7c15ull;

	k ^= k >> 31;
	k *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(k >> 32);
}

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
	uint32_t hash;			      /* path hash of the node (folded_hash_chain) */
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

/* Child of PARENT (whose path hash is PARENT_HASH) named by the bytes S, created if new; NAME_HASH
 * is folded_hash_bytes(S), the child's path hash goes to *CHILD_HASH. Returns the node id or a
 * negative errno. The index must exist (folded_profile_rebuild_index after compact). */
int64_t folded_profile_descend(struct folded_profile *p, uint32_t parent, uint32_t parent_hash,
			       const char *s, size_t len, uint32_t name_hash, uint32_t *child_hash);
/* Adds COUNT to LEAF's own count; totals are recomputed lazily. */
void folded_profile_commit(struct folded_profile *p, uint32_t leaf, double count);
/* Recreates the merge index dropped by folded_profile_compact. Returns 0 or -ENOMEM. */
int folded_profile_rebuild_index(struct folded_profile *p);

/* Formats a count into BUF (at least 32 bytes): integral values without decimals, others with up
 * to 15 significant digits. Returns the length written. */
size_t folded_format_count(double v, char *buf, size_t size);

#endif
