/* unwind_elf.h: the unwinder's view of one mapped ELF object (executable, shared library, vdso):
 * its bytes, its PT_LOAD layout, the binary-search table of its .eh_frame_hdr and an address
 * index of its .debug_frame. Internal to the unwinder; nothing here knows about processes. */
#ifndef SMOLDER_UNWIND_ELF_H
#define SMOLDER_UNWIND_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct unwind_elf_load {
	uint64_t vaddr, offset, filesz, memsz;
	uint32_t flags; /* PF_X | PF_W | PF_R */
};

/* One .debug_frame FDE: it covers link-time addresses [lo, hi) and starts at file offset off. */
struct unwind_fde_range {
	uint64_t lo, hi, off;
};

struct unwind_elf {
	/* File offsets 0..size: for a file, an anonymous mapping holding private copies of the
	 * parts the unwinder parses (headers, .eh_frame_hdr, .eh_frame, .debug_frame) and zeros
	 * elsewhere; or the whole image (vdso copy). Never a mapping of the file itself: a file
	 * truncated on disk (a library rewritten in place) would make reads of it fault with
	 * SIGBUS. */
	const uint8_t *data;
	size_t size;
	bool mmapped;
	int fd; /* the file, for bytes outside the copies (code, read-only data); -1 for an image */
	struct {
		uint64_t off, len;
	} copied[12]; /* the regions of data copied from the file (the rest is pread) */
	size_t n_copied;
	struct unwind_elf_load *loads;
	size_t n_loads;
	uint64_t text_lo, text_hi; /* link-time vaddr range of the executable PT_LOADs */
	uint64_t entry;		   /* e_entry: where the kernel starts the main thread (0: none) */
	/* Binary-search table of {initial_loc, fde} int32 pairs relative to hdr_vaddr (link-time
	 * vaddrs); has_table false without one. Normally the linker's .eh_frame_hdr; an object
	 * linked without one (gcc -static does not pass --eh-frame-hdr) gets the same table built
	 * from its .eh_frame section (synthetic_table, malloc'ed; hdr_vaddr is then the section's
	 * address). */
	bool has_table;
	uint64_t hdr_vaddr;   /* the table's data-relative base */
	uint64_t table_vaddr; /* first {initial_loc, fde} entry (file-backed table only) */
	uint64_t fde_count;
	int32_t *synthetic_table; /* 2 * fde_count entries, or NULL: the table is in the file */
	/* .debug_frame (not loaded: file offsets), for code the toolchain gave no .eh_frame
	 * (-fno-asynchronous-unwind-tables -g); its FDEs sorted by address. */
	uint64_t debug_frame_off, debug_frame_size;
	struct unwind_fde_range *debug_fdes;
	size_t n_debug_fdes;
};

/* Opens the ELF file at path, copies the parts the unwinder parses and parses them. NULL and errno
 * (ENOEXEC: not a 64-bit x86-64 ELF) on failure. Free with unwind_elf_free. */
struct unwind_elf *unwind_elf_open(const char *path);
/* Parses an in-memory image (the vdso copy); takes ownership of image (malloc'd) even on failure.
 */
struct unwind_elf *unwind_elf_from_image(uint8_t *image, size_t size);
/* NULL-safe. */
void unwind_elf_free(struct unwind_elf *elf);

/* Link-time vaddr minus file offset for the PT_LOAD holding file offset off, so that a mapping of
 * off at runtime address start has load bias start - off - delta. Returns 0 or -ENOENT. */
int unwind_elf_load_delta(const struct unwind_elf *elf, uint64_t off, int64_t *delta);
/* File offset of link-time address vaddr (within some PT_LOAD's file bytes). 0 or -ENOENT. */
int unwind_elf_vaddr_offset(const struct unwind_elf *elf, uint64_t vaddr, uint64_t *off);
/* Copies up to len bytes at file offset off into buf, zero-filling past the end of the file (as
 * it was opened; a file that shrank since reads short, never faults). Returns the number of file
 * bytes copied (0 when off is outside the file). */
size_t unwind_elf_read(const struct unwind_elf *elf, uint64_t off, void *buf, size_t len);

#endif
