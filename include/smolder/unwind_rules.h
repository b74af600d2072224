/* unwind_rules.h: per-address unwind rules (where the CFA is, where the return address and the
 * caller's rbp are saved) derived from the DWARF CFI (.eh_frame, .debug_frame) of a target's mapped
 * objects. memleak.bpf.c walks allocation stacks with these rules in the kernel; this module also
 * continues a walk over a stack snapshot when the kernel met an address it had no rule for. */
#ifndef SMOLDER_UNWIND_RULES_H
#define SMOLDER_UNWIND_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "smolder/events.h"

struct unwind_rules;

/* Rules for pid's address space (mappings read now). NULL + errno on failure. */
struct unwind_rules *unwind_rules_new(pid_t pid);
/* NULL-safe. */
void unwind_rules_free(struct unwind_rules *ur);
/* Re-reads the mappings (dlopen). 0 or -errno (-ESRCH when the target is gone). */
int unwind_rules_refresh(struct unwind_rules *ur);

/* The rule for addr: a return address (rule taken at addr - 1) or, with exact, an interrupted ip.
 * Never fails: addresses without usable CFI get a SMOLDER_RULE_STOP rule. Cached. */
void unwind_rules_lookup(struct unwind_rules *ur, uint64_t addr, bool exact,
			 struct smolder_unwind_rule *rule);

/* Called for every rule the walk computed, so the caller can install it for the kernel. */
typedef void (*unwind_rules_learn_fn)(void *ctx, uint64_t key, const struct smolder_unwind_rule *r);

struct unwind_walk {
	uint64_t ip, sp, bp;  /* state where the kernel stopped */
	bool exact;	      /* ip is an interrupted instruction, not a return address */
	const uint8_t *stack; /* snapshot bytes copied from stack_base upward */
	uint64_t stack_base;
	uint32_t stack_len;
};

/* Continues the walk over the snapshot, appending return addresses (the first one is walk->ip) to
 * ips[*n..max). *truncated is set when it ended for any reason but the outermost frame. */
void unwind_rules_walk(struct unwind_rules *ur, const struct unwind_walk *walk, uint64_t *ips,
		       uint32_t *n, uint32_t max, bool *truncated, unwind_rules_learn_fn learn,
		       void *ctx);

#endif
