/* perf_map.h: symbols of JIT-compiled code from a perf map file (/tmp/perf-PID.map, lines
 * "START SIZE name" in hex, as written by JITs for perf), sorted for binary search. */
#ifndef SMOLDER_PERF_MAP_H
#define SMOLDER_PERF_MAP_H

#include <stdint.h>

struct perf_map;

/* Loads path. NULL + errno (ENOENT when the target writes no perf map). */
struct perf_map *perf_map_load(const char *path);
/* NULL-safe. */
void perf_map_free(struct perf_map *pm);
/* The name (owned by pm) of the entry containing addr, or NULL. Later lines win over earlier ones
 * for the same start (a JIT reusing memory appends the new code). */
const char *perf_map_find(const struct perf_map *pm, uint64_t addr);

#endif
