/* stack_table.c: stack interning. Frames live in one growing arena; an open-addressing hash table
 * (linear probing, power-of-two size, kept under 70% full) maps a stack's hash to its id. */
#include "smolder/stack_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct stack_entry {
	uint64_t hash;
	uint64_t offset; /* into frames arena */
	uint32_t n;
	uint32_t pad;
};

struct stack_table {
	struct stack_entry *entries; /* by id */
	uint32_t count, entries_cap;
	uint32_t *slots; /* id + 1; 0 = empty */
	uint32_t slots_cap;
	uint64_t *frames;
	uint64_t frames_len, frames_cap;
};

static uint64_t stack_hash(const uint64_t *frames, uint32_t n)
{
	/* FNV-1a over 64-bit words with a final avalanche: cheap and well spread for addresses. */
	uint64_t h = 0xcbf29ce484222325ULL ^ n;

	for (uint32_t i = 0; i < n; i++) {
		h ^= frames[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

struct stack_table *stack_table_new(void)
{
	struct stack_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->slots_cap = 1024;
	t->slots = calloc(t->slots_cap, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

void stack_table_free(struct stack_table *t)
{
	if (!t)
		return;
	free(t->entries);
	free(t->slots);
	free(t->frames);
	free(t);
}

static int stack_table_grow_slots(struct stack_table *t)
{
	uint32_t cap = t->slots_cap * 2;
	uint32_t *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (uint32_t id = 0; id < t->count; id++) {
		uint32_t i = (uint32_t)t->entries[id].hash & (cap - 1);

		while (slots[i])
			i = (i + 1) & (cap - 1);
		slots[i] = id + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->slots_cap = cap;
	return 0;
}

int stack_table_add(struct stack_table *t, const uint64_t *frames, uint32_t n, uint32_t *id)
{
	uint64_t h = stack_hash(frames, n);
	struct stack_entry *e;
	uint32_t i;

	/* Grow before probing so the table always has free slots and probing terminates. */
	if ((uint64_t)(t->count + 1) * 10 > (uint64_t)t->slots_cap * 7 && stack_table_grow_slots(t))
		return -ENOMEM;
	i = (uint32_t)h & (t->slots_cap - 1);

	while (t->slots[i]) {
		e = &t->entries[t->slots[i] - 1];
		if (e->hash == h && e->n == n &&
		    (n == 0 || memcmp(t->frames + e->offset, frames, n * sizeof(*frames)) == 0)) {
			*id = t->slots[i] - 1;
			return 0;
		}
		i = (i + 1) & (t->slots_cap - 1);
	}
	if (t->count == UINT32_MAX - 1)
		return -ENOSPC;
	if (t->count == t->entries_cap) {
		uint32_t cap = t->entries_cap ? t->entries_cap * 2 : 256;
		struct stack_entry *ne = realloc(t->entries, (size_t)cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		t->entries = ne;
		t->entries_cap = cap;
	}
	if (t->frames_len + n > t->frames_cap) {
		uint64_t cap = t->frames_cap ? t->frames_cap * 2 : 4096;
		uint64_t *nf;

		while (cap < t->frames_len + n)
			cap *= 2;
		nf = realloc(t->frames, cap * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		t->frames = nf;
		t->frames_cap = cap;
	}
	if (n)
		memcpy(t->frames + t->frames_len, frames, n * sizeof(*frames));
	e = &t->entries[t->count];
	e->hash = h;
	e->offset = t->frames_len;
	e->n = n;
	t->frames_len += n;
	t->slots[i] = t->count + 1;
	*id = t->count++;
	return 0;
}

const uint64_t *stack_table_get(const struct stack_table *t, uint32_t id, uint32_t *n)
{
	if (!t || id >= t->count)
		return NULL;
	*n = t->entries[id].n;
	return t->frames + t->entries[id].offset;
}

uint32_t stack_table_count(const struct stack_table *t)
{
	return t ? t->count : 0;
}

size_t stack_table_memory(const struct stack_table *t)
{
	if (!t)
		return 0;
	return sizeof(*t) + (size_t)t->entries_cap * sizeof(*t->entries) +
	       (size_t)t->slots_cap * sizeof(*t->slots) + t->frames_cap * sizeof(*t->frames);
}
