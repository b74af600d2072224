/* symbolizer_internal.h (internal to the symbolizer): the symbolizer's state, shared by
 * symbolizer.c (generations, cache, resolution, formatting), symbolizer_objects.c (objects and
 * their placements), symbolizer_jit.c (perf maps and anonymous executable code) and
 * symbolizer_batch.c (resolution in a child process). */
#ifndef SMOLDER_SYMBOLIZER_INTERNAL_H
#define SMOLDER_SYMBOLIZER_INTERNAL_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "smolder/symbolizer.h"
#include "symbolizer_index.h"

struct perf_map;
struct proc_maps;

#define PAGE_MASK_4K (~(uint64_t)4095)

struct sym_mapping {
	uint64_t start, end, offset;
};

/* A PT_LOAD segment: file offsets [offset, offset + filesz) hold link-time addresses from vaddr. */
struct sym_segment {
	uint64_t offset, filesz, vaddr;
};

/* One opened object file (executable, shared library, vdso), reported to libdwfl once however
 * often it is mapped: node maps part of its own text a second time (V8 remaps the embedded
 * builtins next to its JIT code), and a library can be unloaded and loaded again elsewhere. */
struct sym_object {
	char *path;	/* as in the maps, without " (deleted)" */
	char *name;	/* basename of path, or "[vdso]" */
	uint64_t inode; /* with dev: what makes two mappings one object */
	uint32_t dev_major, dev_minor;
	uint64_t bias; /* libdwfl address = link-time address + bias */
	struct sym_segment *segs;
	size_t nsegs;
	Dwfl_Module *dwfl_mod; /* NULL when the object could not be opened as ELF */
	struct module_index *index;
	/* Hex, read when the object is opened: read later, in the parent, libelf could fault on a
	 * file truncated since (symbolization itself runs in a child, symbolizer_batch.c). */
	char build_id[129];
};

/* One placement of an object in the address space: its consecutive mappings. */
struct sym_module {
	uint64_t start, end; /* from its first mapping's start to its last mapping's end */
	struct sym_mapping *maps;
	size_t nmaps;
	struct sym_object *obj; /* owned by the symbolizer's object list */
};

/* The placements in force in one maps generation of the unwinder (frame.h): an address stamped
 * with it is resolved against them, not against what was mapped there later. */
struct sym_generation {
	uint32_t gen;
	struct sym_module **table; /* sorted by start */
	size_t n;
};

struct cache_entry {
	uint64_t addr;
	struct symbol_frame *frames; /* NULL: empty slot */
	size_t n;
};

struct symbolizer {
	pid_t pid;
	bool offline; /* built from given maps: open paths as they are */
	Dwfl *dwfl;
	Dwfl_Callbacks callbacks; /* libdwfl keeps a pointer to it */
	char *debuginfo_path;
	struct sym_object **objects; /* every object ever opened; owned */
	size_t nobjects, objects_cap;
	uint64_t dwfl_names;	     /* makes every name reported to libdwfl unique */
	struct sym_module **modules; /* every placement ever created; owned */
	size_t nmodules, modules_cap;
	struct sym_module **table; /* the current ones, sorted by start, not overlapping */
	size_t ntable, table_cap;
	struct sym_generation *gens; /* by increasing gen */
	size_t ngens;
	struct kallsyms *kallsyms;
	bool kallsyms_tried;
	/* JIT symbols: the target's perf map, read as it grows (cached frames point into it). */
	struct perf_map *perf_map;
	char perf_map_path[96];
	/* Anonymous executable mappings ever seen (JIT code), sorted and merged. */
	struct sym_mapping *anon_exec;
	size_t nanon_exec, anon_exec_cap;
	struct cache_entry *cache;
	size_t cache_cap, cache_used;
	struct frame_vec scratch;
	char **batch_strings; /* names copied from symbolizer_resolve_isolated's children */
	size_t nbatch_strings;
	struct symbolizer_stats stats;
};

/* Appends frame to out. 0 or -ENOMEM. */
int symbolizer_push_frame(struct frame_vec *out, const struct symbol_frame *frame);
/* The cached frames of frame value addr, or NULL. */
struct cache_entry *symbolizer_cache_find(struct symbolizer *sym, uint64_t addr);
/* Caches frames (malloc'd, owned by sym from now on) for addr. 0 or -ENOMEM. */
int symbolizer_cache_insert(struct symbolizer *sym, uint64_t addr, struct symbol_frame *frames,
			    size_t n);
/* The placement holding user address addr in maps generation gen, and addr's file offset. */
const struct sym_module *symbolizer_find_module(const struct symbolizer *sym, uint64_t addr,
						uint32_t gen, uint64_t *file_offset);

/* symbolizer_objects.c: frees an object (its libdwfl module belongs to the Dwfl). NULL is a
 * no-op. */
void symbolizer_object_free(struct sym_object *obj);
/* Frees a placement (not its object). NULL is a no-op. */
void symbolizer_module_free(struct sym_module *mod);
/* The libdwfl address of file offset off in obj, or 0 when no segment holds it. */
uint64_t symbolizer_object_address(const struct sym_object *obj, uint64_t off);
/* Opens and reports every object with executable code in maps that the table does not hold yet,
 * and puts its placements in the table. 0 or -errno. */
int symbolizer_add_objects(struct symbolizer *sym, const struct proc_maps *maps);

/* symbolizer_jit.c: reads the target's perf map, or what was appended to it. */
void symbolizer_jit_load_perf_map(struct symbolizer *sym);
/* Remembers an anonymous executable mapping (JIT code). 0 or -ENOMEM. */
int symbolizer_jit_note_anon_exec(struct symbolizer *sym, uint64_t start, uint64_t end);
/* Appends the frame of addr, outside every mapped file: named from the perf map, or "[jit]" in
 * anonymous executable memory, or unknown. 0 or -ENOMEM. */
int symbolizer_jit_resolve(struct symbolizer *sym, uint64_t addr, struct frame_vec *out);

#endif
