/* unwind_cfi.h: the unwinder's fast path. Evaluates an object's .eh_frame (or .debug_frame) CFI at
 * one address into a compact rule (CFA = rsp/rbp + offset, return address and rbp at fixed offsets
 * from the CFA) that the unwinder caches per ip and applies without libunwind. Anything the compact
 * form cannot express (DWARF expressions, signal frames, register-to-register rules) is reported as
 * complex and left to libunwind. Internal to the unwinder; the rule type is public (unwinder.h) for
 * callers that walk stacks elsewhere (the allocation tracker's BPF walker). */
#ifndef SMOLDER_UNWIND_CFI_H
#define SMOLDER_UNWIND_CFI_H

#include <stdint.h>

#include "smolder/unwinder.h"
#include "unwind_elf.h"

/* Computes the rule at link-time address vaddr of elf from its .eh_frame_hdr and .eh_frame, or
 * from its .debug_frame where .eh_frame has nothing. */
void unwind_cfi_rule(const struct unwind_elf *elf, uint64_t vaddr, struct unwind_rule *rule);

/* Builds elf's .debug_frame address index (debug_fdes) from the section unwind_elf found. Entries
 * it cannot parse are left out. Returns 0 or -ENOMEM. */
int unwind_cfi_index_debug_frame(struct unwind_elf *elf);

/* Builds the search table of an object without .eh_frame_hdr from its .eh_frame section (file
 * offset off, link-time address vaddr, size bytes): has_table, hdr_vaddr, fde_count and
 * synthetic_table, sorted by address as the linker's table is. Entries it cannot parse are left
 * out. Returns 0 (also when nothing usable was found) or -ENOMEM. */
int unwind_cfi_index_eh_frame(struct unwind_elf *elf, uint64_t off, uint64_t vaddr, uint64_t size);

#endif
