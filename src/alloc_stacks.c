/* alloc_stacks.c: the stacks of the allocation tracker (alloc_tracker_internal.h): each stack key
 * the kernel announces is interned with the allocator as its leaf and its process's root frame as
 * its outermost frame; a learning snapshot is unwound in its process's own model and every rule of
 * its frames is installed for the process's layout, so the kernel walker needs no snapshot for
 * that path again; a snapshot cut by its copy waits (pending) for the full stack that extends it;
 * Python frames are spliced in with the process's own runtime. */
#include "alloc_tracker_internal.h"
#include "smolder/alloc_probes.h"
#include "smolder/frame.h"
#include "smolder/frame_names.h"
#include "smolder/process_table.h"
#include "smolder/python.h"
#include "smolder/stack_table.h"
#include "smolder/unwinder.h"

#include "memleak.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The current model of process tgid (made now, its maps read, when it has none), or NULL without a
 * process table. */
struct process_model *alloc_stacks_model(struct alloc_tracker *t, uint32_t tgid)
{
	if (!t->processes || tgid == 0)
		return NULL;
	return process_table_get(t->processes, (pid_t)tgid);
}

/* The unwinder that knows model's mappings (the one process's without a process table). */
struct unwinder *alloc_stacks_unwinder(struct alloc_tracker *t, struct process_model *model)
{
	return t->processes ? (model ? model->unwinder : NULL) : t->unwinder;
}

/* Interns a stack; with an alloc_id, the allocator function becomes its leaf frame (a pseudo
 * address alloc_tracker_frame_name resolves); with a model, its root frame ("COMMAND [PID]") ends
 * it, outermost: the stack says which process's books it is in and which model names it. */
int alloc_stacks_intern(struct alloc_tracker *t, const struct process_model *model,
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

/* True when the kernel rule under key is provisional. The exact bit counts: an ip learned both
 * as a return address and as an exact ip (after a signal frame) is two kernel rules, each of
 * which must be re-checked, or the second stays a stop for the run. */
static bool is_provisional(const struct alloc_tracker *t, const struct smolder_rule_key *key)
{
	for (size_t i = 0; i < t->n_provisional; i++) {
		const struct smolder_rule_key *k = &t->provisional[i].key;

		if (k->addr == key->addr && k->layout == key->layout)
			return true;
	}
	return false;
}

/* Remembers a STOP rule installed for want of known code at its address. A full list keeps the
 * rule for good (the stack stays marked truncated). */
static void provisional_add(struct alloc_tracker *t, const struct smolder_rule_key *key,
			    uint32_t tgid, bool exact)
{
	if (!t->provisional) {
		t->provisional = calloc(MAX_PROVISIONAL_RULES, sizeof(*t->provisional));
		if (!t->provisional)
			return;
	}
	if (t->n_provisional < MAX_PROVISIONAL_RULES)
		t->provisional[t->n_provisional++] =
			(struct provisional_rule){.key = *key, .tgid = tgid, .exact = exact};
}

void alloc_stacks_recheck(struct alloc_tracker *t)
{
	uint64_t now = alloc_stacks_now_ns();

	if (!t->n_provisional || now - t->provisional_checked_ns < PROVISIONAL_RECHECK_NS)
		return;
	t->provisional_checked_ns = now;
	for (size_t i = 0; i < t->n_provisional;) {
		struct provisional_rule *p = &t->provisional[i];
		struct process_model *model =
			t->processes ? process_table_find(t->processes, (pid_t)p->tgid) : NULL;
		struct unwinder *unwinder = alloc_stacks_unwinder(t, model);
		struct unwind_rule rule;
		bool known;

		if (!unwinder) { /* the process is gone: nothing walks there any more */
			t->provisional[i] = t->provisional[--t->n_provisional];
			continue;
		}
		known = unwinder_rule_at(unwinder, p->key.addr & ~SMOLDER_RULE_KEY_EXACT, p->exact,
					 &rule) == 0;
		if (!known) {
			i++;
			continue;
		}
		if (bpf_map_delete_elem(bpf_map__fd(t->skel->maps.rules), &p->key) == 0)
			t->rules_relearned++;
		t->provisional[i] = t->provisional[--t->n_provisional];
	}
}

/* Installs the rule for one frame of a snapshot walk and returns its kernel kind; *next_exact
 * says whether the caller frame resumes at an exact ip (after a signal frame). An address in no
 * known code gets STOP provisionally (*provisional): a library may be mapped but not yet listed
 * in the maps that were read, and alloc_stacks_recheck removes the rule once it is. */
static uint8_t learn_rule(struct alloc_tracker *t, struct unwinder *unwinder, uint32_t tgid,
			  uint32_t layout, uint64_t ip, bool exact, bool *next_exact,
			  bool *provisional)
{
	struct unwind_rule rule;
	struct smolder_unwind_rule k;
	struct smolder_rule_key key = {.addr = ip | (exact ? SMOLDER_RULE_KEY_EXACT : 0),
				       .layout = layout};
	bool unknown = unwinder_rule_at(unwinder, ip, exact, &rule) == -ENOENT;

	rule_for_kernel(&rule, &k);
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.rules), &key, &k, BPF_ANY) == 0) {
		t->rules_installed++;
		if (unknown && !is_provisional(t, &key))
			provisional_add(t, &key, tgid, exact);
	}
	*provisional = unknown;
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
	/* User frames by address: the prefix may carry an older maps generation than its
	 * extension (it was walked before the maps that name the extension were read). */
	for (uint32_t i = 0; i < np; i++) {
		if (prefix[i] == frames[i])
			continue;
		if (!frame_is_user(prefix[i]) || !frame_is_user(frames[i]) ||
		    frame_user_address(prefix[i]) != frame_user_address(frames[i]))
			return false;
	}
	return true;
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

uint64_t alloc_stacks_now_ns(void)
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
		.key = key, .since_ns = alloc_stacks_now_ns(), .prefix_id = prefix_id};
}

/* Stamps return addresses with the unwinder's maps generation (frame.h): the symbolizer then
 * names them with the objects mapped when they were walked, across dlopen, dlclose and exec. */
static void stamp_generation(struct unwinder *unwinder, uint64_t *frames, uint32_t n)
{
	uint32_t gen = unwinder ? unwinder_generation(unwinder) : 0;

	for (uint32_t i = 0; i < n; i++)
		frames[i] = frame_user(frames[i], gen);
}

int alloc_stacks_on_stack_record(struct alloc_tracker *t, const struct smolder_stack_record *rec)
{
	uint32_t n = rec->nr < SMOLDER_ALLOC_MAX_FRAMES ? rec->nr : SMOLDER_ALLOC_MAX_FRAMES, id;
	uint32_t flags = (rec->flags & SMOLDER_STACK_F_TRUNCATED) ? ALLOC_SITE_TRUNCATED : 0;
	uint64_t ips[SMOLDER_ALLOC_MAX_FRAMES];
	struct process_model *model = alloc_stacks_model(t, rec->tgid);
	int err;

	memcpy(ips, rec->ips, n * sizeof(ips[0]));
	stamp_generation(alloc_stacks_unwinder(t, model), ips, n);
	err = alloc_stacks_intern(t, model, ips, n, rec->alloc_id, flags, &id);

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
int alloc_stacks_on_snapshot_record(struct alloc_tracker *t,
				    const struct smolder_snapshot_record *snap)
{
	uint64_t ips[SMOLDER_ALLOC_MAX_FRAMES], found[SMOLDER_ALLOC_MAX_FRAMES];
	uint32_t n = snap->nr ? snap->nr - 1 : 0, id;
	struct unwind_snapshot us = {
		.ip = snap->ip,
		.sp = snap->sp,
		.bp = snap->bp,
		.stack = snap->stack,
		.stack_len = snap->stack_len <= sizeof(snap->stack) ? snap->stack_len : 0,
		.stack_clipped = (snap->flags & SMOLDER_STACK_F_CLIPPED) != 0,
		.ip_is_return = !(snap->flags & SMOLDER_STACK_F_EXACT),
	};
	struct unwind_result res;
	bool exact = !us.ip_is_return, truncated = true, cut_by_copy = false, provisional = false;
	struct process_model *model = alloc_stacks_model(t, snap->tgid);
	struct unwinder *unwinder = alloc_stacks_unwinder(t, model);
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
		uint8_t kind = learn_rule(t, unwinder, snap->tgid, snap->layout, ip, exact, &exact,
					  &provisional);

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
	err = alloc_stacks_intern(t, model, ips, n, snap->alloc_id,
				  truncated ? ALLOC_SITE_TRUNCATED : 0, &id);
	if (err)
		return err;
	err = u64_map_put(&t->key_to_stack, snap->key, id);
	/* Not a provisional stop: its prefix is a frame or two (an allocator wrapper), which
	 * many call paths extend; its allocations stay at the prefix, marked truncated. */
	if (!err && cut_by_copy && !provisional)
		pending_add(t, snap->key, id);
	return err;
}

/* A new (native stack, Python frames) key: the native stack (announced before it) with the Python
 * frames spliced in place of the interpreter's frames. */
int alloc_stacks_on_py_stack_record(struct alloc_tracker *t,
				    const struct smolder_py_stack_record *rec)
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
	/* alloc_stacks_intern appends the [truncated] marker again: splice the frames without it.
	 */
	if (n_native && frame_kind(native[n_native - 1]) == FRAME_KIND_PROCESS)
		n_native--; /* the root, appended again by alloc_stacks_intern */
	if (n_native && frame_names_is_truncated(t->names, native[n_native - 1]))
		n_native--;
	n = mixed_stack_splice(
		rt, t->names, rec->frames,
		rec->nr < SMOLDER_PYTHON_MAX_FRAMES ? rec->nr : SMOLDER_PYTHON_MAX_FRAMES,
		rec->walk_flags, native, n_native,
		t->python_options | ((rec->key & MMAP_KEY_BIT) ? MIXED_STACK_MMAP_SITE : 0), out,
		sizeof(out) / sizeof(out[0]), &t->python_stats);
	err = alloc_stacks_intern(t, alloc_stacks_model(t, rec->tgid), out, (uint32_t)n, 0, flags,
				  &id);
	if (err)
		return err;
	return u64_map_put(&t->key_to_stack, rec->key, id);
}
