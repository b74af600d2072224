/* perf_map.c: owns a parsed perf map file (JIT symbols) and its address lookup. */
#include "smolder/perf_map.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct perf_map_entry {
	uint64_t start, end;
	char *name;
	size_t line; /* order in the file: later entries replace earlier ones */
};

struct perf_map {
	struct perf_map_entry *entries; /* sorted by start, then line */
	size_t n;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct perf_map_entry *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->line > y->line) - (x->line < y->line);
}

struct perf_map *perf_map_load(const char *path)
{
	struct perf_map *pm;
	char *line = NULL;
	size_t line_cap = 0, cap = 0, lineno = 0;
	int err = 0;
	FILE *f;

	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return NULL;
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		goto err_free;
	}
	while (getline(&line, &line_cap, f) > 0) {
		uint64_t start, size;
		int name_at = 0;
		char *name;

		lineno++;
		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %n", &start, &size, &name_at) != 2 ||
		    !name_at || !size)
			continue;
		name = line + name_at;
		name[strcspn(name, "\n")] = '\0';
		if (!*name)
			continue;
		if (pm->n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct perf_map_entry *e = realloc(pm->entries, ncap * sizeof(*e));

			if (!e) {
				err = -ENOMEM;
				break;
			}
			pm->entries = e;
			cap = ncap;
		}
		pm->entries[pm->n].name = strdup(name);
		if (!pm->entries[pm->n].name) {
			err = -ENOMEM;
			break;
		}
		pm->entries[pm->n].start = start;
		pm->entries[pm->n].end = start + size;
		pm->entries[pm->n].line = lineno;
		pm->n++;
	}
	free(line);
	fclose(f);
	if (err)
		goto err_free;
	if (pm->n > 1) /* qsort(NULL, 0) is undefined */
		qsort(pm->entries, pm->n, sizeof(*pm->entries), entry_cmp);
	return pm;

err_free:
	perf_map_free(pm);
	errno = -err;
	return NULL;
}

void perf_map_free(struct perf_map *pm)
{
	size_t i;

	if (!pm)
		return;
	for (i = 0; i < pm->n; i++)
		free(pm->entries[i].name);
	free(pm->entries);
	free(pm);
}

const char *perf_map_find(const struct perf_map *pm, uint64_t addr)
{
	size_t lo = 0, hi, i;

	if (!pm)
		return NULL;
	hi = pm->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pm->entries[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Entries may overlap (regions reused): look back over a few starting below addr. */
	for (i = lo; i > 0 && lo - i < 8; i--) {
		if (addr < pm->entries[i - 1].end)
			return pm->entries[i - 1].name;
	}
	return NULL;
}
