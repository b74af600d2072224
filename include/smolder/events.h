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
	SMOLDER_EVENT_CODE_MAPPED = 7, /* profile: the target mapped code from a file (dlopen) */
	SMOLDER_EVENT_FORK = 8,
	SMOLDER_EVENT_EXIT = 9,
	SMOLDER_EVENT_OFFCPU_SAMPLE = 10, /* profile: blocked time, a smolder_cpu_sample record */
};

/* Process trees (bpf/target_set.bpf.h): the BPF programs keep the set of target processes in a
 * hash map of tgids; with children followed, sched_process_fork adds every new process whose
 * parent is in the set, and sched_process_exit removes a process when its last thread exits. */
#define SMOLDER_MAX_TARGETS 65536

/* A target process forked, exec'd or exited: sent in order with the samples, so the consumer
 * knows which samples were taken before an exec (old mappings) and which after. */
struct smolder_process_event {
	__u32 kind;	   /* SMOLDER_EVENT_FORK, SMOLDER_EVENT_EXEC or SMOLDER_EVENT_EXIT */
	__u32 tgid;	   /* the process (FORK: the new child) */
	__u32 parent_tgid; /* FORK: the parent; otherwise 0 */
	__u32 _pad;
	__u64 time_ns;		     /* bpf_ktime_get_ns */
	char comm[SMOLDER_COMM_LEN]; /* after exec: the new program's name */
};

/* CPU sampler (bpf/profile.bpf.c). The user stack is copied from sp up to the end of the stack
 * mapping (bpf_find_vma), at most the copy size: a copy costs what the live stack holds, not the
 * copy size, so the default is the maximum. Measured (scripts/bench/record_completeness.sh,
 * record_symbolize.sh with SMOLDER_STACK_COPY): the 12 KiB-frame fixture unwinds completely from
 * 16 KiB and never at 8 KiB (perf's default); the demo service's 64 KiB render buffer needs
 * 96 KiB (32 KiB: 6% of its stacks truncated, 64 KiB: 7%, 96 KiB and 128 KiB: 0%). */
#define SMOLDER_STACK_COPY_MAX	   (128 * 1024)
#define SMOLDER_STACK_COPY_DEFAULT (128 * 1024)
#define SMOLDER_PAGE_SIZE	   4096

enum smolder_sample_flags {
	SMOLDER_SAMPLE_KERNEL_MODE = 1,	   /* interrupted in the kernel; user regs are the task's */
	SMOLDER_SAMPLE_STACK_CLIPPED = 2,  /* the copy stopped at the copy size */
	SMOLDER_SAMPLE_NO_USER_REGS = 4,   /* no user context (user regs unavailable) */
	SMOLDER_SAMPLE_NO_VMA = 8,	   /* stack mapping not found; copy size guessed */
	SMOLDER_SAMPLE_STACK_PARTIAL = 16, /* pages not present in the copy, left zeroed */
};

/* ---- Python frames read in BPF (bpf/python_walk.bpf.h) ---- */

/* Python frames a walk emits at most; a longer chain is cut and marked truncated. */
#define SMOLDER_PYTHON_MAX_FRAMES 192
/* Bytes of one interpreter frame read at once (fields between frame_read_offset and it). */
#define SMOLDER_PYTHON_FRAME_READ 128

/* One Python frame, innermost first, after the user stack of a sample (aligned to 8). */
struct smolder_python_frame {
	__u64 code;  /* code object address (f_code / f_executable) */
	__u64 instr; /* 3.11+: instruction pointer (prev_instr / instr_ptr); before: f_lasti */
	__u8 flags;  /* enum smolder_python_frame_flags */
	__u8 owner;  /* frame owner (3.11+): 0 thread, 1 generator, 2 frame object */
	__u8 pad[6];
};

/* Sample-level result of the walk (smolder_cpu_sample.python_flags). */
enum smolder_python_walk_flags {
	SMOLDER_PYWALK_DONE = 1, /* the walk ran: python_frames are the chain (whole unless cut) */
	SMOLDER_PYWALK_NO_TSTATE = 2,	/* no thread state (not a Python thread, or unreadable) */
	SMOLDER_PYWALK_TRUNCATED = 4,	/* more than max_frames: outermost frames left out */
	SMOLDER_PYWALK_READ_FAILED = 8, /* a frame could not be read: outer frames left out */
	SMOLDER_PYWALK_NO_CONFIG = 16,	/* the process has no Python config yet: not walked */
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
	__u16 python_frames;  /* struct smolder_python_frame entries after the user stack */
	__u16 python_flags;   /* enum smolder_python_walk_flags, 0 when no walk was configured */
	/* Off-CPU records (kind SMOLDER_EVENT_OFFCPU_SAMPLE) only; zero in CPU samples. */
	__u64 offcpu_ns;	   /* blocked time this record stands for (sampled weight) */
	__u32 offcpu_state;	   /* enum smolder_offcpu_state */
	__s32 offcpu_kernel_stack; /* id in the offcpu_kstacks stack map, or < 0: none */
	__u64 kernel_ips[SMOLDER_MAX_KERNEL_FRAMES]; /* leaf first */
	__u8 user_stack[]; /* then, at smolder_python_offset(user_stack_len), python frames */
};

/* Where a sample's Python frames start, from the start of user_stack. */
static inline __u32 smolder_python_offset(__u32 user_stack_len)
{
	return (user_stack_len + 7) & ~7u;
}

/* The CPU sampler's notice that the target mapped executable code from a file (mmap with
 * PROT_EXEC and a file descriptor: a library's text at dlopen). It travels in the same ring buffer
 * as the samples, in order: samples before it were taken with the old code mapped, samples after
 * it with the new (the unwinder starts a new maps generation there). */
struct smolder_code_mapped {
	__u32 kind; /* SMOLDER_EVENT_CODE_MAPPED */
	__u32 tid;
	__u32 tgid; /* the process that mapped it (process trees: one of several) */
	__u32 _pad;
	__u64 time_ns;
	__u64 addr, len;
};
_Static_assert(sizeof(struct smolder_code_mapped) == 40, "smolder_code_mapped layout");

/* Per-CPU counters of the sampler (stats map index). */
enum smolder_sampler_stat {
	SMOLDER_SAMPLER_STAT_SAMPLES = 0,	/* target samples seen by the program */
	SMOLDER_SAMPLER_STAT_SENT,		/* records written to the ring buffer */
	SMOLDER_SAMPLER_STAT_RINGBUF_FULL,	/* records dropped: ring buffer full */
	SMOLDER_SAMPLER_STAT_STACK_COPY_FAILED, /* user stack copy failed (sent without stack) */
	SMOLDER_SAMPLER_STAT_STACK_CLIPPED, /* copy stopped at the copy size before the mapping end
					     */
	SMOLDER_SAMPLER_STAT_NO_VMA,	    /* bpf_find_vma failed or found no mapping */
	SMOLDER_SAMPLER_STAT_KERNEL_STACK_FAILED, /* bpf_get_stack failed */
	SMOLDER_SAMPLER_STAT_NO_USER_REGS,	  /* no user registers for the sample */
	SMOLDER_SAMPLER_STAT_SCRATCH_MISSING,	  /* per-CPU scratch slot lookup failed */
	SMOLDER_SAMPLER_STAT_STACK_PARTIAL,	  /* copies with pages not present (zeroed) */
	SMOLDER_SAMPLER_STAT_VMA_CACHED,	  /* stack mapping found in the per-thread cache */
	SMOLDER_SAMPLER_STAT_PY_WALKS,		  /* Python walks with a thread state */
	SMOLDER_SAMPLER_STAT_PY_NO_TSTATE,	  /* samples of threads without a thread state */
	SMOLDER_SAMPLER_STAT_PY_TRUNCATED,	  /* walks cut at max_frames */
	SMOLDER_SAMPLER_STAT_PY_READ_FAILED,	  /* walks cut by an unreadable frame */
	SMOLDER_SAMPLER_STAT_PY_FRAMES,		  /* Python frames sent */
	SMOLDER_SAMPLER_STAT_CODE_MAPPED,	  /* code-mapped notices sent */
	SMOLDER_SAMPLER_STAT_CODE_MAPPED_LOST,	  /* code-mapped notices lost (ring buffer full,
						     pending table full) */
	SMOLDER_SAMPLER_STAT_TARGETS_FULL,	  /* a child not followed: target map full */
	SMOLDER_SAMPLER_STAT_PROCESS_EVENT_LOST,  /* fork/exec/exit record lost: ring buffer full */
	SMOLDER_SAMPLER_STAT_FORKS_FOLLOWED,	  /* children added to the target set */
	SMOLDER_SAMPLER_STAT_PY_NO_CONFIG,  /* samples of a process whose Python config is not known
					       (not examined yet, or the config map full) */
	SMOLDER_SAMPLER_STAT_OFFCPU_BLOCKS, /* target switch-ins with a known switch-out */
	SMOLDER_SAMPLER_STAT_OFFCPU_NO_SWITCH_OUT, /* switch-ins without a switch-out record
						      (blocked since before attach, map full) */
	SMOLDER_SAMPLER_STAT_OFFCPU_THREADS_FULL,  /* switch-out not recorded: thread map full */
	SMOLDER_SAMPLER_STAT_OFFCPU_SAMPLED_OUT,   /* short blocks not chosen by the sampling */
	SMOLDER_SAMPLER_STAT_OFFCPU_SENT,	   /* off-CPU records written */
	SMOLDER_SAMPLER_STAT_OFFCPU_RINGBUF_FULL,  /* off-CPU records lost: ring buffer full */
	SMOLDER_SAMPLER_STAT_OFFCPU_NO_USER_STACK, /* blocks sent without a user stack: no
						      syscall exit in the blocking context */
	SMOLDER_SAMPLER_STAT_OFFCPU_KSTACK_FAILED, /* bpf_get_stackid failed (map full) */
	SMOLDER_SAMPLER_STAT_COUNT,
};

/* ---- Off-CPU time (bpf/offcpu.bpf.h, part of profile.bpf.c) ---- */

/* Why a target thread was off CPU, from sched_switch. LOCK: blocked in the futex syscall (glibc
 * mutexes, condition variables, joins, semaphores all wait there); IO: TASK_UNINTERRUPTIBLE (disk
 * I/O, page faults on files, kernel mutexes); SLEEP: any other interruptible wait (nanosleep, poll,
 * epoll_wait, read on a socket or pipe); RUNNABLE: switched out while still runnable (preempted),
 * waiting for a CPU. */
enum smolder_offcpu_state {
	SMOLDER_OFFCPU_SLEEP = 0,
	SMOLDER_OFFCPU_IO = 1,
	SMOLDER_OFFCPU_LOCK = 2,
	SMOLDER_OFFCPU_RUNNABLE = 3,
	SMOLDER_OFFCPU_STATE_COUNT = 4,
};

#define SMOLDER_OFFCPU_MIN_BLOCK_DEFAULT_NS 1000000ULL /* 1 ms */
#define SMOLDER_OFFCPU_SYSCALL_FUTEX	    202	       /* x86-64 */
#define SMOLDER_OFFCPU_KSTACK_REUSE	    32 /* switch-outs a cached kernel stack serves */
#define SMOLDER_TASK_INTERRUPTIBLE	    0x1
#define SMOLDER_TASK_UNINTERRUPTIBLE	    0x2
#define SMOLDER_TASK_DEAD		    0x80	  /* the thread's last switch-out */
#define SMOLDER_OFFCPU_MIN_BLOCK_MAX_NS	    1000000000ULL /* keeps the weight math in 64 bits */

/* Per-state totals, summed in BPF for every block (per-CPU array indexed by state). */
struct smolder_offcpu_total {
	__u64 ns;
	__u64 blocks;
};

/* Per-thread off-CPU record (offcpu_threads map value, keyed by tid). */
struct smolder_offcpu_thread {
	__u64 out_ns; /* switch-out time; 0 while on CPU */
	__u32 tgid;
	__u32 out_state;     /* enum smolder_offcpu_state of the current block */
	__s32 out_kstack;    /* kernel stack id at switch-out */
	__u32 pending_state; /* the block awaiting its user stack */
	__u64 pending_ns;    /* its sampled weight; 0: none */
	__s32 pending_kstack;
	__u32 _pad;
	__u64 pending_ip, pending_sp; /* the user context it blocked in (pt_regs at switch-out) */
	__u64 out_ip, out_sp;
	__u64 total_ns[SMOLDER_OFFCPU_STATE_COUNT]; /* whole blocked time of the thread, by state */
	/* The last kernel stack taken and the switch-out it was taken at (offcpu.bpf.h). */
	__u64 kcache_ip, kcache_sp;
	__s64 kcache_nr;
	__s32 kcache_id;
	__u32 kcache_uses;
	__u32 kcache_state;
	__u32 _pad2;
};

/* The state of a thread switched out with prev_state (not TASK_DEAD), preempt and the syscall nr
 * it is in (pt_regs orig_ax; -1 or an exception's error code outside syscalls). */
static inline __u32 smolder_offcpu_state_of(__u32 prev_state, int preempt, long syscall_nr)
{
	if (preempt || prev_state == 0) /* TASK_RUNNING */
		return SMOLDER_OFFCPU_RUNNABLE;
	if (syscall_nr == SMOLDER_OFFCPU_SYSCALL_FUTEX)
		return SMOLDER_OFFCPU_LOCK;
	if (prev_state & SMOLDER_TASK_UNINTERRUPTIBLE)
		return SMOLDER_OFFCPU_IO;
	return SMOLDER_OFFCPU_SLEEP;
}

/* Weight-preserving sampling of one block of d ns with threshold t ns and a uniform 32-bit random
 * number r: a block of d >= t is always kept with weight d; a shorter one is kept with probability
 * d/t and weight t, so the expected weight is d either way and the records a thread sends are
 * bounded by its blocked time / t. Returns the weight, 0: not kept. */
static inline __u64 smolder_offcpu_weight(__u64 d, __u64 t, __u32 r)
{
	if (d == 0)
		return 0;
	if (t == 0 || d >= t)
		return d;
	/* r / 2^32 < d / t, in integers: d < 2^32 * ... kept exact by comparing r * t < d * 2^32.
	 */
	return (__u64)r * t < (d << 32) ? t : 0;
}

#ifndef __bpf__
_Static_assert(sizeof(__u64) == 8, "fixed-width types");
_Static_assert(sizeof(struct smolder_cpu_sample) == 80 + 8 * SMOLDER_MAX_KERNEL_FRAMES,
	       "smolder_cpu_sample layout");
_Static_assert(sizeof(struct smolder_process_event) == 40, "smolder_process_event layout");
_Static_assert(sizeof(struct smolder_offcpu_thread) == 144, "smolder_offcpu_thread layout");
_Static_assert(sizeof(struct smolder_offcpu_total) == 16, "smolder_offcpu_total layout");
_Static_assert(sizeof(struct smolder_python_frame) == 24, "python frame layout");
#endif

/* ---- Allocation tracking (bpf/memleak.bpf.c <-> src/alloc_tracker.c) ---- */

/* Frames the in-kernel unwinder walks per allocation, and the stack bytes copied for user space to
 * learn unwind rules when the walk meets a return address it has no rule for. */
#define SMOLDER_ALLOC_MAX_FRAMES     48
#define SMOLDER_ALLOC_SNAPSHOT_BYTES 8192

/* Stack keys: 64-bit hash of the walked return addresses. Keys with the SNAPSHOT bit name one
 * learning snapshot (seq in the low bits); key 0 is the "[stack unavailable]" site. */
#define SMOLDER_STACK_KEY_NONE	   0ULL
#define SMOLDER_STACK_KEY_SNAPSHOT (1ULL << 63)

/* Unwind rule map key: a return address (rule looked up at addr-1, as for a caller frame), or with
 * the EXACT bit an exact ip (the interrupted instruction of a syscall leaf). */
#define SMOLDER_RULE_KEY_EXACT (1ULL << 63)

enum smolder_unwind_rule_kind {
	SMOLDER_RULE_NORMAL = 0, /* CFA = (sp|bp) + cfa_offset; return address at CFA + ra_offset */
	SMOLDER_RULE_END = 1,	 /* outermost frame: the stack is complete */
	SMOLDER_RULE_STOP = 2, /* no usable rule (no CFI, expression rules): stack truncated here */
	SMOLDER_RULE_SIGRETURN = 3, /* signal trampoline: rbp, rsp, rip in the rt_sigframe at sp;
				       the next frame is an interrupted (exact) ip */
};

enum smolder_unwind_cfa_reg {
	SMOLDER_CFA_SP = 0,
	SMOLDER_CFA_BP = 1,
};

enum smolder_unwind_bp_rule {
	SMOLDER_BP_SAME = 0,	  /* caller's rbp is this frame's rbp */
	SMOLDER_BP_AT_CFA = 1,	  /* caller's rbp saved at CFA + bp_offset */
	SMOLDER_BP_UNDEFINED = 2, /* not recoverable: an rbp-based caller CFA ends the walk */
};

struct smolder_unwind_rule {
	__u8 kind;    /* enum smolder_unwind_rule_kind */
	__u8 cfa_reg; /* enum smolder_unwind_cfa_reg */
	__u8 bp_rule; /* enum smolder_unwind_bp_rule */
	__u8 pad0;
	__s32 cfa_offset;
	__s32 ra_offset;
	__s32 bp_offset;
};

/* What each probed function does; selects the entry program and how the return is read. */
enum smolder_alloc_kind {
	SMOLDER_ALLOC_MALLOC = 1,	  /* size in arg0 (malloc, valloc, new, mallocx, ...) */
	SMOLDER_ALLOC_CALLOC = 2,	  /* arg0 * arg1 */
	SMOLDER_ALLOC_REALLOC = 3,	  /* ptr arg0, size arg1 (realloc, rallocx) */
	SMOLDER_ALLOC_REALLOCARRAY = 4,	  /* ptr arg0, arg1 * arg2 */
	SMOLDER_ALLOC_MEMALIGN = 5,	  /* align arg0, size arg1 (memalign, aligned_alloc) */
	SMOLDER_ALLOC_POSIX_MEMALIGN = 6, /* *arg0 = result, size arg2, returns 0 on success */
	SMOLDER_ALLOC_XALLOCX = 7,	  /* resizes arg0 in place, returns the new usable size */
	SMOLDER_ALLOC_FREE = 8,		  /* ptr arg0 (free, delete, sdallocx, dallocx) */
	SMOLDER_ALLOC_PVALLOC = 9,	  /* size in arg0 rounded up to pages */
};

/* Uprobe cookie of an allocating entry point: the allocator's name id (leaf frame) in the low bits,
 * its enum smolder_alloc_kind above. */
#define SMOLDER_ALLOC_COOKIE_ID		0xffffu
#define SMOLDER_ALLOC_COOKIE_KIND_SHIFT 16

/* Key of the allocs and mmaps maps: a block belongs to the process that allocated it, so a free in
 * one process of a tree never matches another's block, and a child's copy of its parent's heap
 * (fork) is in nobody's books under the child's tgid: its books start empty at the fork. */
struct smolder_alloc_key {
	__u32 tgid;
	__u32 pad0;
	__u64 addr;
};

/* Unwind rules map key: rules belong to an address-space layout (a program image: a process's
 * exec starts a new one, a fork shares its parent's), so the processes of a tree running different
 * programs never read each other's rules. */
struct smolder_rule_key {
	__u64 addr; /* return address, or with SMOLDER_RULE_KEY_EXACT an exact ip */
	__u32 layout;
	__u32 pad0;
};

/* Live allocation: allocs map value, keyed by (tgid, address). */
struct smolder_alloc_info {
	__u64 size;
	__u64 time_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 stack_key;
};

/* Per stack key counters (sites map value). Outstanding = alloc - free. */
struct smolder_site_counters {
	__u64 alloc_bytes;
	__u64 alloc_count;
	__u64 free_bytes;
	__u64 free_count;
};

/* Ring buffer records. Every record starts with a __u32 kind. */
enum smolder_alloc_record {
	SMOLDER_REC_STACK = 1, /* a newly seen complete (or truncated) stack key and its frames */
	SMOLDER_REC_SNAPSHOT =
		2, /* the walk met an unknown return address: registers + stack copy */
	SMOLDER_REC_PY_STACK = 3, /* a new (native stack, Python frames) key */
	SMOLDER_REC_EXEC = 4,	  /* the target exec'ed: its old image's memory is gone */
};

/* The target called exec (sched_process_exec). Everything allocated before time_ns died with the
 * old image; return addresses learned from it mean nothing in the new one. */
struct smolder_exec_record {
	__u32 kind;    /* SMOLDER_REC_EXEC */
	__u32 tgid;    /* the process that exec'd */
	__u64 time_ns; /* bpf_ktime_get_ns, the clock of smolder_alloc_info.time_ns */
};

struct smolder_stack_record {
	__u32 kind; /* SMOLDER_REC_STACK */
	__u32 nr;   /* frames in ips */
	__u64 key;
	__u32 flags;	/* SMOLDER_STACK_F_* */
	__u32 alloc_id; /* the allocator function called (uprobe cookie), 0 for mmap */
	__u32 tgid;	/* the process that walked it (its model names the frames) */
	__u32 layout;	/* its address-space layout (rules key) */
	__u64 ips[SMOLDER_ALLOC_MAX_FRAMES]; /* return addresses, innermost caller first */
};

#define SMOLDER_STACK_F_TRUNCATED 1 /* walk stopped at a STOP rule or the depth limit */
#define SMOLDER_STACK_F_MMAP	  2 /* leaf is the exact ip of a syscall (anonymous mmap) */
#define SMOLDER_STACK_F_EXACT	  4 /* snapshot: ip is interrupted (exact), not a return address */
#define SMOLDER_STACK_F_CLIPPED	  8 /* snapshot: the copy ran out of room, the stack goes on */

struct smolder_snapshot_record {
	__u32 kind; /* SMOLDER_REC_SNAPSHOT */
	__u32 nr;   /* frames already walked, in ips */
	__u64 key;  /* SMOLDER_STACK_KEY_SNAPSHOT | seq */
	__u64 ip;   /* where the walk stopped (a return address, or exact ip with flags MMAP) */
	__u64 sp;
	__u64 bp;
	__u32 flags;	 /* SMOLDER_STACK_F_MMAP, SMOLDER_STACK_F_EXACT, SMOLDER_STACK_F_CLIPPED */
	__u32 stack_len; /* bytes valid in stack, copied from sp upward */
	__u32 alloc_id;	 /* as in smolder_stack_record */
	__u32 tgid;	 /* as in smolder_stack_record */
	__u32 layout;	 /* the rules learned from it are installed for this layout */
	__u32 pad0;
	__u64 ips[SMOLDER_ALLOC_MAX_FRAMES];
	__u8 stack[SMOLDER_ALLOC_SNAPSHOT_BYTES];
};

/* A stack key of an allocation made while the thread ran Python: the native stack's key (announced
 * before, by a stack or snapshot record) with the thread's Python frames at that instant. */
struct smolder_py_stack_record {
	__u32 kind; /* SMOLDER_REC_PY_STACK */
	__u32 nr;   /* entries in frames, innermost first */
	__u64 key;  /* the allocation's stack key */
	__u64 native_key;
	__u32 walk_flags; /* enum smolder_python_walk_flags */
	__u32 tgid;	  /* the process whose frames these are */
	struct smolder_python_frame frames[SMOLDER_PYTHON_MAX_FRAMES];
};

/* Stats counters (per-CPU array index). Every failure path in memleak.bpf.c has one. */
enum smolder_alloc_stat {
	SMOLDER_STAT_ALLOCS = 0,	 /* allocations recorded */
	SMOLDER_STAT_FREES,		 /* frees that matched a tracked allocation */
	SMOLDER_STAT_FREE_UNKNOWN,	 /* frees of memory allocated before attach (ignored) */
	SMOLDER_STAT_ALLOC_FAILED,	 /* allocator returned NULL / error */
	SMOLDER_STAT_ALLOC_TABLE_FULL,	 /* allocation not tracked: allocs map full */
	SMOLDER_STAT_SITE_TABLE_FULL,	 /* site counters map full: counted under key 0 */
	SMOLDER_STAT_STACK_TABLE_FULL,	 /* known-stacks map full: stack unavailable */
	SMOLDER_STAT_RINGBUF_FULL,	 /* stack/snapshot record lost: ring buffer full */
	SMOLDER_STAT_SNAPSHOT_THROTTLED, /* snapshot skipped by the rate limit: stack unavailable */
	SMOLDER_STAT_SNAPSHOTS,		 /* snapshots sent */
	SMOLDER_STAT_STACK_TRUNCATED,	 /* walks that ended at a STOP rule or the depth limit */
	SMOLDER_STAT_NESTED,		 /* allocator calls made by another probed allocator */
	SMOLDER_STAT_RETURN_ORPHAN,	 /* return probe without a matching entry */
	SMOLDER_STAT_THREAD_TABLE_FULL,	 /* per-thread state map full: allocation missed */
	SMOLDER_STAT_REALLOC_MOVED,	 /* realloc that moved or freed its block */
	SMOLDER_STAT_MMAP,		 /* anonymous mmaps recorded */
	SMOLDER_STAT_MUNMAP,		 /* munmaps that matched a tracked mapping */
	SMOLDER_STAT_MUNMAP_UNKNOWN,	 /* munmaps of untracked or partially tracked ranges */
	SMOLDER_STAT_MMAP_TABLE_FULL,	 /* anonymous mmap not tracked: map full */
	SMOLDER_STAT_UNSAMPLED_ALLOCS,	 /* reserved for sampling modes */
	SMOLDER_STAT_WALKS_CACHED,	 /* stack walks answered by the thread's last walk */
	SMOLDER_STAT_PY_WALKS,		 /* allocations with their Python frames read */
	SMOLDER_STAT_PY_NO_TSTATE,	 /* allocations of threads without a Python thread state */
	SMOLDER_STAT_PY_TRUNCATED,	 /* Python chains cut at the frame limit */
	SMOLDER_STAT_PY_READ_FAILED,	 /* Python chains cut by an unreadable frame */
	SMOLDER_STAT_PY_NO_CONFIG, /* allocations of a process whose Python config is not known */
	SMOLDER_STAT_TARGETS_FULL, /* a child not followed: target map full */
	SMOLDER_STAT_PROCESS_EVENT_LOST, /* fork/exec/exit record lost: ring buffer full */
	SMOLDER_STAT_FORKS_FOLLOWED,	 /* children added to the target set */
	SMOLDER_STAT_LAYOUTS_FULL,	 /* a process without a layout entry (rules not found) */
	SMOLDER_STAT_MAX,
};

#ifndef __bpf__
_Static_assert(sizeof(struct smolder_unwind_rule) == 16, "unwind rule layout");
_Static_assert(sizeof(struct smolder_alloc_info) == 24, "alloc info layout");
_Static_assert(sizeof(struct smolder_alloc_key) == 16, "alloc key layout");
_Static_assert(sizeof(struct smolder_rule_key) == 16, "rule key layout");
_Static_assert(sizeof(struct smolder_exec_record) == 16, "exec record layout");
_Static_assert(sizeof(struct smolder_py_stack_record) == 32 + 24 * SMOLDER_PYTHON_MAX_FRAMES,
	       "python stack record layout");
_Static_assert(sizeof(struct smolder_site_counters) == 32, "site counters layout");
_Static_assert(sizeof(struct smolder_stack_record) == 32 + 8 * SMOLDER_ALLOC_MAX_FRAMES,
	       "stack record layout");
_Static_assert(sizeof(struct smolder_snapshot_record) ==
		       64 + 8 * SMOLDER_ALLOC_MAX_FRAMES + SMOLDER_ALLOC_SNAPSHOT_BYTES,
	       "snapshot record layout");
#endif

/* ---- Python frame walk (bpf programs <-> src/runtime/python.c) ---- */

/* What a BPF program needs to find a sampled thread's PyThreadState and walk its frame chain.
 * Filled by python_runtime_bpf_config (include/smolder/python.h) from the per-version tables and
 * the target's own symbols; every offset is in bytes from the start of the named structure.
 * Offsets that do not apply to a version are SMOLDER_PY_NO_OFFSET.
 *
 * Finding the thread state: 3.8-3.12 keep it in a pthread TSS key (tss_key_addr holds the
 * pthread_key_t, Py_tss_t._key); glibc keeps the value of key K < 32 at
 * fsbase + pthread_specific_offset + 16 * K + 8 (struct pthread.specific_1stblock[K].data).
 * Any version (and 3.13, which keeps it in a static TLS variable instead): walk the thread list
 * from interp_head_addr and match tstate_native_thread_id (3.11+) against the tid, or
 * tstate_thread_id (pthread_t, equal to the thread's fsbase on x86-64 glibc). */
#define SMOLDER_PY_NO_OFFSET 0xffffffffu

/* The BPF programs keep one config per process (hash map python_configs, tgid -> struct
 * smolder_python_config): user space writes it when it has examined a process (version 0: not
 * Python), sched_process_fork copies the parent's to a followed child (same interpreter at the
 * same addresses), exec and exit delete it. Sized before load: this many entries when children
 * are followed, the number of given processes otherwise. */
#define SMOLDER_MAX_PYTHON_PROCESSES 8192

enum smolder_python_flags {
	/* frame_instr holds a pointer to a code unit (3.11+: prev_instr, 3.13: instr_ptr) rather
	 * than a 32-bit f_lasti (3.8-3.10) */
	SMOLDER_PY_INSTR_POINTER = 1,
};

enum smolder_python_frame_flags {
	/* the last frame run by its _PyEval_EvalFrameDefault call: the next (older) frame belongs
	 * to the next _PyEval_EvalFrameDefault frame of the native stack. Always set on 3.8-3.10,
	 * where each frame has its own call; 3.11: is_entry; 3.12+: followed by a C-stack shim. */
	SMOLDER_PY_FRAME_ENTRY = 1,
};

struct smolder_python_config {
	__u32 version;	    /* (major << 8) | minor, e.g. 0x030b; 0 when the target is not Python */
	__u32 flags;	    /* enum smolder_python_flags */
	__u64 runtime_addr; /* _PyRuntime */
	__u64 interp_head_addr;	       /* &_PyRuntime.interpreters.head */
	__u64 tss_key_addr;	       /* &Py_tss_t._key of the thread-state key; 0 on 3.13 */
	__u32 pthread_specific_offset; /* glibc struct pthread.specific_1stblock (784) */
	__u32 interp_threads_head;     /* PyInterpreterState: first PyThreadState */
	__u32 tstate_next;
	__u32 tstate_interp;
	__u32 tstate_thread_id;	       /* pthread_t */
	__u32 tstate_native_thread_id; /* kernel tid, 3.11+ */
	__u32 tstate_frame;	    /* frame (3.8-3.10), cframe (3.11-3.12), current_frame (3.13) */
	__u32 cframe_current_frame; /* _PyCFrame.current_frame, 3.11-3.12 */
	__u32 frame_previous;	    /* f_back / previous */
	__u32 frame_code;	    /* f_code / f_executable */
	__u32 frame_instr;	    /* f_lasti (s32) / prev_instr / instr_ptr (pointer) */
	__u32 frame_is_entry;	    /* 3.11: bool is_entry */
	__u32 frame_owner;	    /* 3.11+: char owner */
	__u32 owner_cstack;   /* owner of a C-stack shim frame (skipped; marks an entry), 3.12+ */
	__u64 code_type_addr; /* PyCode_Type: a frame's code object has this ob_type */
	/* Filled by sampler_set_python / alloc_tracker from the frame offsets above: the BPF walk
	 * reads each frame with one read of this window. */
	__u32 frame_read_offset; /* first byte read, from the frame's start */
	__u32 frame_read_size;	 /* bytes read, <= SMOLDER_PYTHON_FRAME_READ */
	__u32 max_frames;	 /* frames emitted at most, <= SMOLDER_PYTHON_MAX_FRAMES */
	__u32 pad0;
};

#ifndef __bpf__
_Static_assert(sizeof(struct smolder_python_config) == 112, "python config layout");
#endif

#endif
