/* events.h: the one header shared by BPF programs and user space: event records sent through the
 * ring buffers, the stats counters, and the limits both sides agree on. Fixed-width types, explicit
 * padding, no pointers or bitfields; sizes checked with _Static_assert. */
#ifndef SMOLDER_EVENTS_H
#define SMOLDER_EVENTS_H

#ifdef __bpf__
/* vmlinux.h provides __u8 .. __u64 */
#else
#include <linux/types.h>
#endif

#define SMOLDER_COMM_LEN	  16
#define SMOLDER_MAX_KERNEL_FRAMES 64

enum smolder_event_kind {
	SMOLDER_EVENT_CPU_SAMPLE = 1,
	SMOLDER_EVENT_ALLOC = 2,
	SMOLDER_EVENT_FREE = 3,
	SMOLDER_EVENT_MMAP = 4,
	SMOLDER_EVENT_MUNMAP = 5,
	SMOLDER_EVENT_EXEC = 6,
};

/* CPU sampler (bpf/profile.bpf.c). The user stack copy is bounded by the end of the stack mapping
 * (bpf_find_vma) and by the configured copy size, which is at most SMOLDER_STACK_COPY_MAX. 32 KiB
 * is the measured knee: the fixture with an 8 KiB frame plus glibc's qsort buffer needs ~10 KiB,
 * perf's 8 KiB default truncates it (scripts/bench/record_completeness.sh). */
#define SMOLDER_STACK_COPY_MAX	   (64 * 1024)
#define SMOLDER_STACK_COPY_DEFAULT (32 * 1024)

enum smolder_sample_flags {
	SMOLDER_SAMPLE_KERNEL_MODE = 1, /* interrupted in the kernel; user regs are the task's */
	SMOLDER_SAMPLE_STACK_CLIPPED =
		2, /* the copy stopped at the copy size, not the mapping end */
	SMOLDER_SAMPLE_NO_USER_REGS = 4, /* no user context (user regs unavailable) */
	SMOLDER_SAMPLE_NO_VMA = 8,	 /* stack mapping not found; copy size guessed */
};

/* One CPU sample. Sent as a variable-length record: the header, then user_stack_len bytes of user
 * stack copied from address sp upward. */
struct smolder_cpu_sample {
	__u32 kind; /* SMOLDER_EVENT_CPU_SAMPLE */
	__u32 tgid;
	__u32 tid;
	__u32 cpu;
	__u64 time_ns;	      /* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
	__u64 ip, sp, bp;     /* user registers */
	__u32 flags;	      /* enum smolder_sample_flags */
	__u32 user_stack_len; /* bytes in user_stack */
	__u32 kernel_frames;  /* entries in kernel_ips */
	__u32 _pad;
	__u64 kernel_ips[SMOLDER_MAX_KERNEL_FRAMES]; /* leaf first */
	__u8 user_stack[];
};

/* Per-CPU counters of the sampler (stats map index). */
enum smolder_sampler_stat {
	SMOLDER_STAT_SAMPLES = 0,	  /* target samples seen by the program */
	SMOLDER_STAT_SENT,		  /* records written to the ring buffer */
	SMOLDER_STAT_RINGBUF_FULL,	  /* records dropped: ring buffer full */
	SMOLDER_STAT_STACK_COPY_FAILED,	  /* user stack copy failed (sent without stack) */
	SMOLDER_STAT_STACK_CLIPPED,	  /* copy stopped at the copy size before the mapping end */
	SMOLDER_STAT_NO_VMA,		  /* bpf_find_vma failed or found no mapping */
	SMOLDER_STAT_KERNEL_STACK_FAILED, /* bpf_get_stack failed */
	SMOLDER_STAT_NO_USER_REGS,	  /* no user registers for the sample */
	SMOLDER_STAT_SCRATCH_MISSING,	  /* per-CPU scratch slot lookup failed */
	SMOLDER_STAT_COUNT,
};

#ifndef __bpf__
_Static_assert(sizeof(__u64) == 8, "fixed-width types");
_Static_assert(sizeof(struct smolder_cpu_sample) == 64 + 8 * SMOLDER_MAX_KERNEL_FRAMES,
	       "smolder_cpu_sample layout");
#endif

#endif
