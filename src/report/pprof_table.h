/* pprof_table.h: the tables the pprof writer (pprof.c) and reader (pprof_read.c) share: growing
 * arrays, the writer's string -> id interning (strings, functions, mappings, locations) and the
 * reader's id -> index lookup with bounds-checked string table access. Internal to src/report/. */
#ifndef SMOLDER_REPORT_PPROF_TABLE_H
#define SMOLDER_REPORT_PPROF_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Grows *array (elements of elem bytes) to hold need elements, doubling. 0 or -ENOMEM. */
int pprof_grow(void **array, size_t *cap, size_t need, size_t elem);

/* string -> id (ids >= 1); open addressing over a growing table. Zeroed is empty. */
struct pprof_intern {
	char **keys;
	uint64_t *values;
	size_t n, cap;
};

/* Finds key; when absent and value != 0, inserts a copy of key with value. Returns the value, 0
 * when absent (or on allocation failure while inserting: *failed set). */
uint64_t pprof_intern_get(struct pprof_intern *m, const char *key, uint64_t value, bool *failed);
/* Frees the keys and the table (not m). */
void pprof_intern_release(struct pprof_intern *m);

/* A message's id and its index in the profile's array, sorted by id for pprof_id_find. */
struct pprof_id_index {
	uint64_t id;
	size_t index;
};

/* The n ids get(ctx, i) sorted; NULL on allocation failure. Free with free(). */
struct pprof_id_index *pprof_id_table(size_t n, uint64_t (*get)(const void *ctx, size_t i),
				      const void *ctx);
/* The entry of id in a table of n, or NULL (ids in a file may name nothing). */
const struct pprof_id_index *pprof_id_find(const struct pprof_id_index *table, size_t n,
					   uint64_t id);

/* strings[i], or NULL when i is out of [0, n) (indexes in a file may point anywhere). */
const char *pprof_string_at(char *const *strings, size_t n, int64_t i);

#endif
