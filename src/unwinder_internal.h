/* unwinder_internal.h (internal to the unwinder): the unwinder's state, shared by unwinder.c
 * (stepping frames, libunwind's accessors, lifecycle) and unwinder_maps.c (the target's
 * address-space model: its mappings and the ELF objects behind them). */
#ifndef SMOLDER_UNWINDER_INTERNAL_H
#define SMOLDER_UNWINDER_INTERNAL_H

#include <libunwind.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "smolder/proc_maps.h"
#include "smolder/unwinder.h"
#include "unwind_elf.h"

/* The fast path's rule cache: direct-mapped by lookup address, 2^RULE_CACHE_BITS slots of 24
 * bytes. A profile's hot code has a few thousand distinct return addresses. */
#define RULE_CACHE_BITS 14

/* One mapped file (or the vdso), shared by all its mappings and kept until unwinder_free. */
struct uw_object {
	uint32_t dev_major, dev_minor;
	uint64_t inode;
	bool vdso;
	uint64_t vdso_size;
	struct unwind_elf *elf; /* NULL: could not be opened or is not an ELF we understand */
};

/* What the unwinder adds to one line of the target's maps. */
struct uw_map {
	const struct proc_map *pm; /* the line, in unwinder.pm */
	struct uw_object *obj;	   /* NULL for anonymous memory and unusable files */
	int64_t bias;		   /* runtime address = link-time vaddr + bias */
};

/* State of the unwind in progress, read by the libunwind accessors. */
struct uw_frame_ctx {
	const struct unwind_snapshot *snap;
	uint64_t ip, sp, bp;	  /* registers of the frame libunwind (re)starts from */
	bool bp_known;		  /* false: rbp was not recoverable for this frame */
	uint64_t stack_hi;	  /* end of the mapping holding snap->sp, 0 if unknown */
	uint32_t truncated_reads; /* stack reads past the end of the snapshot */
	uint32_t bad_reads;	  /* reads that fell in neither the snapshot nor a mapped file */
	bool lookup_failed;	  /* find_proc_info found no unwind info during the last step */
	const int32_t *synthetic_table; /* during a table search in one (unwind_elf.h) */
	uint64_t synthetic_len;		/* its bytes */
};

struct rule_slot {
	uint64_t addr; /* lookup address; 0: empty */
	struct unwind_rule rule;
	/* Whether addr + 1 is the signal return trampoline (enum sigret_state): checking reads the
	 * object's code with pread, which once per frame would be a syscall on the hot path. */
	uint8_t sigreturn;
};

enum sigret_state { SIGRET_UNKNOWN = 0, SIGRET_NO, SIGRET_YES };

struct unwinder {
	pid_t pid;
	int mem_fd; /* /proc/PID/mem for JIT code bytes (anonymous memory has no file); -1: none */
	bool slow_path_only; /* unwinder_set_fast_path(false) */
	struct rule_slot *rules;
	unw_addr_space_t as;
	struct proc_maps pm; /* the target's mappings at the last refresh */
	struct uw_map *maps; /* parallel to pm.maps */
	struct uw_object **objects;
	size_t n_objects;
	uint64_t last_refresh_ns;
	/* Maps generation: bumped when the code mapped from files changes (dlopen, dlclose, exec),
	 * so that addresses can be resolved against the mappings of their time. */
	uint32_t generation;
	bool have_maps;
	unwinder_maps_listener *listener;
	void *listener_arg;
	struct unwinder_stats stats;
	struct uw_frame_ctx ctx;
};

/* The unwinder's entry for the mapping holding addr at the last refresh, or NULL. */
const struct uw_map *unwinder_find_map(const struct unwinder *uw, uint64_t addr);

/* Whether the maps may be re-read now: at most once per REFRESH_MIN_INTERVAL_NS. */
bool unwinder_refresh_allowed(const struct unwinder *uw);

/* unwinder_find_map, re-reading the maps (rate-limited) when addr is in none of them: new code was
 * mapped (dlopen, exec) since the last read. */
const struct uw_map *unwinder_find_map_refresh(struct unwinder *uw, uint64_t addr);

#endif /* SMOLDER_UNWINDER_INTERNAL_H */
