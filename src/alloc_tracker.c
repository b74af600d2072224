/* alloc_tracker.c: the user-space half of allocation tracking. The kernel side (memleak.bpf.c)
 * keeps every live block and per-stack-key counters per process; here we attach its programs to
 * the allocator functions found in each mapped object of each target process (alloc_probes.c),
 * teach its stack walker the unwind rules it asks for (snapshots, unwound in the process's own
 * model), intern the stacks it announces under their process's root frame, keep the books through
 * fork, exec and exit, and read the ring buffer; the counters are read once per interval in
 * alloc_samples.c. Nothing here runs per allocation, so the tool's cost does not grow with the
 * targets' allocation rate. */
#include "alloc_tracker_internal.h"
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

#define DEFAULT_MAX_ALLOCS (1u << 21)
#define DEFAULT_MAX_SITES  (1u << 16)
/* BPF_TRACE_UPROBE_MULTI (Linux 6.6): Debian 12's headers and libbpf 1.1 predate it. */
#define ATTACH_UPROBE_MULTI 48

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
	 * models' (process_table_enable_python), found by alloc_stacks_on_py_stack_record. */
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

/* One close_books pass over a table: its blocks of tgid older than before_ns are closed as flag. */
struct closing {
	struct alloc_tracker *t;
	int fd;
	uint32_t tgid, flag;
	uint64_t before_ns;
	bool mmap;
	struct alloc_tracker_closed *closed;
};

static void close_block(void *arg, const struct smolder_alloc_key *key,
			const struct smolder_alloc_info *val)
{
	struct closing *c = arg;
	uint64_t f = 0;

	if (key->tgid != c->tgid || val->time_ns >= c->before_ns)
		return;
	if (bpf_map_delete_elem(c->fd, key) != 0)
		return; /* freed meanwhile */
	u64_map_get(&c->t->closed_flags, val->stack_key, &f);
	if (u64_map_put(&c->t->closed_flags, val->stack_key, f | c->flag) ||
	    (c->flag == ALLOC_SITE_EXEC_CLOSED &&
	     (!map_add(&c->t->closed_bytes, val->stack_key, val->size) ||
	      !map_add(&c->t->closed_count, val->stack_key, 1))))
		c->closed->unaccounted++;
	if (c->mmap) {
		c->closed->mmap_bytes += val->size;
		c->closed->mmaps++;
	} else {
		c->closed->heap_bytes += val->size;
		c->closed->allocs++;
	}
}

/* Closes books: removes process tgid's blocks of map fd allocated before before_ns (an exec: the
 * old image's, gone with it; an exit: all of them) and marks their stack keys with how (flag). An
 * exec's are counted as freed at their keys (the process lives on without them); an exit's are
 * not: the exited process's sites keep what it held when it exited (its stack keys are its own
 * and never change again), as a leak checker reports what a program still held at its exit. */
static void close_books(struct alloc_tracker *t, int fd, uint32_t tgid, uint64_t before_ns,
			bool mmap, uint32_t flag, struct alloc_tracker_closed *closed)
{
	struct closing c = {.t = t,
			    .fd = fd,
			    .tgid = tgid,
			    .flag = flag,
			    .before_ns = before_ns,
			    .mmap = mmap,
			    .closed = closed};

	/* A failed read leaves blocks in the table: their process's exit (or the run's end) closes
	 * them, or they stay outstanding where they were. */
	alloc_samples_each_block(fd, close_block, &c);
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
		if (alloc_stacks_unwinder(t, m))
			unwinder_refresh_maps(alloc_stacks_unwinder(t, m));
	}
	/* A shell loop execs thousands of times: the first few are said, the rest counted (the
	 * summary and the JSON give the total). */
	if (!launch && t->exec.execs <= 5)
		log_info("leaks: pid %d exec'd: %llu allocations (%llu bytes) of old images closed "
			 "so far%s",
			 (int)pid, (unsigned long long)t->exec.closed.allocs,
			 (unsigned long long)t->exec.closed.heap_bytes,
			 t->exec.execs == 5 ? " (further execs are counted, not logged)" : "");
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

static int on_record_one(struct alloc_tracker *t, void *data, size_t size);

/* Past the read's deadline: -EAGAIN stops libbpf's loop after this record (it is consumed; the
 * rest waits for the next read). */
static int on_record(void *ctx, void *data, size_t size)
{
	struct alloc_tracker *t = ctx;
	int ret = t->count_only ? (t->unread++, 0) : on_record_one(t, data, size);

	if (ret == 0 && t->consume_deadline_ns && alloc_stacks_now_ns() > t->consume_deadline_ns)
		return -EAGAIN;
	return ret;
}

static int on_record_one(struct alloc_tracker *t, void *data, size_t size)
{
	uint32_t kind;

	if (size < sizeof(kind))
		return 0;
	memcpy(&kind, data, sizeof(kind));
	if (kind == SMOLDER_REC_STACK && size >= sizeof(struct smolder_stack_record))
		return alloc_stacks_on_stack_record(t, data) == -ENOMEM ? -ENOMEM : 0;
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
		return alloc_stacks_on_snapshot_record(t, data) == -ENOMEM ? -ENOMEM : 0;
	if (kind == SMOLDER_REC_PY_STACK && size >= sizeof(struct smolder_py_stack_record))
		return alloc_stacks_on_py_stack_record(t, data) == -ENOMEM ? -ENOMEM : 0;
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
	err = alloc_stacks_intern(t, NULL, NULL, 0, 0, ALLOC_SITE_UNAVAILABLE, &t->unavailable_id);
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
	free(t->provisional);
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

/* Reads waiting records for at most ALLOC_CONSUME_BUDGET_NS; what is left is read next time. With
 * timeout_ms >= 0, waits that long for the first (ring_buffer__poll). Returns libbpf's count or
 * -errno; a cut read is not an error. */
#define ALLOC_CONSUME_BUDGET_NS 200000000ull
int alloc_tracker_consume(struct alloc_tracker *t, int timeout_ms)
{
	int n;

	t->consume_deadline_ns = alloc_stacks_now_ns() + ALLOC_CONSUME_BUDGET_NS;
	n = timeout_ms >= 0 ? ring_buffer__poll(t->ringbuf, timeout_ms)
			    : ring_buffer__consume(t->ringbuf);
	t->consume_deadline_ns = 0;
	t->backlogged = n == -EAGAIN;
	if (n == -EAGAIN) {
		if (!t->consume_cut++)
			log_warn("leaks: allocation events come faster than they are read "
				 "(processes "
				 "exec and exit at a high rate): each read is cut at %llu ms so "
				 "that -d and Ctrl-C hold; events still queued when the run ends "
				 "are not read",
				 ALLOC_CONSUME_BUDGET_NS / 1000000);
		return 0;
	}
	return n;
}

int alloc_tracker_poll(struct alloc_tracker *t, int timeout_ms)
{
	int n = alloc_tracker_consume(t, timeout_ms);

	alloc_stacks_recheck(t);

	if (n == -EINTR)
		return 0;
	return n < 0 ? n : 0;
}

/* The run is over. A backlog (see alloc_tracker_consume) is not read any more, but it is counted
 * (bounded like any read: a producer still running could keep it full), so what was never read
 * is reported as lost, not dropped silently. */
void alloc_tracker_settle(struct alloc_tracker *t)
{
	alloc_tracker_consume(t, -1);
	if (t->backlogged) {
		t->count_only = true;
		alloc_tracker_consume(t, -1);
		t->count_only = false;
		log_warn("leaks: %s%llu allocation events still queued at the end were not read "
			 "(counted as lost)",
			 t->backlogged ? "at least " : "", (unsigned long long)t->unread);
	}
	t->n_pending = 0;
}

void alloc_tracker_user_stats(const struct alloc_tracker *t, uint64_t *snapshots_unwound,
			      uint64_t *rules_installed, uint64_t *rules_relearned)
{
	*rules_relearned = t->rules_relearned;
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
