/* alloc_symbols.h: finds the allocator entry points an ELF object defines (libc, C++ operator
 * new/delete in all mangled variants, jemalloc, tcmalloc) and picks, for each, the instruction to
 * probe: the first one the kernel can emulate rather than single-step, reached in straight line
 * from the entry while the arguments (and, for calls whose return is probed, the stack pointer) are
 * still intact. */
#ifndef SMOLDER_ALLOC_SYMBOLS_H
#define SMOLDER_ALLOC_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct alloc_probe_point {
	char *name;	      /* symbol name (owned) */
	uint32_t kind;	      /* enum smolder_alloc_kind */
	bool is_delete;	      /* C++ delete family (may forward to free) */
	bool retprobe;	      /* the return value is needed */
	uint64_t vaddr;	      /* symbol address in the ELF */
	uint64_t file_offset; /* file offset of the probed instruction */
	uint32_t probe_delta; /* bytes from the entry to the probed instruction */
	bool emulated;	      /* the probed instruction is one the kernel emulates */
};

struct alloc_probe_set {
	struct alloc_probe_point *points;
	size_t n;
};

/* Scans path's .dynsym and .symtab for allocator functions (one point per address; aliases such as
 * memalign/aligned_alloc share it). Returns 0 (possibly with n == 0) or -errno. */
int alloc_symbols_scan(const char *path, struct alloc_probe_set *set);
/* Frees the points; the set itself is the caller's. NULL-safe. */
void alloc_probe_set_release(struct alloc_probe_set *set);

/* Registers an argument lives in, as a bitmask of x86-64 register numbers (rax=0 .. r15=15). */
#define ALLOC_REG_BIT(r) (1u << (r))
enum { ALLOC_REG_RDX = 2, ALLOC_REG_RSP = 4, ALLOC_REG_RSI = 6, ALLOC_REG_RDI = 7 };

/* Picks the probe offset in code[0..len) (a function of func_size bytes, len <= func_size):
 * registers in keep_regs must not be written before it, nor rsp when keep_sp. Returns the offset
 * (0 when nothing better than the entry is safe); *emulated says whether that instruction is one
 * the kernel emulates. */
uint32_t alloc_probe_choose_offset(const uint8_t *code, size_t len, size_t func_size,
				   uint32_t keep_regs, bool keep_sp, bool *emulated);

/* The kind for an allocator symbol name, 0 when the name is not an allocator function. */
uint32_t alloc_symbols_kind(const char *name, bool *is_delete);

#endif
