/* alloc_tracker.c: the user-space half of allocation tracking. The kernel side (memleak.bpf.c)
 * keeps every live block and per-stack-key counters per process; here we attach its programs to
 * the allocator functions found in each mapped object of each target process (alloc_probes.c),
 * teach its stack walker the unwind rules it asks for (snapshots, unwound in the process's own
 * model), intern the stacks it announces under their process's root frame, keep the books through
 * fork, exec and exit, and read the counters once per interval. Nothing here runs per allocation,
 * so the tool's cost does not grow with the targets' allocation rate. */
#include "smolder/alloc_tracker.h"
#include "smolder/alloc_probes.h"
#include "smolder/frame.h"
#include "smolder/frame_names.h"
#include "smolder/log.h"
#include "smolder/mixed_stack.h"
#include "smolder/process_table.h"
#include "smolder/python.h"
#include "smolder/stack_table.h"
#include "smolder/u64_map.h"
#include "smolder/unwinder.h"

#include "memleak.skel.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MMAP_KEY_BIT	   (1ULL << 62)
#define DEFAULT_MAX_ALLOCS (1u << 21)
#define DEFAULT_MAX_SITES  (1u << 16)
/* BPF_TRACE_UPROBE_MULTI (Linux 6.6): Debian 12's headers and libbpf 1.1 predate it. */
#define ATTACH_UPROBE_MULTI 48

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
	int ncpus;
	struct smolder_site_counters *site_values; /* one per possible CPU (per-CPU sites map) */
};

/* The current model of process tgid (made now, its maps read, when it has none), or NULL without a
 * process table. */
static struct process_model *tracker_model(struct alloc_tracker *t, uint32_t tgid)
{
	if (!t->processes || tgid == 0)
		return NULL;
	return process_table_get(t->processes, (pid_t)tgid);
}

/* The unwinder that knows model's mappings (the one process's without a process table). */
static struct unwinder *tracker_unwinder(struct alloc_tracker *t, struct process_model *model)
{
	return t->processes ? (model ? model->unwinder : NULL) : t->unwinder;
}

/* Interns a stack; with an alloc_id, the allocator function becomes its leaf frame (a pseudo
 * address alloc_tracker_frame_name resolves); with a model, its root frame ("COMMAND [PID]") ends
 * it, outermost: the stack says which process's books it is in and which model names it. */
static int stack_intern(struct alloc_tracker *t, const struct process_model *model,
			const uint64_t *ips, uint32_t n, uint32_t alloc_id, uint32_t flags,
			uint32_t *id)
{
	uint64_t frames[STACK_MAX_FRAMES + 3];
	uint32_t k = 0;
	int err;

	if (n > STACK_MAX_FRAMES)
		n = STACK_MAX_FRAMES;
	if (alloc_id && alloc_probes_name(t->probes, alloc_id))
		frames[k++] = ALLOC_TRACKER_FRAME_ALLOCATOR | alloc_id;
	if (n)
		memcpy(frames + k, ips, n * sizeof(frames[0]));
	k += n;
	/* A walk that did not reach the thread's root ends in the [truncated] marker (frame.h),
	 * which every output shows as the stack's root. */
	if (flags & ALLOC_SITE_TRUNCATED) {
		err = frame_names_truncated(t->names, &frames[k]);
		if (err)
			return err;
		k++;
	}
	if (model)
		frames[k++] = model->root_frame;
	err = stack_table_add(t->stacks, frames, k, id);

	if (err)
		return err;
	if (*id >= t->cap_flags) {
		size_t cap = t->cap_flags ? t->cap_flags * 2 : 256;
		uint32_t *grown;

		while (cap <= *id)
			cap *= 2;
		grown = realloc(t->stack_flags, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		memset(grown + t->cap_flags, 0, (cap - t->cap_flags) * sizeof(*grown));
		t->stack_flags = grown;
		t->cap_flags = cap;
	}
	t->stack_flags[*id] |= flags;
	return 0;
}

/* The kernel walker's form of a compact rule. Frames it cannot step (CFI beyond the compact form,
 * no unwind info) get STOP: their stacks end there, marked truncated. */
static void rule_for_kernel(const struct unwind_rule *r, struct smolder_unwind_rule *k)
{
	memset(k, 0, sizeof(*k));
	switch (r->kind) {
	case UNWIND_RULE_ROOT:
		k->kind = SMOLDER_RULE_END;
		return;
	case UNWIND_RULE_SIGRETURN:
		k->kind = SMOLDER_RULE_SIGRETURN;
		return;
	case UNWIND_RULE_SIMPLE:
		break;
	default:
		k->kind = SMOLDER_RULE_STOP;
		return;
	}
	k->kind = SMOLDER_RULE_NORMAL;
	k->cfa_reg = r->cfa_reg == UNWIND_RULE_RBP ? SMOLDER_CFA_BP : SMOLDER_CFA_SP;
	k->cfa_offset = r->cfa_off;
	k->ra_offset = r->ra_off;
	k->bp_rule = r->rbp_rule == UNWIND_RBP_SAVED	   ? SMOLDER_BP_AT_CFA
		     : r->rbp_rule == UNWIND_RBP_UNDEFINED ? SMOLDER_BP_UNDEFINED
							   : SMOLDER_BP_SAME;
	k->bp_offset = r->rbp_off;
}

/* Installs the rule for one frame of a snapshot walk and returns its kernel kind; *next_exact
 * says whether the caller frame resumes at an exact ip (after a signal frame). */
static uint8_t learn_rule(struct alloc_tracker *t, struct unwinder *unwinder, uint32_t layout,
			  uint64_t ip, bool exact, bool *next_exact)
{
	struct unwind_rule rule;
	struct smolder_unwind_rule k;
	struct smolder_rule_key key = {.addr = ip | (exact ? SMOLDER_RULE_KEY_EXACT : 0),
				       .layout = layout};

	unwinder_rule_at(unwinder, ip, exact, &rule);
	rule_for_kernel(&rule, &k);
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.rules), &key, &k, BPF_ANY) == 0)
		t->rules_installed++;
	*next_exact = k.kind == SMOLDER_RULE_SIGRETURN;
	return k.kind;
}

/* True when stack id extends the prefix stack: the prefix's frames (without its [truncated]
 * marker) begin the other, which is longer, and both end in the same process root (or none). */
static bool stack_extends(const struct alloc_tracker *t, uint32_t prefix_id, uint32_t id)
{
	uint32_t np, n;
	const uint64_t *prefix = stack_table_get(t->stacks, prefix_id, &np);
	const uint64_t *frames = stack_table_get(t->stacks, id, &n);
	bool rooted;

	if (!prefix || !frames || id == prefix_id || np < 2 || n < np)
		return false;
	rooted = frame_kind(prefix[np - 1]) == FRAME_KIND_PROCESS;
	if (rooted && (np < 3 || frames[n - 1] != prefix[np - 1]))
		return false;
	np -= rooted ? 2 : 1; /* the marker (and the root) */
	return memcmp(prefix, frames, np * sizeof(*prefix)) == 0;
}

/* Gives pending snapshot i the full stack id: its key's allocations count there from now on. */
static void pending_resolve(struct alloc_tracker *t, size_t i, uint32_t id)
{
	if (u64_map_put(&t->key_to_stack, t->pending[i].key, id) == 0)
		t->snapshots_merged++;
	t->pending[i] = t->pending[--t->n_pending];
}

/* A full stack was announced: the pending snapshots it extends are that call path. */
static void pending_match(struct alloc_tracker *t, uint32_t id)
{
	for (size_t i = 0; i < t->n_pending;) {
		if (stack_extends(t, t->pending[i].prefix_id, id))
			pending_resolve(t, i, id);
		else
			i++;
	}
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A snapshot's copy ran out: resolve it against the stacks known already (its path was announced
 * before, by another thread), or remember it for the stacks still to come. */
static void pending_add(struct alloc_tracker *t, uint64_t key, uint32_t prefix_id)
{
	uint32_t count = stack_table_count(t->stacks);

	for (uint32_t id = 0; id < count; id++) {
		if (stack_extends(t, prefix_id, id)) {
			if (u64_map_put(&t->key_to_stack, key, id) == 0)
				t->snapshots_merged++;
			return;
		}
	}
	if (!t->pending) {
		t->pending = calloc(MAX_PENDING_SNAPSHOTS, sizeof(*t->pending));
		if (!t->pending)
			return; /* the prefix stays a site of its own */
	}
	if (t->n_pending == MAX_PENDING_SNAPSHOTS)
		memmove(t->pending, t->pending + 1, --t->n_pending * sizeof(*t->pending));
	t->pending[t->n_pending++] = (struct pending_snapshot){
		.key = key, .since_ns = mono_ns(), .prefix_id = prefix_id};
}

/* Stamps return addresses with the unwinder's maps generation (frame.h): the symbolizer then
 * names them with the objects mapped when they were walked, across dlopen, dlclose and exec. */
static void stamp_generation(struct unwinder *unwinder, uint64_t *frames, uint32_t n)
{
	uint32_t gen = unwinder ? unwinder_generation(unwinder) : 0;

	for (uint32_t i = 0; i < n; i++)
		frames[i] = frame_user(frames[i], gen);
}

static int on_stack_record(struct alloc_tracker *t, const struct smolder_stack_record *rec)
{
	uint32_t n = rec->nr < SMOLDER_ALLOC_MAX_FRAMES ? rec->nr : SMOLDER_ALLOC_MAX_FRAMES, id;
	uint32_t flags = (rec->flags & SMOLDER_STACK_F_TRUNCATED) ? ALLOC_SITE_TRUNCATED : 0;
	uint64_t ips[SMOLDER_ALLOC_MAX_FRAMES];
	struct process_model *model = tracker_model(t, rec->tgid);
	int err;

	memcpy(ips, rec->ips, n * sizeof(ips[0]));
	stamp_generation(tracker_unwinder(t, model), ips, n);
	err = stack_intern(t, model, ips, n, rec->alloc_id, flags, &id);

	if (err)
		return err;
	err = u64_map_put(&t->key_to_stack, rec->key, id);
	if (!err && t->n_pending)
		pending_match(t, id);
	return err;
}

/* The kernel walk stopped at an address without a rule: the shared unwinder finishes the stack over
 * the snapshot, and every frame's rule goes to the kernel so the next walk of this path needs no
 * snapshot. Kernel stacks hold return addresses (exact ips after a signal frame), the unwinder
 * reports lookup addresses (return address - 1): converted back frame by frame. The stack is cut
 * where the kernel walker will stop, so one call path always makes one stack. */
static int on_snapshot_record(struct alloc_tracker *t, const struct smolder_snapshot_record *snap)
{
	uint64_t ips[SMOLDER_ALLOC_MAX_FRAMES], found[SMOLDER_ALLOC_MAX_FRAMES];
	uint32_t n = snap->nr ? snap->nr - 1 : 0, id;
	struct unwind_snapshot us = {
		.ip = snap->ip,
		.sp = snap->sp,
		.bp = snap->bp,
		.stack = snap->stack,
		.stack_len = snap->stack_len <= sizeof(snap->stack) ? snap->stack_len : 0,
		.stack_clipped = snap->stack_len >= sizeof(snap->stack),
		.ip_is_return = !(snap->flags & SMOLDER_STACK_F_EXACT),
	};
	struct unwind_result res;
	bool exact = !us.ip_is_return, truncated = true, cut_by_copy = false;
	struct process_model *model = tracker_model(t, snap->tgid);
	struct unwinder *unwinder = tracker_unwinder(t, model);
	int err;

	if (n > SMOLDER_ALLOC_MAX_FRAMES - 1)
		n = SMOLDER_ALLOC_MAX_FRAMES - 1;
	memcpy(ips, snap->ips, n * sizeof(ips[0]));
	t->snapshots_unwound++;
	err = unwinder ? unwinder_unwind(unwinder, &us, found, SMOLDER_ALLOC_MAX_FRAMES - n, &res)
		       : -ENODEV;
	if (err)
		res.n = 0;
	for (uint32_t i = 0; i < res.n; i++) {
		uint64_t ip = exact ? found[i] : found[i] + 1;
		uint8_t kind = learn_rule(t, unwinder, snap->layout, ip, exact, &exact);

		ips[n++] = ip;
		if (kind == SMOLDER_RULE_END)
			truncated = false;
		if (kind != SMOLDER_RULE_NORMAL && kind != SMOLDER_RULE_SIGRETURN)
			break;
		/* Every frame stepped by a rule the kernel has too, and the copy ended: the
		 * kernel walker will go on where this walk could not. */
		if (i + 1 == res.n && (res.flags & UNWIND_TRUNCATED) &&
		    n < SMOLDER_ALLOC_MAX_FRAMES)
			cut_by_copy = true;
	}
	stamp_generation(unwinder, ips, n);
	err = stack_intern(t, model, ips, n, snap->alloc_id, truncated ? ALLOC_SITE_TRUNCATED : 0,
			   &id);
	if (err)
		return err;
	err = u64_map_put(&t->key_to_stack, snap->key, id);
	if (!err && cut_by_copy)
		pending_add(t, snap->key, id);
	return err;
}

/* A new (native stack, Python frames) key: the native stack (announced before it) with the Python
 * frames spliced in place of the interpreter's frames. */
static int on_py_stack_record(struct alloc_tracker *t, const struct smolder_py_stack_record *rec)
{
	uint64_t native[SMOLDER_ALLOC_MAX_FRAMES + 2], out[STACK_MAX_FRAMES];
	uint64_t native_id;
	const uint64_t *frames;
	uint32_t n_native, id, flags;
	struct python_runtime *rt;
	size_t n;
	int err;

	if (!u64_map_get(&t->key_to_stack, rec->native_key, &native_id) ||
	    !(frames = stack_table_get(t->stacks, (uint32_t)native_id, &n_native))) {
		t->python_orphans++;
		return u64_map_put(&t->key_to_stack, rec->key, t->unavailable_id);
	}
	/* A runtime reads the code objects of its own process: another process of the tree (a
	 * worker running the same interpreter) is named by its own model's runtime (a fork's copy
	 * of its parent's), or keeps its native stack, never names read from the wrong memory. */
	rt = t->python;
	if (t->processes && (pid_t)rec->tgid != t->python_pid) {
		const struct process_model *m = process_table_find(t->processes, (pid_t)rec->tgid);

		rt = m ? m->python : NULL;
	}
	if (!rt)
		return u64_map_put(&t->key_to_stack, rec->key, native_id);
	if (n_native > SMOLDER_ALLOC_MAX_FRAMES + 2)
		n_native = SMOLDER_ALLOC_MAX_FRAMES + 2;
	/* Copied: interning the result may move the table's storage. */
	memcpy(native, frames, n_native * sizeof(native[0]));
	flags = t->stack_flags[native_id];
	/* stack_intern appends the [truncated] marker again: splice the frames without it. */
	if (n_native && frame_kind(native[n_native - 1]) == FRAME_KIND_PROCESS)
		n_native--; /* the root, appended again by stack_intern */
	if (n_native && frame_names_is_truncated(t->names, native[n_native - 1]))
		n_native--;
	n = mixed_stack_splice(
		rt, t->names, rec->frames,
		rec->nr < SMOLDER_PYTHON_MAX_FRAMES ? rec->nr : SMOLDER_PYTHON_MAX_FRAMES,
		rec->walk_flags, native, n_native,
		t->python_options | ((rec->key & MMAP_KEY_BIT) ? MIXED_STACK_MMAP_SITE : 0), out,
		sizeof(out) / sizeof(out[0]), &t->python_stats);
	err = stack_intern(t, tracker_model(t, rec->tgid), out, (uint32_t)n, 0, flags, &id);
	if (err)
		return err;
	return u64_map_put(&t->key_to_stack, rec->key, id);
}

int alloc_tracker_set_python(struct alloc_tracker *t, pid_t pid, struct python_runtime *rt,
			     struct frame_names *names, unsigned options)
{
	struct smolder_python_config cfg = {0};
	uint32_t key = (uint32_t)pid;
	int ret = 0;

	if (names != t->names)
		return -EINVAL; /* frames interned elsewhere would mean other names here */
	if (rt) {
		ret = python_runtime_bpf_config(rt, &cfg);
		if (ret == 0)
			ret = mixed_stack_walk_window(&cfg);
		if (ret < 0)
			return ret;
	}
	/* One update replaces the whole per-process entry (python_walk.bpf.h): a walk on another
	 * CPU copies the old or the new one. rt NULL: examined, not Python (version 0). */
	ret = bpf_map__update_elem(t->skel->maps.python_configs, &key, sizeof(key), &cfg,
				   sizeof(cfg), BPF_ANY);
	if (ret < 0)
		return ret;
	/* The first target's runtime is the tracker's own; the other processes' are their
	 * models' (process_table_enable_python), found by on_py_stack_record. */
	if (rt && (pid == t->pid || !t->python)) {
		t->python = rt;
		t->python_pid = pid; /* its code objects are read from that process */
	}
	if (rt)
		t->python_options = options;
	return 0;
}

const struct frame_names *alloc_tracker_frame_names(const struct alloc_tracker *t)
{
	return t->names;
}

void alloc_tracker_python_stats(const struct alloc_tracker *t, struct mixed_stack_stats *stats,
				uint64_t *orphans)
{
	*stats = t->python_stats;
	*orphans = t->python_orphans;
}

/* Adds value to key's entry of map (0 when absent). False when out of memory. */
static bool map_add(struct u64_map *map, uint64_t key, uint64_t value)
{
	uint64_t old = 0;

	u64_map_get(map, key, &old);
	return u64_map_put(map, key, old + value) == 0;
}

/* Closes books: removes process tgid's blocks of map fd allocated before before_ns (an exec: the
 * old image's, gone with it; an exit: all of them) and marks their stack keys with how (flag). An
 * exec's are counted as freed at their keys (the process lives on without them); an exit's are
 * not: the exited process's sites keep what it held when it exited (its stack keys are its own
 * and never change again), as a leak checker reports what a program still held at its exit. */
static void close_books(struct alloc_tracker *t, int fd, uint32_t tgid, uint64_t before_ns,
			bool mmap, uint32_t flag, struct alloc_tracker_closed *closed)
{
	enum { BATCH = 4096 };
	struct smolder_alloc_key *keys = malloc(BATCH * sizeof(*keys));
	uint64_t in_batch = 0, out_batch; /* the hash map's bucket cursor */
	struct smolder_alloc_info *vals = malloc(BATCH * sizeof(*vals));
	bool first = true;
	uint64_t f;

	if (!keys || !vals)
		goto out;
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = BATCH;
		int err = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch, keys, vals,
					       &count, &opts);

		if (err && errno != ENOENT)
			break;
		for (__u32 i = 0; i < count; i++) {
			if (keys[i].tgid != tgid || vals[i].time_ns >= before_ns)
				continue;
			if (bpf_map_delete_elem(fd, &keys[i]) != 0)
				continue; /* freed meanwhile */
			f = 0;
			u64_map_get(&t->closed_flags, vals[i].stack_key, &f);
			if (u64_map_put(&t->closed_flags, vals[i].stack_key, f | flag) ||
			    (flag == ALLOC_SITE_EXEC_CLOSED &&
			     (!map_add(&t->closed_bytes, vals[i].stack_key, vals[i].size) ||
			      !map_add(&t->closed_count, vals[i].stack_key, 1))))
				closed->unaccounted++;
			if (mmap) {
				closed->mmap_bytes += vals[i].size;
				closed->mmaps++;
			} else {
				closed->heap_bytes += vals[i].size;
				closed->allocs++;
			}
		}
		if (err) /* ENOENT: that was the last batch */
			break;
		in_batch = out_batch;
		first = false;
	}
out:
	free(keys);
	free(vals);
}

/* A target exec'd: close the old image's books (its live blocks died: counted, never a leak or a
 * plateau). The kernel gave the process a new layout, so the new image's stacks get new keys and
 * its rules are learned afresh, while the old image's stacks keep their model (its names). The
 * process's next model is made for the new program at its first stack; the new image's own
 * objects are probed at the next alloc_tracker_attach (probes on shared objects, libc, stay: the
 * pid filter holds across exec). A launched command's own exec (from smolder's held child into
 * CMD) is the start of its run: its model, made before, is re-read instead. */
static void on_exec_record(struct alloc_tracker *t, const struct smolder_exec_record *rec)
{
	pid_t pid = rec->tgid ? (pid_t)rec->tgid : t->pid;
	struct process_model *m;
	bool launch = pid == t->launched_pid && !t->launch_exec_seen;

	t->exec.execs++;
	t->exec.last_ns = rec->time_ns;
	close_books(t, bpf_map__fd(t->skel->maps.allocs), (uint32_t)pid, rec->time_ns, false,
		    ALLOC_SITE_EXEC_CLOSED, &t->exec.closed);
	close_books(t, bpf_map__fd(t->skel->maps.mmaps), (uint32_t)pid, rec->time_ns, true,
		    ALLOC_SITE_EXEC_CLOSED, &t->exec.closed);
	if (launch)
		t->launch_exec_seen = true;
	if (t->processes && !launch) {
		if (process_table_exec(t->processes, pid))
			t->exec.closed.unaccounted++;
	} else {
		m = t->processes ? process_table_find(t->processes, pid) : NULL;
		if (tracker_unwinder(t, m))
			unwinder_refresh_maps(tracker_unwinder(t, m));
	}
	if (!launch)
		log_info("leaks: pid %d exec'd: %llu allocations (%llu bytes) of old images closed "
			 "so far",
			 (int)pid, (unsigned long long)t->exec.closed.allocs,
			 (unsigned long long)t->exec.closed.heap_bytes);
}

/* A followed child was forked, or a target exited (bpf/target_set.bpf.h). A child's books start
 * empty at the fork (its copy of the parent's heap is in nobody's books under its pid); it gets
 * its own probes now, on the objects it maps, so its allocations are seen from here on (those made
 * between the fork and this attach are not: counted as frees of untracked memory if freed). An
 * exited process's books are closed: its blocks leave the kernel's table (counted), its sites keep
 * what it held at its exit (close_books), its model stays for the stacks already seen. */
static void on_process_event(struct alloc_tracker *t, const struct smolder_process_event *ev)
{
	pid_t pid = (pid_t)ev->tgid;
	int err;

	switch (ev->kind) {
	case SMOLDER_EVENT_FORK:
		t->tree.forks++;
		if (t->processes)
			process_table_fork(t->processes, pid, (pid_t)ev->parent_tgid);
		err = alloc_probes_attach_process(t->probes, pid);
		if (err < 0 && err != -ESRCH)
			log_debug("leaks: cannot probe child %d: %s", (int)pid, strerror(-err));
		if (err == -ESRCH)
			t->tree.children_gone++;
		break;
	case SMOLDER_EVENT_EXIT:
		t->tree.exits++;
		close_books(t, bpf_map__fd(t->skel->maps.allocs), (uint32_t)pid, UINT64_MAX, false,
			    ALLOC_SITE_EXIT_CLOSED, &t->tree.exit_closed);
		close_books(t, bpf_map__fd(t->skel->maps.mmaps), (uint32_t)pid, UINT64_MAX, true,
			    ALLOC_SITE_EXIT_CLOSED, &t->tree.exit_closed);
		if (t->processes)
			process_table_exit(t->processes, pid);
		alloc_probes_forget(t->probes, pid);
		break;
	default:
		break;
	}
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct alloc_tracker *t = ctx;
	uint32_t kind;

	if (size < sizeof(kind))
		return 0;
	memcpy(&kind, data, sizeof(kind));
	if (kind == SMOLDER_REC_STACK && size >= sizeof(struct smolder_stack_record))
		return on_stack_record(t, data) == -ENOMEM ? -ENOMEM : 0;
	if (kind == SMOLDER_REC_EXEC && size >= sizeof(struct smolder_exec_record)) {
		on_exec_record(t, data);
		return 0;
	}
	if ((kind == SMOLDER_EVENT_FORK || kind == SMOLDER_EVENT_EXIT) &&
	    size >= sizeof(struct smolder_process_event)) {
		on_process_event(t, data);
		return 0;
	}
	if (kind == SMOLDER_REC_SNAPSHOT && size >= sizeof(struct smolder_snapshot_record))
		return on_snapshot_record(t, data) == -ENOMEM ? -ENOMEM : 0;
	if (kind == SMOLDER_REC_PY_STACK && size >= sizeof(struct smolder_py_stack_record))
		return on_py_stack_record(t, data) == -ENOMEM ? -ENOMEM : 0;
	return 0;
}

/* True when the running kernel has uprobe_multi links: its BTF lists BPF_TRACE_UPROBE_MULTI in
 * enum bpf_attach_type. A kernel without them may still load the programs typed for them (older
 * kernels do not check a kprobe program's attach type) and fail only at attach, so this is asked
 * before choosing. */
static bool kernel_has_uprobe_multi(void)
{
	const char *env = getenv("SMOLDER_UPROBE_MULTI"); /* "0": per-function uprobes (tests) */
	const struct btf_type *type;
	bool found = false;
	struct btf *btf;
	int id;

	if (env && strcmp(env, "0") == 0)
		return false;
	btf = btf__load_vmlinux_btf();
	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, "bpf_attach_type", BTF_KIND_ENUM);
	type = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (int i = 0; type && i < btf_vlen(type) && !found; i++) {
		const char *name = btf__name_by_offset(btf, btf_enum(type)[i].name_off);

		found = name && strcmp(name, "BPF_TRACE_UPROBE_MULTI") == 0;
	}
	btf__free(btf);
	return found;
}

/* Opens, sizes and loads the BPF program into t->skel; multi: its uprobe programs for
 * uprobe_multi links. 0 or -errno. */
static int skeleton_load(struct alloc_tracker *t, const struct alloc_tracker_options *opts,
			 bool multi)
{
	t->skel = memleak_bpf__open();
	if (!t->skel)
		return -errno;
	t->skel->rodata->follow_children = opts->follow_children;
	bpf_map__set_max_entries(t->skel->maps.targets, SMOLDER_MAX_TARGETS);
	bpf_map__set_max_entries(t->skel->maps.allocs,
				 opts->max_allocs ? opts->max_allocs : DEFAULT_MAX_ALLOCS);
	bpf_map__set_max_entries(t->skel->maps.sites,
				 opts->max_sites ? opts->max_sites : DEFAULT_MAX_SITES);
	bpf_map__set_max_entries(t->skel->maps.known_stacks,
				 opts->max_sites ? opts->max_sites : DEFAULT_MAX_SITES);
	if (multi) {
		struct bpf_program *progs[] = {
			t->skel->progs.alloc_enter_prog, t->skel->progs.alloc_return,
			t->skel->progs.free_enter, t->skel->progs.delete_enter};

		for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
			bpf_program__set_expected_attach_type(progs[i], ATTACH_UPROBE_MULTI);
	}
	t->multi = multi;
	return memleak_bpf__load(t->skel);
}

struct alloc_tracker *alloc_tracker_new(const struct alloc_tracker_options *opts)
{
	struct alloc_tracker *t = calloc(1, sizeof(*t));
	uint64_t none = SMOLDER_STACK_KEY_NONE;
	int err;

	if (!t)
		return NULL;
	t->pid = opts->pid;
	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus <= 0) {
		err = -EINVAL;
		goto fail;
	}
	t->stacks = stack_table_new();
	t->names = frame_names_new();
	if (!t->stacks || !t->names) {
		err = -errno;
		goto fail;
	}
	err = stack_intern(t, NULL, NULL, 0, 0, ALLOC_SITE_UNAVAILABLE, &t->unavailable_id);
	if (err)
		goto fail;
	/* uprobe_multi programs where the kernel has them (6.6+); should their load fail all the
	 * same, the per-function uprobes. */
	err = skeleton_load(t, opts, kernel_has_uprobe_multi());
	if (err && t->multi) {
		memleak_bpf__destroy(t->skel);
		t->skel = NULL;
		err = skeleton_load(t, opts, false);
	}
	if (err)
		goto fail;
	/* Site key 0 collects what cannot get its own entry; it must exist before any probe. */
	t->site_values = calloc((size_t)t->ncpus, sizeof(*t->site_values));
	if (!t->site_values) {
		err = -ENOMEM;
		goto fail;
	}
	err = bpf_map_update_elem(bpf_map__fd(t->skel->maps.sites), &none, t->site_values, BPF_ANY);
	if (err) {
		err = -errno;
		goto fail;
	}
	err = u64_map_put(&t->key_to_stack, SMOLDER_STACK_KEY_NONE, t->unavailable_id);
	if (err)
		goto fail;
	t->ringbuf = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_record, t, NULL);
	if (!t->ringbuf) {
		err = -errno;
		goto fail;
	}
	t->probes = alloc_probes_new(&(struct alloc_probe_programs){
		.alloc_enter = t->skel->progs.alloc_enter_prog,
		.alloc_return = t->skel->progs.alloc_return,
		.free_enter = t->skel->progs.free_enter,
		.delete_enter = t->skel->progs.delete_enter,
		.multi = t->multi,
	});
	if (!t->probes) {
		err = -ENOMEM;
		goto fail;
	}
	/* The given processes are targets from the start, each with a layout of its own (they
	 * may run different programs); the fork tracepoint adds children (alloc_tracker_attach). */
	t->next_layout = 1;
	err = alloc_tracker_add_process(t, opts->pid);
	for (size_t i = 0; !err && i < opts->n_pids; i++)
		err = alloc_tracker_add_process(t, opts->pids[i]);
	if (err)
		goto fail;
	return t;
fail:
	alloc_tracker_free(t);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

int alloc_tracker_add_process(struct alloc_tracker *t, pid_t pid)
{
	uint32_t tgid = (uint32_t)pid, zero = 0, layout;

	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.targets), &tgid, &zero) == 0)
		return 0; /* listed twice, or a descendant given with -p too */
	layout = t->next_layout++;
	/* Exec layouts are numbered after the seeded ones. */
	if (t->skel->data->layout_seq <= layout)
		t->skel->data->layout_seq = layout + 1;
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.layouts), &tgid, &layout, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(t->skel->maps.targets), &tgid, &zero, BPF_ANY))
		return -errno;
	return alloc_probes_add_process(t->probes, pid);
}

void alloc_tracker_free(struct alloc_tracker *t)
{
	if (!t)
		return;
	alloc_probes_free(t->probes);
	for (size_t i = 0; i < t->n_links; i++)
		bpf_link__destroy(t->links[i]);
	free(t->links);
	ring_buffer__free(t->ringbuf);
	memleak_bpf__destroy(t->skel);
	stack_table_free(t->stacks);
	frame_names_free(t->names);
	u64_map_release(&t->key_to_stack);
	u64_map_release(&t->closed_bytes);
	u64_map_release(&t->closed_count);
	u64_map_release(&t->closed_flags);
	free(t->stack_flags);
	free(t->pending);
	free(t->site_values);
	free(t);
}

static int link_add(struct alloc_tracker *t, struct bpf_link *link)
{
	struct bpf_link **grown = realloc(t->links, (t->n_links + 1) * sizeof(*grown));

	if (!grown) {
		bpf_link__destroy(link);
		return -ENOMEM;
	}
	t->links = grown;
	t->links[t->n_links++] = link;
	return 0;
}

const char *alloc_tracker_frame_name(const struct alloc_tracker *t, uint64_t frame)
{
	uint64_t id = frame & ~ALLOC_TRACKER_FRAME_ALLOCATOR;

	if ((frame & ALLOC_TRACKER_FRAME_ALLOCATOR) != ALLOC_TRACKER_FRAME_ALLOCATOR || id == 0 ||
	    id > UINT32_MAX)
		return NULL;
	return alloc_probes_name(t->probes, (uint32_t)id);
}

/* The tracepoints, once: exec, fork and exit of targets (the set follows the tree), anonymous
 * mmap/munmap. A failure of the mmap ones only loses mmap tracking. */
static int attach_tracepoints(struct alloc_tracker *t)
{
	struct bpf_program *tps[] = {t->skel->progs.mmap_enter, t->skel->progs.mmap_exit,
				     t->skel->progs.munmap_enter};
	struct bpf_program *tree[] = {t->skel->progs.exec_event, t->skel->progs.target_set_fork,
				      t->skel->progs.target_set_exit};
	struct bpf_link *link;
	int err;

	if (t->tracepoints_attached)
		return 0;
	for (size_t i = 0; i < sizeof(tree) / sizeof(tree[0]); i++) {
		link = bpf_program__attach(tree[i]);
		if (!link) {
			err = -errno;
			/* A privilege gap is the caller's to name (uprobe_multi links need less
			 * than tracepoints: leaks needs both). */
			if (err == -EPERM || err == -EACCES)
				return err;
			log_warn("leaks: cannot attach %s: %s; forks, execs and exits of the "
				 "targets will not be noticed",
				 bpf_program__name(tree[i]), strerror(-err));
			continue;
		}
		err = link_add(t, link);
		if (err)
			return err;
	}
	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
		link = bpf_program__attach(tps[i]);
		if (!link) {
			log_warn("leaks: cannot attach %s: %s; anonymous mmap not tracked",
				 bpf_program__name(tps[i]), strerror(errno));
			continue;
		}
		err = link_add(t, link);
		if (err)
			return err;
	}
	t->tracepoints_attached = true;
	return 0;
}

int alloc_tracker_attach_paths(struct alloc_tracker *t, char *const *paths, size_t n)
{
	int err = attach_tracepoints(t), total;

	if (err)
		return err;
	total = alloc_probes_attach_paths(t->probes, t->pid, paths, n);
	if (total < 0)
		return total;
	t->attached_once = true;
	return total ? total : -ENOENT;
}

int alloc_tracker_attach(struct alloc_tracker *t)
{
	enum { MAX_SCAN = 4096 };
	bool first = !t->attached_once;
	size_t n, objects, points, emulated;
	pid_t *pids;
	int err, total = 0, first_err = 0;

	/* Tracepoints first: a fork from here on is seen by the kernel, so a child forked
	 * while the processes below are probed is not missed. */
	err = attach_tracepoints(t);
	if (err)
		return err;
	pids = malloc(MAX_SCAN * sizeof(*pids));
	if (!pids)
		return -ENOMEM;
	n = alloc_probes_processes(t->probes, pids, MAX_SCAN);
	for (size_t i = 0; i < n && i < MAX_SCAN; i++) {
		err = alloc_probes_attach_process(t->probes, pids[i]);
		if (err == -EPERM || err == -EACCES || err == -ENOMEM) {
			free(pids);
			return err;
		}
		if (err < 0) {
			if (!first_err && pids[i] == t->pid)
				first_err = err;
			continue;
		}
		total += err;
	}
	free(pids);
	t->attached_once = true;
	/* Once per interval: also catches an exec after launch-mode probes were attached by path.
	 * An exited target (no maps left) keeps the last ones for its pending snapshots. */
	if (!t->processes && t->unwinder && first_err == 0)
		unwinder_refresh_maps(t->unwinder);
	alloc_probes_counts(t->probes, &objects, &points, &emulated);
	if (first && first_err)
		return first_err;
	if (first && points == 0)
		return -ENOENT;
	return total;
}

void alloc_tracker_probe_counts(const struct alloc_tracker *t, size_t *objects, size_t *points,
				size_t *emulated)
{
	alloc_probes_counts(t->probes, objects, points, emulated);
}

size_t alloc_tracker_processes(const struct alloc_tracker *t, pid_t *pids, size_t max)
{
	return alloc_probes_processes(t->probes, pids, max);
}

void alloc_tracker_set_processes(struct alloc_tracker *t, struct process_table *processes,
				 pid_t launched)
{
	t->processes = processes;
	t->launched_pid = launched;
}

void alloc_tracker_tree_stats(const struct alloc_tracker *t, struct alloc_tracker_tree_stats *stats)
{
	*stats = t->tree;
}

int alloc_tracker_fd(const struct alloc_tracker *t)
{
	return ring_buffer__epoll_fd(t->ringbuf);
}

void alloc_tracker_set_unwinder(struct alloc_tracker *t, struct unwinder *unwinder)
{
	t->unwinder = unwinder;
}

int alloc_tracker_poll(struct alloc_tracker *t, int timeout_ms)
{
	int n = ring_buffer__poll(t->ringbuf, timeout_ms);

	if (n == -EINTR)
		return 0;
	return n < 0 ? n : 0;
}

#define KEY_DEFERRED UINT32_MAX

/* The stack id of a kernel key. With defer, a pending snapshot's key younger than PENDING_MAX_NS
 * gives KEY_DEFERRED (left out of this sample: its full stack may still come, and a site must not
 * lose counts it has shown); otherwise a pending key is settled at its prefix for good. */
static uint32_t key_stack_defer(struct alloc_tracker *t, uint64_t key, bool defer)
{
	uint64_t id;

	for (size_t i = 0; i < t->n_pending; i++) {
		if (t->pending[i].key != key)
			continue;
		if (defer && mono_ns() - t->pending[i].since_ns < PENDING_MAX_NS)
			return KEY_DEFERRED;
		t->pending[i] = t->pending[--t->n_pending];
		break;
	}
	if (u64_map_get(&t->key_to_stack, key, &id))
		return (uint32_t)id;
	/* Announcement lost or not consumed yet: drain the ring buffer once, then give up. */
	ring_buffer__consume(t->ringbuf);
	if (u64_map_get(&t->key_to_stack, key, &id))
		return (uint32_t)id;
	return t->unavailable_id;
}

static uint32_t key_stack(struct alloc_tracker *t, uint64_t key)
{
	return key_stack_defer(t, key, false);
}

void alloc_tracker_settle(struct alloc_tracker *t)
{
	ring_buffer__consume(t->ringbuf);
	t->n_pending = 0;
}

/* Accumulates into samples, merging entries with the same (stack, mmap). */
struct sample_acc {
	struct alloc_site_sample *items;
	size_t n, cap;
	struct u64_map index; /* (stack id << 1 | mmap) -> item index */
};

static struct alloc_site_sample *acc_get(struct sample_acc *acc, uint32_t stack_id, uint32_t flags)
{
	uint64_t k = (uint64_t)stack_id << 1 | ((flags & ALLOC_SITE_MMAP) ? 1 : 0), idx;

	if (u64_map_get(&acc->index, k, &idx))
		return &acc->items[idx];
	if (acc->n == acc->cap) {
		size_t cap = acc->cap ? acc->cap * 2 : 64;
		struct alloc_site_sample *grown = realloc(acc->items, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		acc->items = grown;
		acc->cap = cap;
	}
	if (u64_map_put(&acc->index, k, acc->n))
		return NULL;
	memset(&acc->items[acc->n], 0, sizeof(acc->items[0]));
	acc->items[acc->n].stack_id = stack_id;
	acc->items[acc->n].flags = flags;
	return &acc->items[acc->n++];
}

int alloc_tracker_sample(struct alloc_tracker *t, struct alloc_site_sample **samples, size_t *n)
{
	int fd = bpf_map__fd(t->skel->maps.sites);
	struct sample_acc acc = {0};
	uint64_t key, next, *prev = NULL;
	struct smolder_site_counters c;
	int err = 0;

	ring_buffer__consume(t->ringbuf);
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct alloc_site_sample *s;
		uint32_t id, flags;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, t->site_values))
			continue;
		memset(&c, 0, sizeof(c));
		for (int cpu = 0; cpu < t->ncpus; cpu++) {
			c.alloc_bytes += t->site_values[cpu].alloc_bytes;
			c.alloc_count += t->site_values[cpu].alloc_count;
			c.free_bytes += t->site_values[cpu].free_bytes;
			c.free_count += t->site_values[cpu].free_count;
		}
		if (t->closed_count.count) {
			uint64_t bytes, count;

			if (u64_map_get(&t->closed_bytes, key, &bytes))
				c.free_bytes += bytes;
			if (u64_map_get(&t->closed_count, key, &count))
				c.free_count += count;
		}
		id = key_stack_defer(t, key, true);
		if (id == KEY_DEFERRED)
			continue;
		flags = (key & MMAP_KEY_BIT) ? ALLOC_SITE_MMAP : 0;
		if (t->closed_flags.count) {
			uint64_t closed;

			if (u64_map_get(&t->closed_flags, key, &closed))
				flags |= (uint32_t)closed;
		}
		flags |= alloc_tracker_stack_flags(t, id);
		s = acc_get(&acc, id, flags);
		if (!s) {
			err = -ENOMEM;
			break;
		}
		s->alloc_bytes += c.alloc_bytes;
		s->alloc_count += c.alloc_count;
		/* Frees of a site can be counted before its allocation on another CPU: clamp. */
		s->outstanding_bytes +=
			c.alloc_bytes > c.free_bytes ? c.alloc_bytes - c.free_bytes : 0;
		s->outstanding_allocs +=
			c.alloc_count > c.free_count ? c.alloc_count - c.free_count : 0;
	}
	u64_map_release(&acc.index);
	if (err) {
		free(acc.items);
		return err;
	}
	*samples = acc.items;
	*n = acc.n;
	return 0;
}

static int live_map(struct alloc_tracker *t, int fd, bool mmap, uint64_t min_age_ns,
		    uint64_t now_ns, alloc_tracker_live_fn fn, void *ctx)
{
	enum { BATCH = 4096 };
	struct smolder_alloc_key *keys = malloc(BATCH * sizeof(*keys));
	uint64_t in_batch = 0, out_batch; /* the hash map's bucket cursor */
	struct smolder_alloc_info *vals = malloc(BATCH * sizeof(*vals));
	bool first = true;
	int err = 0;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = BATCH;

		err = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch, keys, vals,
					   &count, &opts);
		if (err && errno != ENOENT) {
			err = -errno;
			break;
		}
		for (__u32 i = 0; i < count; i++) {
			uint64_t age = now_ns > vals[i].time_ns ? now_ns - vals[i].time_ns : 0;
			uint32_t id;

			if (age < min_age_ns)
				continue;
			id = key_stack(t, vals[i].stack_key);
			fn(ctx, id, (mmap ? ALLOC_SITE_MMAP : 0) | alloc_tracker_stack_flags(t, id),
			   vals[i].size);
		}
		if (err) { /* ENOENT: that was the last batch */
			err = 0;
			break;
		}
		in_batch = out_batch;
		first = false;
	}
out:
	free(keys);
	free(vals);
	return err;
}

int alloc_tracker_live(struct alloc_tracker *t, uint64_t min_age_ns, uint64_t now_ns,
		       alloc_tracker_live_fn fn, void *ctx)
{
	int err;

	ring_buffer__consume(t->ringbuf);
	err = live_map(t, bpf_map__fd(t->skel->maps.allocs), false, min_age_ns, now_ns, fn, ctx);
	if (err)
		return err;
	return live_map(t, bpf_map__fd(t->skel->maps.mmaps), true, min_age_ns, now_ns, fn, ctx);
}

int alloc_tracker_stats(struct alloc_tracker *t, uint64_t stats[SMOLDER_STAT_MAX])
{
	int fd = bpf_map__fd(t->skel->maps.stats);
	uint64_t *percpu = calloc((size_t)t->ncpus, sizeof(uint64_t));

	if (!percpu)
		return -ENOMEM;
	for (uint32_t i = 0; i < SMOLDER_STAT_MAX; i++) {
		stats[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, percpu))
			continue;
		for (int c = 0; c < t->ncpus; c++)
			stats[i] += percpu[c];
	}
	free(percpu);
	return 0;
}

void alloc_tracker_user_stats(const struct alloc_tracker *t, uint64_t *snapshots_unwound,
			      uint64_t *rules_installed)
{
	*snapshots_unwound = t->snapshots_unwound;
	*rules_installed = t->rules_installed;
}

const struct stack_table *alloc_tracker_stacks(const struct alloc_tracker *t)
{
	return t->stacks;
}

void alloc_tracker_exec_stats(const struct alloc_tracker *t, struct alloc_tracker_exec_stats *stats)
{
	*stats = t->exec;
}

void alloc_tracker_set_maps_listener(struct alloc_tracker *t, unwinder_maps_listener *fn, void *arg)
{
	if (t->unwinder)
		unwinder_set_maps_listener(t->unwinder, fn, arg);
}

struct frame_names *alloc_tracker_names(struct alloc_tracker *t)
{
	return t->names;
}

uint32_t alloc_tracker_stack_flags(const struct alloc_tracker *t, uint32_t stack_id)
{
	return stack_id < t->cap_flags ? t->stack_flags[stack_id] : 0;
}

size_t alloc_tracker_memory(const struct alloc_tracker *t)
{
	return stack_table_memory(t->stacks) + u64_map_memory(&t->key_to_stack) +
	       t->cap_flags * sizeof(uint32_t);
}
