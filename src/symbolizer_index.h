/* symbolizer_index.h (internal to the symbolizer): the per-module lookup index over libdw data.
 * A module's compile units are indexed by address once; a compile unit's functions and inlined
 * calls are flattened into a sorted table of disjoint address ranges the first time an address
 * falls into it; the symbol table (.symtab/.dynsym) is sorted once. Each lookup is then a few
 * binary searches instead of libdw's per-address walk of the DIE tree. */
#ifndef SMOLDER_SYMBOLIZER_INDEX_H
#define SMOLDER_SYMBOLIZER_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdwfl.h>

#include "smolder/symbolizer.h"

struct module_index;

/* A growable array of frames; module_index_resolve appends to it. */
struct frame_vec {
	struct symbol_frame *v;
	size_t n, cap;
};

/* Creates the (lazily filled) index of mod, which must outlive it. NULL + errno. */
struct module_index *module_index_new(Dwfl_Module *mod);
/* NULL-safe. */
void module_index_free(struct module_index *idx);

/* Appends addr's frames (absolute address in the module), innermost first: inlined frames from
 * DWARF with file:line, else the .symtab/.dynsym name. Only function, file, line and flags are set;
 * strings are owned by idx (or libdw, which idx keeps open). Appends nothing when addr has no name.
 * Returns 0 or -ENOMEM. */
int module_index_resolve(struct module_index *idx, uint64_t addr, struct frame_vec *out);

/* A PLT stub named by symbolizer_plt_symbols: [start, end) in libdwfl addresses, "name@plt". */
struct plt_symbol {
	uint64_t start, end;
	char *name; /* malloc'd */
};

/* Names the x86-64 PLT stubs (.plt, .plt.sec, .plt.got) of elf, whose link-time addresses plus
 * bias are libdwfl addresses. *out (malloc'd, free with symbolizer_plt_symbols_free) may be empty.
 * Returns 0 or -ENOMEM. */
int symbolizer_plt_symbols(Elf *elf, uint64_t bias, struct plt_symbol **out, size_t *n);
void symbolizer_plt_symbols_free(struct plt_symbol *syms, size_t n);

/* Demangles an Itanium C++ name (_Z...). Returns a malloc'd string the caller frees, or NULL. */
char *symbolizer_demangle(const char *name);

#endif
