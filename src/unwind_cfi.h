/* unwind_cfi.h: the unwinder's fast path. Evaluates an object's .eh_frame CFI at one address into a
 * compact rule (CFA = rsp/rbp + offset, return address and rbp at fixed offsets from the CFA) that
 * the unwinder caches per ip and applies without libunwind. Anything the compact form cannot
 * express (DWARF expressions, signal frames, register-to-register rules) is reported as complex
 * and left to libunwind. Internal to the unwinder; the rule type is public (unwinder.h) for
 * callers that walk stacks elsewhere (the allocation tracker's BPF walker). */
#ifndef SMOLDER_UNWIND_CFI_H
#define SMOLDER_UNWIND_CFI_H

#include <stdint.h>

#include "smolder/unwinder.h"
#include "unwind_elf.h"

/* Computes the rule at link-time address vaddr of elf from its .eh_frame_hdr and .eh_frame. */
void unwind_cfi_rule(const struct unwind_elf *elf, uint64_t vaddr, struct unwind_rule *rule);

#endif
