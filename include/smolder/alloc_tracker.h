/* alloc_tracker.h: live allocation tracking of a process, a list of processes or a process tree
 * with eBPF (bpf/memleak.bpf.c): attaches uprobes to the allocator functions of every object each
 * target maps (again after dlopen and exec, and for each child as it is forked), keeps each
 * process's books apart (fork, exec, exit), turns the kernel's stack keys into interned stacks
 * rooted at their process, and reads per-site outstanding bytes and the drop counters. Owns the
 * BPF skeleton, its links and the stack table. */
#ifndef SMOLDER_ALLOC_TRACKER_H
#define SMOLDER_ALLOC_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "smolder/events.h"
#include "smolder/unwinder.h"

struct alloc_tracker;
struct stack_table;
struct unwinder;
struct python_runtime;
struct frame_names;
struct mixed_stack_stats;
struct process_table;

struct alloc_tracker_options {
	pid_t pid;	   /* the first target (launch mode: the launched command) */
	const pid_t *pids; /* more targets (-p A,B,C); may repeat pid */
	size_t n_pids;
	bool follow_children; /* children forked by a target join the set (at the fork) */
	uint32_t max_allocs;  /* live allocations tracked; 0 = default (2M) */
	uint32_t max_sites;   /* distinct stack keys; 0 = default (64K) */
};

/* Loads the BPF program sized by opts. NULL and errno on failure: EPERM/EACCES for missing
 * privilege (CAP_BPF + CAP_PERFMON, or root), ENOSYS/EOPNOTSUPP for a missing kernel feature. */
struct alloc_tracker *alloc_tracker_new(const struct alloc_tracker_options *opts);
/* Detaches and frees. NULL-safe. */
void alloc_tracker_free(struct alloc_tracker *tracker);

/* Adds pid to the targets (a descendant living at attach, with --children): its own layout, its
 * own books. Probed at the next alloc_tracker_attach. 0 or -errno. */
int alloc_tracker_add_process(struct alloc_tracker *tracker, pid_t pid);
/* Attaches the exec/fork/exit and mmap tracepoints (first call), then every allocator function in
 * the objects each living target maps now and has no probes on yet (dlopen, exec). Returns the
 * number of probe points attached in this call, or -errno. -ENOENT from the first call means no
 * allocator function was found in the first target. */
int alloc_tracker_attach(struct alloc_tracker *tracker);
/* Per-process models: each stack is unwound (snapshots) in its process's model and ends in its
 * root frame (process_table.h; its frame registry must be alloc_tracker_names). launched: the
 * launched command's pid (its first exec is the launch, not a new program), 0 for -p. Borrowed;
 * set before the first poll. Without a table, the one target's unwinder is used (set_unwinder). */
void alloc_tracker_set_processes(struct alloc_tracker *tracker, struct process_table *processes,
				 pid_t launched);
/* Launch mode: attaches to the allocator functions of the objects at paths (a program not yet
 * exec'ed, its libraries not yet mapped: uprobes are per file and the pid filter holds across
 * exec), and the mmap tracepoints. Later alloc_tracker_attach calls skip these objects. Returns
 * the probe points attached, -ENOENT when none, or -errno. */
int alloc_tracker_attach_paths(struct alloc_tracker *tracker, char *const *paths, size_t n);
/* The target processes living (not seen to exit), into pids (at most max); returns how many. */
size_t alloc_tracker_processes(const struct alloc_tracker *tracker, pid_t *pids, size_t max);
/* Number of objects with allocator probes and probe points in total. */
void alloc_tracker_probe_counts(const struct alloc_tracker *tracker, size_t *objects,
				size_t *points, size_t *emulated);

/* Consumes ring buffer records (new stacks, learning snapshots) for up to timeout_ms. 0 or -errno.
 */
int alloc_tracker_poll(struct alloc_tracker *tracker, int timeout_ms);

/* The ring buffer's epoll fd (readable when records wait), for one event loop over several
 * sources. */
int alloc_tracker_fd(const struct alloc_tracker *tracker);
/* The unwinder that learns stack rules for the kernel walker and finishes snapshots: the
 * session's, borrowed (set once the target runs its program). Until it is set, snapshots end
 * their stacks at the kernel walk's last frame. */
void alloc_tracker_set_unwinder(struct alloc_tracker *tracker, struct unwinder *unwinder);

enum alloc_site_flags {
	ALLOC_SITE_MMAP = 1,	     /* anonymous mmap, not heap */
	ALLOC_SITE_TRUNCATED = 2,    /* stack walk did not reach the thread's root */
	ALLOC_SITE_UNAVAILABLE = 4,  /* stack lost (throttled, table or ring buffer full) */
	ALLOC_SITE_EXEC_CLOSED = 8,  /* blocks of it died with an exec of the target (closed) */
	ALLOC_SITE_EXIT_CLOSED = 16, /* blocks of it died with the exit of their process (closed) */
};

/* One stack's counters at one instant; several kernel keys may add up into one stack. */
struct alloc_site_sample {
	uint32_t stack_id; /* in alloc_tracker_stacks() */
	uint32_t flags;	   /* enum alloc_site_flags */
	uint64_t outstanding_bytes;
	uint64_t outstanding_allocs;
	uint64_t alloc_bytes; /* cumulative since attach */
	uint64_t alloc_count;
};

/* Reads the per-site counters now. *samples (owned by the caller, free()) gets one entry per
 * (stack, heap|mmap). 0 or -errno. */
int alloc_tracker_sample(struct alloc_tracker *tracker, struct alloc_site_sample **samples,
			 size_t *n);

/* Before the last sample: stacks still waiting for the full stack of their call path (a learning
 * snapshot cut by its copy, left out of samples for up to 2 s) are settled where they are. */
void alloc_tracker_settle(struct alloc_tracker *tracker);

/* Walks every live allocation (heap and mmap) older than min_age_ns at now_ns (CLOCK_MONOTONIC),
 * calling fn with its site. For --min-age; costs one pass over the allocation table. 0 or -errno.
 */
typedef void (*alloc_tracker_live_fn)(void *ctx, uint32_t stack_id, uint32_t flags, uint64_t size);
int alloc_tracker_live(struct alloc_tracker *tracker, uint64_t min_age_ns, uint64_t now_ns,
		       alloc_tracker_live_fn fn, void *ctx);

/* The drop and event counters, summed over CPUs (index enum smolder_alloc_stat). 0 or -errno. */
int alloc_tracker_stats(struct alloc_tracker *tracker, uint64_t stats[SMOLDER_STAT_MAX]);
/* Stack records lost in user space (out of memory), learning snapshots unwound. */
void alloc_tracker_user_stats(const struct alloc_tracker *tracker, uint64_t *snapshots_unwound,
			      uint64_t *rules_installed, uint64_t *rules_relearned);

/* Interned stacks: the allocator pseudo frame (heap sites), then return addresses, innermost
 * caller first, then the [truncated] marker when the walk stopped short. The table belongs to the
 * tracker. */
const struct stack_table *alloc_tracker_stacks(const struct alloc_tracker *tracker);
/* The registry of the stacks' named frames: a stack whose walk did not reach the thread's root
 * (ALLOC_SITE_TRUNCATED) ends in its [truncated] marker; Python frames are interned here too
 * (python_runtime_open takes it). Owned by the tracker. */
struct frame_names;
struct frame_names *alloc_tracker_names(struct alloc_tracker *tracker);
/* Stacks of heap allocations start with a pseudo frame naming the allocator function called
 * (malloc, operator new(unsigned long), ...): ALLOC_TRACKER_FRAME_ALLOCATOR | id. Its name, or NULL
 * for an ordinary frame; the string belongs to the tracker. */
#define ALLOC_TRACKER_FRAME_ALLOCATOR (0xfff0ULL << 48)
const char *alloc_tracker_frame_name(const struct alloc_tracker *tracker, uint64_t frame);
/* Flags (ALLOC_SITE_TRUNCATED/UNAVAILABLE) of a stack id. */
uint32_t alloc_tracker_stack_flags(const struct alloc_tracker *tracker, uint32_t stack_id);
/* Process pid runs CPython rt: from now on the BPF program reads its allocating threads' Python
 * frames (per-process config, python_walk.bpf.h), and stacks carry them in place of the
 * interpreter's frames (named frames interned in names, which must be alloc_tracker_names(tracker),
 * else -EINVAL; rt is borrowed and must outlive the tracker). rt NULL: pid was examined and is not
 * Python (its allocations stop counting as "not examined"). options: enum mixed_stack_options.
 * 0 or -errno (the walk's offsets do not fit, or the config map is full: stacks stay native). */
int alloc_tracker_set_python(struct alloc_tracker *tracker, pid_t pid, struct python_runtime *rt,
			     struct frame_names *names, unsigned options);
/* The registry of the named frames in the stacks (the same as alloc_tracker_names). */
const struct frame_names *alloc_tracker_frame_names(const struct alloc_tracker *tracker);
/* Python counters; *orphans: Python stacks whose native stack was lost (shown unavailable). */
void alloc_tracker_python_stats(const struct alloc_tracker *tracker,
				struct mixed_stack_stats *stats, uint64_t *orphans);
/* Blocks closed when their process exec'd or exited: counted as freed at their sites (they are
 * not leaks) and here. */
struct alloc_tracker_closed {
	uint64_t allocs, heap_bytes; /* heap blocks */
	uint64_t mmaps, mmap_bytes;  /* anonymous mappings */
	uint64_t unaccounted;	     /* closed blocks whose site could not be adjusted (memory) */
};
/* exec of a target during the run (SMOLDER_REC_EXEC): the old image's live blocks were closed. */
struct alloc_tracker_exec_stats {
	uint64_t execs;
	uint64_t last_ns; /* CLOCK_MONOTONIC time of the last exec */
	struct alloc_tracker_closed closed;
};
void alloc_tracker_exec_stats(const struct alloc_tracker *tracker,
			      struct alloc_tracker_exec_stats *stats);
/* Process trees: children forked (followed), gone before their probes could be attached, targets
 * exited, and the blocks closed by those exits. */
struct alloc_tracker_tree_stats {
	uint64_t forks, children_gone, exits;
	struct alloc_tracker_closed exit_closed;
};
void alloc_tracker_tree_stats(const struct alloc_tracker *tracker,
			      struct alloc_tracker_tree_stats *stats);

/* Calls fn with each maps generation of the target (unwinder_set_maps_listener), at once with the
 * current one: stack frames carry their generation (frame.h), so a symbolizer fed by fn names them
 * with the objects mapped when they were walked (dlopen, exec). */
void alloc_tracker_set_maps_listener(struct alloc_tracker *tracker, unwinder_maps_listener *fn,
				     void *arg);

/* Bytes held by the tracker in user space. */
size_t alloc_tracker_memory(const struct alloc_tracker *tracker);

#endif
