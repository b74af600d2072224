/* pprof_table.c: the interning and lookup tables shared by the pprof writer and reader. */
#include "pprof_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int pprof_grow(void **array, size_t *cap, size_t need, size_t elem)
{
	size_t n;
	void *p;

	if (need <= *cap)
		return 0;
	n = *cap ? *cap * 2 : 16;
	while (n < need)
		n *= 2;
	p = realloc(*array, n * elem);
	if (!p)
		return -ENOMEM;
	*array = p;
	*cap = n;
	return 0;
}

static uint64_t hash_string(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

void pprof_intern_release(struct pprof_intern *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys ? m->keys[i] : NULL);
	free(m->keys);
	free(m->values);
	memset(m, 0, sizeof(*m));
}

static int intern_rehash(struct pprof_intern *m)
{
	size_t cap = m->cap ? m->cap * 2 : 256, s;
	char **keys = calloc(cap, sizeof(*keys));
	uint64_t *values = calloc(cap, sizeof(*values));

	if (!keys || !values) {
		free(keys);
		free(values);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		s = hash_string(m->keys[i]) & (cap - 1);
		while (keys[s])
			s = (s + 1) & (cap - 1);
		keys[s] = m->keys[i];
		values[s] = m->values[i];
	}
	free(m->keys);
	free(m->values);
	m->keys = keys;
	m->values = values;
	m->cap = cap;
	return 0;
}

uint64_t pprof_intern_get(struct pprof_intern *m, const char *key, uint64_t value, bool *failed)
{
	size_t s;

	if ((m->n + 1) * 2 > m->cap && intern_rehash(m)) {
		*failed = true;
		return 0;
	}
	s = hash_string(key) & (m->cap - 1);
	while (m->keys[s]) {
		if (!strcmp(m->keys[s], key))
			return m->values[s];
		s = (s + 1) & (m->cap - 1);
	}
	if (!value)
		return 0;
	m->keys[s] = strdup(key);
	if (!m->keys[s]) {
		*failed = true;
		return 0;
	}
	m->values[s] = value;
	m->n++;
	return value;
}

static int id_index_cmp(const void *a, const void *b)
{
	const struct pprof_id_index *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

struct pprof_id_index *pprof_id_table(size_t n, uint64_t (*get)(const void *ctx, size_t i),
				      const void *ctx)
{
	struct pprof_id_index *v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++)
		v[i] = (struct pprof_id_index){.id = get(ctx, i), .index = i};
	if (n > 1)
		qsort(v, n, sizeof(*v), id_index_cmp);
	return v;
}

const struct pprof_id_index *pprof_id_find(const struct pprof_id_index *table, size_t n,
					   uint64_t id)
{
	struct pprof_id_index key = {.id = id};

	return n ? bsearch(&key, table, n, sizeof(*table), id_index_cmp) : NULL;
}

const char *pprof_string_at(char *const *strings, size_t n, int64_t i)
{
	return i >= 0 && (size_t)i < n ? strings[i] : NULL;
}
