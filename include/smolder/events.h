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

#ifndef __bpf__
_Static_assert(sizeof(__u64) == 8, "fixed-width types");
#endif

#endif
