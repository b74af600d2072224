/* u64_map.h: open-addressing hash map from 64-bit keys to 64-bit values, for the hot lookups of
 * allocation tracking (stack key -> stack id, address -> unwind rule index). */
#ifndef SMOLDER_U64_MAP_H
#define SMOLDER_U64_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct u64_map {
	uint64_t *keys;
	uint64_t *values;
	uint8_t *used;
	size_t cap; /* power of two, 0 when empty */
	size_t count;
};

/* The map starts zeroed ({0}); u64_map_release frees it. */
void u64_map_release(struct u64_map *map);
/* Inserts or replaces. Returns 0 or -ENOMEM. */
int u64_map_put(struct u64_map *map, uint64_t key, uint64_t value);
/* True and *value set when key is present. */
bool u64_map_get(const struct u64_map *map, uint64_t key, uint64_t *value);
/* Bytes held. */
size_t u64_map_memory(const struct u64_map *map);

#endif
