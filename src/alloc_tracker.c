/* alloc_tracker.c: the user-space half of allocation tracking. The kernel side (memleak.bpf.c)
 * keeps every live block and per-stack-key counters; here we attach its programs to the allocator
 * functions found in each mapped object, teach its stack walker the unwind rules it asks for
 * (snapshots), intern the stacks it announces, and read the counters once per interval. Nothing
 * here runs per allocation, so the tool's cost does not grow with the target's allocation rate. */
#include "smolder/alloc_tracker.h"
#include "smolder/alloc_symbols.h"
#include "smolder/frame.h"
#include "smolder/frame_names.h"
#include "smolder/log.h"
#include "smolder/mixed_stack.h"
#include "smolder/proc_maps.h"
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* libstdc++'s demangler (the Itanium C++ ABI entry point), as the symbolizer uses it. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

#define MMAP_KEY_BIT	   (1ULL << 62)
#define DEFAULT_MAX_ALLOCS (1u << 21)
#define DEFAULT_MAX_SITES  (1u << 16)
/* BPF_TRACE_UPROBE_MULTI and BPF_F_UPROBE_MULTI_RETURN (Linux 6.6): Debian 12's headers and libbpf
 * 1.1 predate them. */
#define ATTACH_UPROBE_MULTI 48
#define UPROBE_MULTI_RETURN 1u

struct attached_object {
	uint64_t dev, inode;
};

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
	pid_t pid;
	struct memleak_bpf *skel;
	struct ring_buffer *ringbuf;
	struct bpf_link **links;
	size_t n_links, cap_links;
	/* With uprobe_multi links (Linux 6.6+): one link per program and object instead of one per
	 * probe point. Removing a uprobe waits for an RCU grace period (about 0.1 s here, one after
	 * another under the kernel's event mutex): the 20 single links of a plain C target took 2 s
	 * at the end of every run; a multi link waits once for all its points. */
	bool multi;
	int *multi_fds;
	size_t n_multi_fds;
	struct attached_object *objects; /* objects scanned (with or without allocator functions) */
	size_t n_objects;
	size_t n_probe_objects, n_points, n_emulated;
	bool tracepoints_attached;

	struct unwinder *unwinder; /* borrowed: rules for the kernel walker, snapshot unwinding */
	struct stack_table *stacks;
	/* Named frames of the stacks: the [truncated] marker, Python functions. One registry for
	 * both, owned here, so a frame value means one thing for the whole run. */
	struct frame_names *names;
	struct u64_map key_to_stack; /* kernel stack key -> stack id */
	uint32_t *stack_flags;	     /* per stack id */
	size_t cap_flags;
	uint32_t unavailable_id; /* the empty stack: "[stack unavailable]" */

	char **alloc_names; /* allocator function names shown as leaf frames, by alloc_id - 1 */
	size_t n_alloc_names;

	/* Snapshots whose stack copy ran out before the walk did (deep paths, big frames): their
	 * stack is only a prefix of the call path, which the kernel walker, reading live memory
	 * with the rules just learned, walks further at the next allocation. Such a key is given
	 * the first full stack that extends its prefix, so one call path stays one site. */
	struct pending_snapshot *pending;
	size_t n_pending;

	uint64_t snapshots_unwound, rules_installed, snapshots_merged;
	/* Python targets (alloc_tracker_set_python): allocation stacks with Python frames. */
	struct python_runtime *python; /* borrowed */
	unsigned python_options;       /* enum mixed_stack_options */
	struct mixed_stack_stats python_stats;
	uint64_t python_orphans; /* Python stack records whose native stack was unknown */

	/* exec: the old image's live blocks, closed at the exec (SMOLDER_REC_EXEC), are counted as
	 * freed per stack key here (the kernel's per-CPU counters are not written from user space).
	 */
	struct u64_map exec_freed_bytes, exec_freed_count;
	struct alloc_tracker_exec_stats exec;
	int ncpus;
	struct smolder_site_counters *site_values; /* one per possible CPU (per-CPU sites map) */
};

/* Interns a stack; with an alloc_id, the allocator function becomes its leaf frame (a pseudo
 * address alloc_tracker_frame_name resolves). */
static int stack_intern(struct alloc_tracker *t, const uint64_t *ips, uint32_t n, uint32_t alloc_id,
			uint32_t flags, uint32_t *id)
{
	uint64_t frames[STACK_MAX_FRAMES + 2];
	uint32_t k = 0;
	int err;

	if (n > STACK_MAX_FRAMES)
		n = STACK_MAX_FRAMES;
	if (alloc_id && alloc_id <= t->n_alloc_names)
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
static uint8_t learn_rule(struct alloc_tracker *t, uint64_t ip, bool exact, bool *next_exact)
{
	struct unwind_rule rule;
	struct smolder_unwind_rule k;
	uint64_t key = ip | (exact ? SMOLDER_RULE_KEY_EXACT : 0);

	unwinder_rule_at(t->unwinder, ip, exact, &rule);
	rule_for_kernel(&rule, &k);
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.rules), &key, &k, BPF_ANY) == 0)
		t->rules_installed++;
	*next_exact = k.kind == SMOLDER_RULE_SIGRETURN;
	return k.kind;
}

/* True when stack id extends the prefix stack: the prefix's frames (without its [truncated]
 * marker) begin the other, which is longer. */
static bool stack_extends(const struct alloc_tracker *t, uint32_t prefix_id, uint32_t id)
{
	uint32_t np, n;
	const uint64_t *prefix = stack_table_get(t->stacks, prefix_id, &np);
	const uint64_t *frames = stack_table_get(t->stacks, id, &n);

	if (!prefix || !frames || id == prefix_id || np < 2 || n < np)
		return false;
	np--; /* the marker */
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
static void stamp_generation(const struct alloc_tracker *t, uint64_t *frames, uint32_t n)
{
	uint32_t gen = t->unwinder ? unwinder_generation(t->unwinder) : 0;

	for (uint32_t i = 0; i < n; i++)
		frames[i] = frame_user(frames[i], gen);
}

static int on_stack_record(struct alloc_tracker *t, const struct smolder_stack_record *rec)
{
	uint32_t n = rec->nr < SMOLDER_ALLOC_MAX_FRAMES ? rec->nr : SMOLDER_ALLOC_MAX_FRAMES, id;
	uint32_t flags = (rec->flags & SMOLDER_STACK_F_TRUNCATED) ? ALLOC_SITE_TRUNCATED : 0;
	uint64_t ips[SMOLDER_ALLOC_MAX_FRAMES];
	int err;

	memcpy(ips, rec->ips, n * sizeof(ips[0]));
	stamp_generation(t, ips, n);
	err = stack_intern(t, ips, n, rec->alloc_id, flags, &id);

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
	int err;

	if (n > SMOLDER_ALLOC_MAX_FRAMES - 1)
		n = SMOLDER_ALLOC_MAX_FRAMES - 1;
	memcpy(ips, snap->ips, n * sizeof(ips[0]));
	t->snapshots_unwound++;
	err = t->unwinder
		      ? unwinder_unwind(t->unwinder, &us, found, SMOLDER_ALLOC_MAX_FRAMES - n, &res)
		      : -ENODEV;
	if (err)
		res.n = 0;
	for (uint32_t i = 0; i < res.n; i++) {
		uint64_t ip = exact ? found[i] : found[i] + 1;
		uint8_t kind = learn_rule(t, ip, exact, &exact);

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
	stamp_generation(t, ips, n);
	err = stack_intern(t, ips, n, snap->alloc_id, truncated ? ALLOC_SITE_TRUNCATED : 0, &id);
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
	size_t n;
	int err;

	if (!t->python || !u64_map_get(&t->key_to_stack, rec->native_key, &native_id) ||
	    !(frames = stack_table_get(t->stacks, (uint32_t)native_id, &n_native))) {
		t->python_orphans++;
		return u64_map_put(&t->key_to_stack, rec->key, t->unavailable_id);
	}
	if (n_native > SMOLDER_ALLOC_MAX_FRAMES + 2)
		n_native = SMOLDER_ALLOC_MAX_FRAMES + 2;
	/* Copied: interning the result may move the table's storage. */
	memcpy(native, frames, n_native * sizeof(native[0]));
	flags = t->stack_flags[native_id];
	/* stack_intern appends the [truncated] marker again: splice the frames without it. */
	if (n_native && frame_names_is_truncated(t->names, native[n_native - 1]))
		n_native--;
	n = mixed_stack_splice(
		t->python, t->names, rec->frames,
		rec->nr < SMOLDER_PYTHON_MAX_FRAMES ? rec->nr : SMOLDER_PYTHON_MAX_FRAMES,
		rec->walk_flags, native, n_native,
		t->python_options | ((rec->key & MMAP_KEY_BIT) ? MIXED_STACK_MMAP_SITE : 0), out,
		sizeof(out) / sizeof(out[0]), &t->python_stats);
	err = stack_intern(t, out, (uint32_t)n, 0, flags, &id);
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
	if (rt) {
		t->python = rt;
		t->python_options = options;
	}
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

/* Deletes every key of a BPF hash map (the map is small: rules, known stacks). */
static void map_clear(int fd)
{
	uint64_t key, next;

	while (bpf_map_get_next_key(fd, NULL, &next) == 0) {
		key = next;
		if (bpf_map_delete_elem(fd, &key))
			break;
	}
}

/* Removes the blocks of map fd allocated before exec_ns (the old image's, gone with it) and counts
 * them as freed at their stack keys. */
static void exec_close_books(struct alloc_tracker *t, int fd, uint64_t exec_ns, bool mmap)
{
	uint64_t key, next, *prev = NULL, bytes, count;
	struct smolder_alloc_info info;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &info) || info.time_ns >= exec_ns) {
			prev = &key;
			continue;
		}
		/* A deleted key cannot be the iteration's cursor: start over (the new image's
		 * entries, skipped on the way, are few when this runs). */
		if (bpf_map_delete_elem(fd, &key) == 0) {
			if (!u64_map_get(&t->exec_freed_bytes, info.stack_key, &bytes))
				bytes = 0;
			if (!u64_map_get(&t->exec_freed_count, info.stack_key, &count))
				count = 0;
			if (u64_map_put(&t->exec_freed_bytes, info.stack_key, bytes + info.size) ||
			    u64_map_put(&t->exec_freed_count, info.stack_key, count + 1))
				t->exec.unaccounted++;
			if (mmap) {
				t->exec.mmap_bytes += info.size;
				t->exec.mmaps++;
			} else {
				t->exec.heap_bytes += info.size;
				t->exec.allocs++;
			}
		}
		prev = NULL;
	}
}

/* The target exec'ed: close the old image's books (its live blocks died: counted, never a leak or
 * a plateau), forget the unwind rules and stacks learned from its code (the kernel walker relearns
 * them for the new image), and re-read the maps (a new maps generation: old stacks keep the old
 * image's names, new ones get the new image's). Probes on shared objects stay (they are per file
 * and pid); the new image's own objects are scanned at the next alloc_tracker_attach. */
static void on_exec_record(struct alloc_tracker *t, const struct smolder_exec_record *rec)
{
	t->exec.execs++;
	t->exec.last_ns = rec->time_ns;
	exec_close_books(t, bpf_map__fd(t->skel->maps.allocs), rec->time_ns, false);
	exec_close_books(t, bpf_map__fd(t->skel->maps.mmaps), rec->time_ns, true);
	map_clear(bpf_map__fd(t->skel->maps.rules));
	map_clear(bpf_map__fd(t->skel->maps.known_stacks));
	t->n_pending = 0;
	if (t->unwinder)
		unwinder_refresh_maps(t->unwinder);
	log_info("leaks: pid %d exec'd: %llu allocations (%llu bytes) of the old image closed",
		 (int)t->pid, (unsigned long long)t->exec.allocs,
		 (unsigned long long)t->exec.heap_bytes);
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
	t->skel->rodata->target_tgid = (uint32_t)opts->pid;
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
	err = stack_intern(t, NULL, 0, 0, ALLOC_SITE_UNAVAILABLE, &t->unavailable_id);
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
	return t;
fail:
	alloc_tracker_free(t);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

struct link_destroyer {
	struct bpf_link **links;
	size_t n, first, stride;
};

static void *link_destroyer_run(void *arg)
{
	struct link_destroyer *d = arg;

	for (size_t i = d->first; i < d->n; i += d->stride)
		bpf_link__destroy(d->links[i]);
	return NULL;
}

/* Closing a uprobe perf event is slow: perf_uprobe_destroy waits for an RCU tasks-trace grace
 * period under the kernel's event_mutex, so the 124 probe links of a redis run took 17-19 s to
 * close one after the other on this machine under load (~10 s idle). Closed from several threads,
 * the parts outside the mutex overlap: 10 s under the same load (kernel 6.18, 2 CPUs, load 11-30).
 * The serialized part remains; a uprobe-multi link (one per object) would remove it. */
static void destroy_links(struct bpf_link **links, size_t n)
{
	enum { DESTROYERS = 32 };
	struct link_destroyer d[DESTROYERS];
	pthread_t threads[DESTROYERS];
	bool started[DESTROYERS] = {false};
	size_t stride = n < DESTROYERS ? n : DESTROYERS;

	for (size_t k = 0; k < stride; k++) {
		d[k] = (struct link_destroyer){links, n, k, stride};
		started[k] = pthread_create(&threads[k], NULL, link_destroyer_run, &d[k]) == 0;
	}
	for (size_t k = 0; k < stride; k++) {
		if (started[k])
			pthread_join(threads[k], NULL);
		else /* no thread: do its share here */
			link_destroyer_run(&d[k]);
	}
}

void alloc_tracker_free(struct alloc_tracker *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_multi_fds; i++)
		close(t->multi_fds[i]);
	free(t->multi_fds);
	destroy_links(t->links, t->n_links);
	free(t->links);
	ring_buffer__free(t->ringbuf);
	memleak_bpf__destroy(t->skel);
	stack_table_free(t->stacks);
	frame_names_free(t->names);
	u64_map_release(&t->key_to_stack);
	u64_map_release(&t->exec_freed_bytes);
	u64_map_release(&t->exec_freed_count);
	free(t->stack_flags);
	free(t->pending);
	free(t->objects);
	free(t->site_values);
	for (size_t i = 0; i < t->n_alloc_names; i++)
		free(t->alloc_names[i]);
	free(t->alloc_names);
	free(t);
}

static int link_add(struct alloc_tracker *t, struct bpf_link *link)
{
	if (t->n_links == t->cap_links) {
		size_t cap = t->cap_links ? t->cap_links * 2 : 64;
		struct bpf_link **grown = realloc(t->links, cap * sizeof(*grown));

		if (!grown) {
			bpf_link__destroy(link);
			return -ENOMEM;
		}
		t->links = grown;
		t->cap_links = cap;
	}
	t->links[t->n_links++] = link;
	return 0;
}

static struct bpf_program *entry_program(struct alloc_tracker *t, const struct alloc_probe_point *p)
{
	struct memleak_bpf *s = t->skel;

	if (p->kind == SMOLDER_ALLOC_FREE)
		return p->is_delete ? s->progs.delete_enter : s->progs.free_enter;
	return s->progs.alloc_enter_prog;
}

/* The alloc_id (1-based) for an allocator function name, shown as C++ code shows it. */
static int alloc_name_id(struct alloc_tracker *t, const char *symbol, uint32_t *id)
{
	char *name = NULL, **grown;
	int status = -1;

	if (strncmp(symbol, "_Z", 2) == 0)
		name = __cxa_demangle(symbol, NULL, NULL, &status);
	if (!name || status != 0) {
		free(name);
		name = strdup(symbol);
		if (!name)
			return -ENOMEM;
	}
	for (size_t i = 0; i < t->n_alloc_names; i++) {
		if (strcmp(t->alloc_names[i], name) == 0) {
			free(name);
			*id = (uint32_t)i + 1;
			return 0;
		}
	}
	grown = realloc(t->alloc_names, (t->n_alloc_names + 1) * sizeof(*grown));
	if (!grown) {
		free(name);
		return -ENOMEM;
	}
	t->alloc_names = grown;
	t->alloc_names[t->n_alloc_names++] = name;
	*id = (uint32_t)t->n_alloc_names;
	return 0;
}

const char *alloc_tracker_frame_name(const struct alloc_tracker *t, uint64_t frame)
{
	uint64_t id = frame & ~ALLOC_TRACKER_FRAME_ALLOCATOR;

	if ((frame & ALLOC_TRACKER_FRAME_ALLOCATOR) != ALLOC_TRACKER_FRAME_ALLOCATOR || id == 0 ||
	    id > t->n_alloc_names)
		return NULL;
	return t->alloc_names[id - 1];
}

static int attach_point(struct alloc_tracker *t, const char *path,
			const struct alloc_probe_point *p)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts);
	struct bpf_program *prog = entry_program(t, p);
	struct bpf_link *link;
	uint32_t alloc_id = 0;
	int err;

	if (!prog)
		return -EINVAL;
	if (p->kind != SMOLDER_ALLOC_FREE) {
		err = alloc_name_id(t, p->name, &alloc_id);
		if (err)
			return err;
		if (alloc_id > SMOLDER_ALLOC_COOKIE_ID)
			alloc_id = 0; /* more names than the cookie holds: no leaf frame */
	}
	if (p->retprobe) {
		/* Return probe first: a call that enters after the entry probe is live must also
		 * come back through ours, or its thread would look "inside the allocator" forever.
		 * Same address as the entry probe: the kernel shares one breakpoint for both, and
		 * the probe point is before any stack adjustment, so [sp] is the return address. */
		opts.retprobe = true;
		link = bpf_program__attach_uprobe_opts(t->skel->progs.alloc_return, t->pid, path,
						       p->file_offset, &opts);
		if (!link)
			return -errno;
		err = link_add(t, link);
		if (err)
			return err;
	}
	opts.retprobe = false;
	opts.bpf_cookie = alloc_id | (uint64_t)p->kind << SMOLDER_ALLOC_COOKIE_KIND_SHIFT;
	link = bpf_program__attach_uprobe_opts(prog, t->pid, path, p->file_offset, &opts);
	if (!link)
		return -errno;
	return link_add(t, link);
}

static bool object_seen(struct alloc_tracker *t, uint64_t dev, uint64_t inode)
{
	for (size_t i = 0; i < t->n_objects; i++) {
		if (t->objects[i].dev == dev && t->objects[i].inode == inode)
			return true;
	}
	return false;
}

/* BPF_LINK_CREATE's uprobe_multi attributes (union bpf_attr.link_create, Linux 6.6). */
struct link_create_uprobe_multi {
	uint32_t prog_fd, target_fd, attach_type, flags;
	uint64_t path, offsets, ref_ctr_offsets, cookies;
	uint32_t cnt, multi_flags, pid;
};

/* One uprobe_multi link of prog on offsets[0..cnt) of path for the target; its fd is kept in
 * multi_fds. 0 or -errno. */
static int multi_link(struct alloc_tracker *t, struct bpf_program *prog, const char *path,
		      const uint64_t *offsets, const uint64_t *cookies, uint32_t cnt,
		      uint32_t flags)
{
	union bpf_attr attr;
	struct link_create_uprobe_multi a = {
		.prog_fd = (uint32_t)bpf_program__fd(prog),
		.attach_type = ATTACH_UPROBE_MULTI,
		.path = (uint64_t)(uintptr_t)path,
		.offsets = (uint64_t)(uintptr_t)offsets,
		.cookies = (uint64_t)(uintptr_t)cookies,
		.cnt = cnt,
		.multi_flags = flags,
		.pid = (uint32_t)t->pid,
	};
	int *grown, fd;

	_Static_assert(sizeof(a) <= sizeof(attr), "uprobe_multi attributes fit union bpf_attr");
	if (cnt == 0)
		return 0;
	grown = realloc(t->multi_fds, (t->n_multi_fds + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	t->multi_fds = grown;
	memset(&attr, 0, sizeof(attr));
	memcpy(&attr, &a, sizeof(a));
	fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	if (fd < 0)
		return -errno;
	t->multi_fds[t->n_multi_fds++] = fd;
	return 0;
}

/* attach_file with uprobe_multi links: the return probes first (a call that enters after the
 * entry probe is live must come back through ours), then the entries, one link per program. */
static int attach_set_multi(struct alloc_tracker *t, const char *path,
			    const struct alloc_probe_set *set)
{
	struct memleak_bpf *sk = t->skel;
	/* Offsets per link: [0] returns, [1] allocating entries, [2] free, [3] delete; [4] holds
	 * the cookies of [1]. */
	struct bpf_program *progs[4] = {sk->progs.alloc_return, sk->progs.alloc_enter_prog,
					sk->progs.free_enter, sk->progs.delete_enter};
	size_t stride = set->n + 1;
	uint64_t *block = calloc(5 * stride, sizeof(uint64_t)), *cookies;
	uint32_t n[4] = {0};
	int err = 0;

	if (!block)
		return -ENOMEM;
	cookies = block + 4 * stride;
	for (size_t i = 0; i < set->n && !err; i++) {
		const struct alloc_probe_point *p = &set->points[i];
		uint32_t id = 0, k;

		if (p->retprobe)
			block[n[0]++] = p->file_offset;
		if (p->kind == SMOLDER_ALLOC_FREE) {
			k = p->is_delete ? 3 : 2;
			block[k * stride + n[k]++] = p->file_offset;
			continue;
		}
		err = alloc_name_id(t, p->name, &id);
		if (id > SMOLDER_ALLOC_COOKIE_ID)
			id = 0; /* more names than the cookie holds: no leaf frame */
		cookies[n[1]] = id | (uint64_t)p->kind << SMOLDER_ALLOC_COOKIE_KIND_SHIFT;
		block[stride + n[1]++] = p->file_offset;
	}
	for (uint32_t k = 0; k < 4 && !err; k++)
		err = multi_link(t, progs[k], path, block + k * stride, k == 1 ? cookies : NULL,
				 n[k], k == 0 ? UPROBE_MULTI_RETURN : 0);
	free(block);
	return err;
}

/* Probes the allocator functions of one object: symbols read from scan_path (or name when that
 * fails), uprobes attached through attach_path. Returns the points attached or -errno. */
static int attach_file(struct alloc_tracker *t, const char *scan_path, const char *attach_path,
		       const char *name)
{
	struct alloc_probe_set set;
	int err, attached = 0;

	/* /proc/PID/map_files needs CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE) where ptrace read
	 * access suffices for /proc/PID/root: fall back as the unwinder and symbolizer do, then
	 * to the path as smolder sees it. */
	err = alloc_symbols_scan(scan_path, &set);
	if ((err == -ENOENT || err == -EACCES || err == -EPERM) && strcmp(attach_path, scan_path))
		err = alloc_symbols_scan(attach_path, &set);
	if (err == -ENOENT || err == -EACCES || err == -EPERM)
		err = alloc_symbols_scan(name, &set);
	if (err) {
		log_debug("leaks: cannot read symbols of %s: %s", name, strerror(-err));
		return 0;
	}
	if (t->multi && set.n) {
		err = attach_set_multi(t, attach_path, &set);
		if (err) {
			log_warn("leaks: cannot probe the allocator functions of %s: %s", name,
				 strerror(-err));
			alloc_probe_set_release(&set);
			return err == -EPERM || err == -EACCES ? err : 0;
		}
		for (size_t i = 0; i < set.n; i++)
			log_debug("leaks: probing %s in %s at +%u (%s)", set.points[i].name, name,
				  set.points[i].probe_delta,
				  set.points[i].emulated ? "emulated" : "single-stepped");
		for (size_t i = 0; i < set.n; i++)
			t->n_emulated += set.points[i].emulated;
		t->n_points += set.n;
		t->n_probe_objects++;
		attached = (int)set.n;
		alloc_probe_set_release(&set);
		return attached;
	}
	for (size_t i = 0; i < set.n; i++) {
		err = attach_point(t, attach_path, &set.points[i]);
		if (err) {
			log_warn("leaks: cannot probe %s in %s: %s", set.points[i].name, name,
				 strerror(-err));
			if (err == -EPERM || err == -EACCES) {
				alloc_probe_set_release(&set);
				return err;
			}
			continue;
		}
		log_debug("leaks: probing %s in %s at +%u (%s)", set.points[i].name, name,
			  set.points[i].probe_delta,
			  set.points[i].emulated ? "emulated" : "single-stepped");
		attached++;
		t->n_points++;
		t->n_emulated += set.points[i].emulated;
	}
	if (attached)
		t->n_probe_objects++;
	alloc_probe_set_release(&set);
	return attached;
}

static int attach_object(struct alloc_tracker *t, const struct proc_map *map)
{
	char scan_path[4096], attach_path[4096];

	if (proc_maps_file_path(t->pid, map, scan_path, sizeof(scan_path)))
		return 0;
	/* Attach through /proc/PID/root so a target in another mount namespace works too. */
	snprintf(attach_path, sizeof(attach_path), "/proc/%d/root%s", (int)t->pid, map->path);
	return attach_file(t, scan_path, attach_path, map->path);
}

static int object_remember(struct alloc_tracker *t, uint64_t dev, uint64_t inode)
{
	struct attached_object *grown = realloc(t->objects, (t->n_objects + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	t->objects = grown;
	t->objects[t->n_objects++] = (struct attached_object){dev, inode};
	return 0;
}

/* Anonymous mmap/munmap tracepoints, once. A failure only loses mmap tracking. */
static int attach_tracepoints(struct alloc_tracker *t)
{
	struct bpf_program *tps[] = {t->skel->progs.mmap_enter, t->skel->progs.mmap_exit,
				     t->skel->progs.munmap_enter};
	struct bpf_link *exec_link;
	int err;

	if (t->tracepoints_attached)
		return 0;
	exec_link = bpf_program__attach(t->skel->progs.exec_event);
	if (!exec_link) {
		err = -errno;
		/* A privilege gap is the caller's to name (uprobe_multi links need less than
		 * tracepoints: leaks needs both). */
		if (err == -EPERM || err == -EACCES)
			return err;
		log_warn("leaks: cannot attach the exec tracepoint: %s; an exec of the target will "
			 "not be noticed",
			 strerror(-err));
	} else if ((err = link_add(t, exec_link))) {
		return err;
	}
	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
		struct bpf_link *link = bpf_program__attach(tps[i]);

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
	int err, total = 0;

	for (size_t i = 0; i < n; i++) {
		struct stat st;
		uint64_t dev;

		if (stat(paths[i], &st) != 0)
			continue;
		dev = (uint64_t)major(st.st_dev) << 32 | minor(st.st_dev);
		if (object_seen(t, dev, st.st_ino))
			continue;
		err = object_remember(t, dev, st.st_ino);
		if (err)
			return err;
		err = attach_file(t, paths[i], paths[i], paths[i]);
		if (err < 0)
			return err;
		total += err;
	}
	err = attach_tracepoints(t);
	if (err)
		return err;
	return total ? total : -ENOENT;
}

int alloc_tracker_attach(struct alloc_tracker *t)
{
	struct proc_maps maps;
	int err, total = 0;
	bool first = t->n_objects == 0 && !t->tracepoints_attached;

	err = proc_maps_read(t->pid, &maps);
	if (err)
		return err;
	for (size_t i = 0; i < maps.n; i++) {
		const struct proc_map *m = &maps.maps[i];
		uint64_t dev = (uint64_t)m->dev_major << 32 | m->dev_minor;

		if (!(m->perms & PROC_MAP_EXEC) || m->path[0] != '/' || m->inode == 0)
			continue;
		if (strstr(m->path, " (deleted)"))
			continue;
		if (object_seen(t, dev, m->inode))
			continue;
		err = object_remember(t, dev, m->inode);
		if (err)
			goto out;
		err = attach_object(t, m);
		if (err < 0)
			goto out;
		total += err;
	}
	err = attach_tracepoints(t);
	if (err)
		goto out;
	/* Once per interval: also catches an exec after launch-mode probes were attached by path.
	 * An exited target (no maps left) keeps the last ones for its pending snapshots. */
	if (maps.n > 0 && t->unwinder)
		unwinder_refresh_maps(t->unwinder);
	err = total;
	if (first && t->n_points == 0)
		err = -ENOENT;
out:
	proc_maps_release(&maps);
	return err;
}

void alloc_tracker_probe_counts(const struct alloc_tracker *t, size_t *objects, size_t *points,
				size_t *emulated)
{
	*objects = t->n_probe_objects;
	*points = t->n_points;
	*emulated = t->n_emulated;
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
		if (t->exec.execs) {
			uint64_t bytes, count;

			if (u64_map_get(&t->exec_freed_bytes, key, &bytes))
				c.free_bytes += bytes;
			if (u64_map_get(&t->exec_freed_count, key, &count))
				c.free_count += count;
		}
		id = key_stack_defer(t, key, true);
		if (id == KEY_DEFERRED)
			continue;
		flags = (key & MMAP_KEY_BIT) ? ALLOC_SITE_MMAP : 0;
		if (t->exec.execs) {
			uint64_t closed;

			if (u64_map_get(&t->exec_freed_count, key, &closed))
				flags |= ALLOC_SITE_EXEC_CLOSED;
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
	uint64_t *keys = malloc(BATCH * sizeof(uint64_t)), in_batch = 0, out_batch;
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
