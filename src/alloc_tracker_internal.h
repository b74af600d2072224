/* alloc_tracker_internal.h: the allocation tracker's state, shared by its three parts:
 * alloc_tracker.c (the BPF program, its tracepoints, the books through fork, exec and exit, the
 * ring buffer's reads), alloc_stacks.c (the stacks the kernel announces: interned under their
 * process's root, unwind rules learned from snapshots, pending prefixes, Python frames spliced in)
 * and alloc_samples.c (the counters read per interval: site samples, live blocks, statistics).
 * Not a public header: only those three files include it. */
#ifndef SMOLDER_ALLOC_TRACKER_INTERNAL_H
#define SMOLDER_ALLOC_TRACKER_INTERNAL_H

#include "smolder/alloc_tracker.h"
#include "smolder/mixed_stack.h"
#include "smolder/u64_map.h"

#include <stdbool.h>
#include <stdint.h>

struct process_model;

#define MMAP_KEY_BIT (1ULL << 62)

#define MAX_PENDING_SNAPSHOTS 256
/* Frames of an interned stack: the walked ones, or with Python frames spliced in, more. */
#define STACK_MAX_FRAMES (SMOLDER_ALLOC_MAX_FRAMES * 2 + 16)

/* How long a pending snapshot's key is left out of the samples, waiting for its full stack: its
 * bytes are missing from at most this much of the series; then it is reported at its prefix. */
#define PENDING_MAX_NS 2000000000ull

struct pending_snapshot {
	uint64_t key;	    /* the snapshot's stack key */
	uint64_t since_ns;  /* CLOCK_MONOTONIC when it was seen */
	uint32_t prefix_id; /* its interned (partial, truncated) stack */
};

/* A kernel rule installed as STOP because no code was known at its address when it was learned:
 * the maps were read while ld.so was still mapping a library dlopened after attach. Re-checked
 * (alloc_stacks_recheck) until code is known there; then the rule is removed and the kernel walker
 * asks again (a snapshot), so the library's frames are walked instead of ending every stack. */
struct provisional_rule {
	struct smolder_rule_key key;
	uint32_t tgid; /* whose model's unwinder re-checks it */
	bool exact;
};

#define MAX_PROVISIONAL_RULES 256
/* How often provisional rules are re-checked (each re-check may re-read /proc/PID/maps). */
#define PROVISIONAL_RECHECK_NS 200000000ull

struct alloc_tracker {
	pid_t pid; /* the first target (launch mode: the launched command) */
	struct memleak_bpf *skel;
	struct ring_buffer *ringbuf;
	struct bpf_link **links; /* tracepoints */
	size_t n_links, cap_links;
	bool multi; /* uprobe_multi links (Linux 6.6+) */
	struct alloc_probes *probes;
	bool tracepoints_attached, attached_once;
	uint32_t next_layout; /* layout ids seeded for the processes added from user space */

	/* Per process (a -p list, followed children, exec'd programs): the model whose unwinder
	 * learns the rules of its stacks and whose root frame ends them. Borrowed. */
	struct process_table *processes;
	pid_t launched_pid;	   /* its first exec is the launch itself, not a new program */
	bool launch_exec_seen;	   /* that exec's record arrived */
	struct unwinder *unwinder; /* without a process table: the one process's (borrowed) */
	struct stack_table *stacks;
	/* Named frames of the stacks: the [truncated] marker, Python functions. One registry for
	 * both, owned here, so a frame value means one thing for the whole run. */
	struct frame_names *names;
	struct u64_map key_to_stack; /* kernel stack key -> stack id */
	uint32_t *stack_flags;	     /* per stack id */
	size_t cap_flags;
	uint32_t unavailable_id; /* the empty stack: "[stack unavailable]" */

	/* Snapshots whose stack copy ran out before the walk did (deep paths, big frames): their
	 * stack is only a prefix of the call path, which the kernel walker, reading live memory
	 * with the rules just learned, walks further at the next allocation. Such a key is given
	 * the first full stack that extends its prefix, so one call path stays one site. */
	struct pending_snapshot *pending;
	size_t n_pending;

	uint64_t snapshots_unwound, rules_installed, snapshots_merged;
	struct provisional_rule *provisional; /* MAX_PROVISIONAL_RULES, allocated when needed */
	size_t n_provisional;
	uint64_t provisional_checked_ns;
	uint64_t rules_relearned; /* provisional STOP rules removed once their code was known */
	/* Python targets (alloc_tracker_set_python): allocation stacks with Python frames. */
	struct python_runtime *python; /* borrowed */
	pid_t python_pid;	       /* the process whose code objects it reads */
	unsigned python_options;       /* enum mixed_stack_options */
	struct mixed_stack_stats python_stats;
	uint64_t python_orphans; /* Python stack records whose native stack was unknown */

	/* exec and exit: the old image's (the exited process's) live blocks, closed then, are
	 * counted as freed per stack key here (the kernel's per-CPU counters are not written from
	 * user space); closed_flags says how (ALLOC_SITE_EXEC_CLOSED, ALLOC_SITE_EXIT_CLOSED). */
	struct u64_map closed_bytes, closed_count, closed_flags;
	struct alloc_tracker_exec_stats exec;
	struct alloc_tracker_tree_stats tree;
	/* Reading the ring buffer is bounded in time (alloc_tracker_consume): a tree that execs and
	 * exits faster than their books close (a shell loop) would otherwise keep one read going
	 * for ever, and -d, Ctrl-C and the run's end with it. */
	uint64_t consume_deadline_ns; /* 0: not reading */
	uint64_t consume_cut;	      /* reads cut by the deadline, records left for the next */
	bool backlogged;	      /* the last read was cut: records wait */
	bool count_only; /* the end of a backlogged run: records are counted, not read */
	uint64_t unread; /* records left unread at the end (counted as lost) */
	int ncpus;
	struct smolder_site_counters *site_values; /* one per possible CPU (per-CPU sites map) */
};

/* alloc_tracker.c */

/* Reads the ring buffer's waiting records, bounded in time (a cut read leaves t->backlogged set);
 * timeout_ms >= 0 waits that long for the first. libbpf's count or -errno. */
int alloc_tracker_consume(struct alloc_tracker *t, int timeout_ms);

/* alloc_samples.c */

/* A block of the kernel's allocs or mmaps table, as read in a batch. */
typedef void alloc_block_fn(void *ctx, const struct smolder_alloc_key *key,
			    const struct smolder_alloc_info *val);
/* Calls fn for every block of the table fd (batched reads; fn may delete the block it is given).
 * 0 or -errno. */
int alloc_samples_each_block(int fd, alloc_block_fn *fn, void *ctx);

/* alloc_stacks.c */

/* The current model of process tgid (made now when it has none), NULL without a process table. */
struct process_model *alloc_stacks_model(struct alloc_tracker *t, uint32_t tgid);
/* The unwinder that knows model's mappings (the one process's without a process table). */
struct unwinder *alloc_stacks_unwinder(struct alloc_tracker *t, struct process_model *model);
/* Interns a stack (allocator leaf, frames, [truncated] marker, process root) into *id. 0 or
 * -errno. */
int alloc_stacks_intern(struct alloc_tracker *t, const struct process_model *model,
			const uint64_t *ips, uint32_t n, uint32_t alloc_id, uint32_t flags,
			uint32_t *id);
/* The ring buffer's stack, snapshot and Python stack records. 0 or -errno (-ENOMEM). */
int alloc_stacks_on_stack_record(struct alloc_tracker *t, const struct smolder_stack_record *rec);
int alloc_stacks_on_snapshot_record(struct alloc_tracker *t,
				    const struct smolder_snapshot_record *snap);
int alloc_stacks_on_py_stack_record(struct alloc_tracker *t,
				    const struct smolder_py_stack_record *rec);
/* Re-checks the provisional rules (at most every PROVISIONAL_RECHECK_NS): each whose address is
 * now in known code is removed from the kernel, so its path is learned again. */
void alloc_stacks_recheck(struct alloc_tracker *t);
/* CLOCK_MONOTONIC now, in ns. */
uint64_t alloc_stacks_now_ns(void);

#endif
