/* unwind_cfi.h: the unwinder's fast path. Evaluates an object's .eh_frame CFI at one address into a
 * compact rule (CFA = rsp/rbp + offset, return address and rbp at fixed offsets from the CFA) that
 * the unwinder caches per ip and applies without libunwind. Anything the compact form cannot
 * express (DWARF expressions, signal frames, register-to-register rules) is reported as complex
 * and left to libunwind. Internal to the unwinder. */
#ifndef SMOLDER_UNWIND_CFI_H
#define SMOLDER_UNWIND_CFI_H

#include <stdint.h>

#include "unwind_elf.h"

enum unwind_rule_kind {
	UNWIND_RULE_NONE = 0, /* no FDE covers the address */
	UNWIND_RULE_SIMPLE,   /* the compact rule below applies */
	UNWIND_RULE_ROOT,     /* the return address is undefined: outermost frame */
	UNWIND_RULE_COMPLEX,  /* valid CFI beyond the compact form: use libunwind */
};

enum unwind_rule_reg {
	UNWIND_RULE_RSP = 7, /* DWARF register numbers */
	UNWIND_RULE_RBP = 6,
};

enum unwind_rule_rbp {
	UNWIND_RBP_SAME = 0,  /* caller's rbp is this frame's rbp */
	UNWIND_RBP_SAVED,     /* saved at CFA + rbp_off */
	UNWIND_RBP_UNDEFINED, /* not recoverable */
};

struct unwind_rule {
	uint8_t kind;	  /* enum unwind_rule_kind */
	uint8_t cfa_reg;  /* enum unwind_rule_reg */
	uint8_t rbp_rule; /* enum unwind_rule_rbp */
	uint8_t pad;
	int32_t cfa_off;
	int32_t ra_off;	 /* return address at CFA + ra_off */
	int32_t rbp_off; /* with UNWIND_RBP_SAVED */
};

/* Computes the rule at link-time address vaddr of elf from its .eh_frame_hdr and .eh_frame. */
void unwind_cfi_rule(const struct unwind_elf *elf, uint64_t vaddr, struct unwind_rule *rule);

#endif
