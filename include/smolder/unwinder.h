/* unwinder.h: user-space stack unwinding for one target process, over stack snapshots copied at
 * sample time (eBPF) or read while the thread is stopped (ptrace). libunwind's remote API with
 * DWARF CFI (.eh_frame/.debug_frame) of the mapped objects; memory outside the snapshot is read
 * from the mapped ELF files, never from the live process (it has moved on). Owns the target's
 * address space model and its caches. */
#ifndef SMOLDER_UNWINDER_H
#define SMOLDER_UNWINDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct unwinder;

/* The compact unwind rule for one address: how to find the caller's frame. The unwinder applies
 * it itself; unwinder_rule_at hands it to callers that walk stacks elsewhere (in BPF). */
enum unwind_rule_kind {
	UNWIND_RULE_NONE = 0,  /* no FDE covers the address */
	UNWIND_RULE_SIMPLE,    /* the compact rule below applies */
	UNWIND_RULE_ROOT,      /* the return address is undefined: outermost frame */
	UNWIND_RULE_COMPLEX,   /* valid CFI beyond the compact form: use libunwind */
	UNWIND_RULE_SIGRETURN, /* the signal trampoline: registers in the rt_sigframe at sp */
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

/* One thread's state at one instant. */
struct unwind_snapshot {
	uint64_t ip, sp, bp;  /* user registers (x86-64 rip, rsp, rbp) */
	const uint8_t *stack; /* bytes copied from address sp upward */
	uint32_t stack_len;
	bool stack_clipped; /* the copy stopped at the copy limit, not at the end of the stack
			       mapping */
	bool ip_is_return;  /* ip is a return address (the walk starts in a caller frame, as when
			       another walker stopped there): looked up and reported as ip - 1 */
};

enum unwind_flags {
	UNWIND_COMPLETE = 1,  /* reached the thread's root (_start, clone/clone3, start_thread) */
	UNWIND_TRUNCATED = 2, /* needed stack memory beyond the snapshot */
	UNWIND_NO_INFO = 4, /* stopped at a frame with no unwind info and no valid frame pointer */
	UNWIND_MAX_DEPTH = 8, /* hit the caller's max frames */
	UNWIND_FP_USED = 16,  /* at least one frame came from the frame-pointer fast path */
};

struct unwind_result {
	uint32_t n;	     /* frames written */
	uint32_t flags;	     /* enum unwind_flags */
	uint32_t generation; /* the maps generation the walk used (see unwinder_set_maps_listener);
				stamp the frames with it (frame_user) to name them as of then */
};

struct unwinder_stats {
	uint64_t unwinds;
	uint64_t complete;
	uint64_t truncated;
	uint64_t no_info;
	uint64_t map_refreshes;
};

/* Creates the unwinder for pid, reading its mappings now. NULL and errno on failure. */
struct unwinder *unwinder_new(pid_t pid);
/* NULL-safe. */
void unwinder_free(struct unwinder *uw);

/* Unwinds snap into ips[0..max), leaf first. Entries are symbolization lookup addresses: ips[0] is
 * the exact ip; caller frames are return address - 1 (so the call site, not the next line, is
 * resolved), except the frame interrupted by a signal, which is exact. Returns 0 (result says how
 * far it got; at least the leaf is written when max > 0) or -errno. */
int unwinder_unwind(struct unwinder *uw, const struct unwind_snapshot *snap, uint64_t *ips,
		    uint32_t max, struct unwind_result *result);

/* Re-reads the target's mappings (dlopen, exec). Also done on demand, rate-limited, when an ip
 * falls outside every known mapping. Returns 0 or -errno (-ESRCH once the target is gone). */
int unwinder_refresh_maps(struct unwinder *uw);

/* The rule that steps out of the frame at ip: ip is a return address (exact false: the rule of
 * the call at ip - 1, or UNWIND_RULE_SIGRETURN for the signal trampoline) or an interrupted
 * instruction (exact true). A return address in executable code without unwind info (JIT code)
 * gets the frame-pointer rule (CFA = rbp + 16), which the unwinder itself applies there. Cached
 * like the unwinder's own lookups; re-reads the mappings (rate-limited) when ip is in none of them
 * or in one that is not executable. Returns 0, or -ENOENT (rule kind NONE) when no executable
 * mapping covers ip: no code is known there (yet), so "no rule" may be only provisional. */
int unwinder_rule_at(struct unwinder *uw, uint64_t ip, bool exact, struct unwind_rule *rule);

void unwinder_get_stats(const struct unwinder *uw, struct unwinder_stats *stats);

struct proc_maps;

/* Called with each new maps generation: 0 for the first maps, then one more each time the code
 * mapped from files changes (dlopen, dlclose, exec; not anonymous memory or the heap), up to
 * FRAME_GENERATION_MAX. maps is valid during the call only. */
typedef void unwinder_maps_listener(void *arg, uint32_t generation, const struct proc_maps *maps);
/* Sets (fn NULL: clears) the listener and calls it at once with the current generation, so the
 * listener sees every generation its frames can carry. */
void unwinder_set_maps_listener(struct unwinder *uw, unwinder_maps_listener *fn, void *arg);
/* The current maps generation. */
uint32_t unwinder_generation(const struct unwinder *uw);

/* Enables (the default) or disables the compact-CFI fast path; disabled, every frame is stepped
 * by libunwind. For tests that cross-check the two and for benchmarks. */
void unwinder_set_fast_path(struct unwinder *uw, bool enabled);

#endif
