/* perf_map.h: symbols of JIT-compiled code from a perf map file (/tmp/perf-PID.map, lines
 * "START SIZE name" in hex, as written by JITs for perf: node --perf-basic-prof, python -X perf,
 * perf-map-agent...). JITs append as they compile, and may reuse memory: for an address, the
 * latest line that covers it wins. Names of the common runtimes are parsed into function, file and
 * line (V8's "JS:*name file.js:LINE:COL", CPython's "py::qualname:file.py"). */
#ifndef SMOLDER_PERF_MAP_H
#define SMOLDER_PERF_MAP_H

#include <stdint.h>

struct perf_map;

enum perf_map_kind {
	PERF_MAP_OTHER = 0,  /* any other JIT code (V8 builtins and stubs, other runtimes) */
	PERF_MAP_JS = 1,     /* a JavaScript function (V8: JS:, LazyCompile:, Function:, ...) */
	PERF_MAP_PYTHON = 2, /* a Python function (CPython 3.12+ perf trampolines) */
};

/* One line of the map. Strings belong to the map and live until perf_map_free. */
struct perf_map_symbol {
	uint64_t start, end;
	const char *name;     /* as written in the map */
	const char *function; /* parsed: V8's tier marks (~ ^ + *) and prefixes removed;
				 "(anonymous)" for an unnamed JS function */
	const char *file;     /* the script or module file, or NULL */
	uint32_t line;	      /* the function's first line, 0 when unknown */
	uint32_t kind;	      /* enum perf_map_kind */
};

/* Loads path. NULL + errno (ENOENT when the target writes no perf map). */
struct perf_map *perf_map_load(const char *path);
/* Reads the lines appended to the file since the last load or update (a JIT keeps appending);
 * when the file was replaced or truncated, reads it again from the start (the old entries stay
 * allocated, so names handed out stay valid, but no longer answer lookups). Returns 1 when
 * something new was read, 0 when nothing changed, or -errno (the map stays as it was). */
int perf_map_update(struct perf_map *pm);
/* NULL-safe. */
void perf_map_free(struct perf_map *pm);
/* The entry (owned by pm, valid until the next perf_map_update) whose range holds addr, the latest
 * written among several, or NULL. The first lookup after a load or an update that read new lines
 * builds the lookup table (hence not const). */
const struct perf_map_symbol *perf_map_lookup(struct perf_map *pm, uint64_t addr);
/* perf_map_lookup's name as written (valid until perf_map_free), or NULL. */
const char *perf_map_find(struct perf_map *pm, uint64_t addr);
/* Number of entries that answer lookups. */
uint64_t perf_map_count(const struct perf_map *pm);

/* Parses a perf-map name (the text after "START SIZE ") into sym's function, file, line and kind,
 * pointing into storage (at least strlen(name) * 2 + 16 bytes, which the caller owns). */
void perf_map_parse_name(const char *name, char *storage, struct perf_map_symbol *sym);

#endif
