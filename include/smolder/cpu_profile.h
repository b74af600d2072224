/* cpu_profile.h: the aggregated CPU profile that every sampling backend (eBPF, ptrace) fills and
 * the outputs read: unique stacks interned in a stack_table, a count per (stack, thread), thread
 * names, and run totals (samples, lost, complete vs truncated stacks, unknown frames). */
#ifndef SMOLDER_CPU_PROFILE_H
#define SMOLDER_CPU_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "smolder/stack_table.h"

struct frame_names;

struct cpu_profile;

/* Flags of one sample, passed to cpu_profile_add. */
enum cpu_profile_sample_flags {
	CPU_PROFILE_SAMPLE_COMPLETE = 1,  /* user unwinding reached the thread's root */
	CPU_PROFILE_SAMPLE_TRUNCATED = 2, /* user unwinding stopped early (counted as truncated) */
};

/* One (stack, thread) cell. A stack's frames (stack_table_get) are leaf first: kernel ips (leaf
 * first) followed by user ips (leaf first), i.e. the whole chain from the innermost frame outward.
 * Kernel frames are told apart by address (cpu_profile_is_kernel_address). */
struct cpu_profile_entry {
	uint32_t stack_id;
	int32_t tid;
	uint64_t count;
};

struct cpu_profile_totals {
	uint64_t samples; /* samples added (sum of all entry counts) */
	uint64_t
		lost; /* samples dropped before aggregation: ring buffer full, copy failures, ... */
	uint64_t complete;    /* samples whose user stack reached the thread's root */
	uint64_t truncated;   /* samples whose user stack stopped early */
	uint64_t kernel_only; /* samples with no user frame at all (neither complete nor truncated)
			       */
	uint64_t unknown_frames; /* frames without a name after symbolization, weighted by samples;
				    set by whoever symbolizes (cpu_profile_set_unknown_frames) */
};

/* A new empty profile of process pid. NULL and errno on failure; free with cpu_profile_free. */
struct cpu_profile *cpu_profile_new(pid_t pid);
/* A profile whose named frames live in names (borrowed, outlives the profile): a second profile
 * of the same run (off-CPU time) whose stacks hold the first one's frames. */
struct cpu_profile *cpu_profile_new_with_names(pid_t pid, struct frame_names *names);
/* NULL-safe. */
void cpu_profile_free(struct cpu_profile *profile);

/* Counts one sample of thread tid. user_ips / kernel_ips are leaf first, as lookup addresses
 * (caller frames already at return address - 1, like unwinder_unwind gives them). flags: enum
 * cpu_profile_sample_flags. Returns 0 or -ENOMEM. */
int cpu_profile_add(struct cpu_profile *profile, pid_t tid, const uint64_t *user_ips,
		    uint32_t n_user, const uint64_t *kernel_ips, uint32_t n_kernel, uint32_t flags);
/* cpu_profile_add with a named root frame (frame.h; 0: none) stored as the stack's outermost
 * frame, after the user frames: the process root ("COMMAND [PID]") of a multi-process profile. */
int cpu_profile_add_rooted(struct cpu_profile *profile, uint64_t root, pid_t tid,
			   const uint64_t *user_ips, uint32_t n_user, const uint64_t *kernel_ips,
			   uint32_t n_kernel, uint32_t flags);
/* cpu_profile_add_rooted counting weight (off-CPU: microseconds) instead of one sample, with a
 * named group frame (0: none) just inside the root, outside the [truncated] marker. The totals
 * count weight too. */
int cpu_profile_add_weighted(struct cpu_profile *profile, uint64_t root, uint64_t group, pid_t tid,
			     const uint64_t *user_ips, uint32_t n_user, const uint64_t *kernel_ips,
			     uint32_t n_kernel, uint32_t flags, uint64_t weight);
/* The registry of the profile's named frames (the [truncated] marker cpu_profile_add appends to a
 * user stack without CPU_PROFILE_SAMPLE_COMPLETE, and interpreted frames: callers intern those here
 * too, so a frame value means one thing for the whole run). Owned by the profile. */
struct frame_names *cpu_profile_names(struct cpu_profile *profile);
/* Counts n samples lost before they reached the profile. */
void cpu_profile_add_lost(struct cpu_profile *profile, uint64_t n);
void cpu_profile_set_unknown_frames(struct cpu_profile *profile, uint64_t n);

/* Remembers tid's name (threads exit before the end of the run). name is copied. 0 or -ENOMEM. */
int cpu_profile_set_thread_name(struct cpu_profile *profile, pid_t tid, const char *name);
/* The name recorded for tid, or NULL. Owned by the profile. */
const char *cpu_profile_thread_name(const struct cpu_profile *profile, pid_t tid);
/* True when tid has been seen by cpu_profile_add or cpu_profile_set_thread_name. */
bool cpu_profile_has_thread(const struct cpu_profile *profile, pid_t tid);

pid_t cpu_profile_pid(const struct cpu_profile *profile);
/* The interned stacks (owned by the profile). */
const struct stack_table *cpu_profile_stacks(const struct cpu_profile *profile);
/* All (stack, thread) cells, in first-seen order; *n gets the count. Owned by the profile, valid
 * until the next cpu_profile_add. */
const struct cpu_profile_entry *cpu_profile_entries(const struct cpu_profile *profile, size_t *n);
void cpu_profile_get_totals(const struct cpu_profile *profile, struct cpu_profile_totals *totals);
/* Bytes held, for the tool's own memory accounting. */
size_t cpu_profile_memory(const struct cpu_profile *profile);

/* x86-64: kernel addresses live in the upper half of the address space. */
static inline bool cpu_profile_is_kernel_address(uint64_t addr)
{
	return addr >= 0xffff800000000000ULL;
}

#endif
