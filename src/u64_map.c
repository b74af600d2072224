/* u64_map.c: linear-probing hash map with 64-bit keys and values (no deletion: the maps that use it
 * only grow during a run). */
#include "smolder/u64_map.h"

#include <errno.h>
#include <stdlib.h>

static size_t u64_map_slot(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

static int u64_map_grow(struct u64_map *map)
{
	struct u64_map bigger = {0};
	size_t cap = map->cap ? map->cap * 2 : 64;

	bigger.keys = malloc(cap * sizeof(uint64_t));
	bigger.values = malloc(cap * sizeof(uint64_t));
	bigger.used = calloc(cap, 1);
	if (!bigger.keys || !bigger.values || !bigger.used) {
		u64_map_release(&bigger);
		return -ENOMEM;
	}
	bigger.cap = cap;
	for (size_t i = 0; i < map->cap; i++) {
		if (map->used[i])
			u64_map_put(&bigger, map->keys[i], map->values[i]);
	}
	u64_map_release(map);
	*map = bigger;
	return 0;
}

void u64_map_release(struct u64_map *map)
{
	if (!map)
		return;
	free(map->keys);
	free(map->values);
	free(map->used);
	map->keys = map->values = NULL;
	map->used = NULL;
	map->cap = map->count = 0;
}

int u64_map_put(struct u64_map *map, uint64_t key, uint64_t value)
{
	size_t i;

	if ((map->count + 1) * 4 > map->cap * 3) {
		int err = u64_map_grow(map);

		if (err)
			return err;
	}
	for (i = u64_map_slot(key, map->cap);; i = (i + 1) & (map->cap - 1)) {
		if (!map->used[i]) {
			map->used[i] = 1;
			map->keys[i] = key;
			map->values[i] = value;
			map->count++;
			return 0;
		}
		if (map->keys[i] == key) {
			map->values[i] = value;
			return 0;
		}
	}
}

bool u64_map_get(const struct u64_map *map, uint64_t key, uint64_t *value)
{
	if (!map->cap)
		return false;
	for (size_t i = u64_map_slot(key, map->cap);; i = (i + 1) & (map->cap - 1)) {
		if (!map->used[i])
			return false;
		if (map->keys[i] == key) {
			*value = map->values[i];
			return true;
		}
	}
}

size_t u64_map_memory(const struct u64_map *map)
{
	return map->cap * (2 * sizeof(uint64_t) + 1);
}
