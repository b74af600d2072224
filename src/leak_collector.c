/* leak_collector.c: allocation tracking as a session collector. The per-allocation work is all in
 * the kernel (memleak.bpf.c through alloc_tracker); here the probes are attached in the order
 * launch mode needs, the per-site counters and the targets' RSS are snapshotted every interval
 * into bounded series, and the report is analysed and symbolized at the end.
 *
 * Process trees (-p A,B, --children, a launched command's children): each process has its own
 * books and stacks (rooted at its process); a site of the report adds up the processes running
 * the same command on the same call path (same-command workers: the stack's frames without its
 * root, plus the command), and keeps each process's own series as its breakdown. Stacks are
 * compared by address: forks of one parent (pre-fork workers, multiprocessing) share their
 * mappings and add up; processes of one program started apart (other addresses) make a site each.
 */
#include "smolder/leak_collector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smolder/alloc_tracker.h"
#include "smolder/cli.h"
#include "smolder/frame_names.h"
#include "smolder/launch_objects.h"
#include "smolder/log.h"
#include "smolder/frame.h"
#include "smolder/mixed_stack.h"
#include "smolder/process_table.h"
#include "smolder/python.h"
#include "smolder/stack_table.h"
#include "smolder/run_control.h"
#include "smolder/session.h"
#include "smolder/symbolizer.h"
#include "smolder/target.h"
#include "smolder/u64_map.h"

#define LEAK_SERIES_POINTS 240
#define MAX_RSS_PROCESSES  4096

/* One interval's sum over a site's processes. */
struct tick_sum {
	uint64_t outstanding_bytes, outstanding_allocs, alloc_bytes, alloc_count;
	bool touched;
};

struct leak_collector {
	struct leak_collector_options opts;
	struct alloc_tracker *tracker;
	struct process_table *processes; /* per-process models (roots, unwinders, symbolizers) */
	struct stack_table *groups;	 /* (frames without root, command frame): site keys */
	struct leak_report report;
	struct u64_map group_index;  /* (group id << 1 | mmap) -> index in report.sites */
	struct u64_map member_index; /* (stack id << 1 | mmap) -> site index << 32 | member */
	struct tick_sum *tick;
	size_t cap_tick;
	pid_t first_pid; /* the session's target: its Python runtime is open_python's */
	pid_t *rss_pids;
	uint64_t heap_bytes;	       /* outstanding heap bytes at the last snapshot */
	struct frame_names *names;     /* the tracker's named frames (not owned) */
	struct python_runtime *python; /* NULL unless the target runs CPython */
	bool python_pending;	       /* python_runtime_open said EAGAIN: not started yet */
	uint64_t python_next_try_ns;
};

struct leak_collector *leak_collector_new(const struct leak_collector_options *opts)
{
	struct leak_collector *lc = calloc(1, sizeof(*lc));

	if (!lc)
		return NULL;
	lc->opts = *opts;
	lc->report.merge_processes = opts->merge_processes;
	lc->groups = stack_table_new();
	lc->rss_pids = calloc(MAX_RSS_PROCESSES, sizeof(*lc->rss_pids));
	if (!lc->groups || !lc->rss_pids ||
	    growth_series_init(&lc->report.rss, LEAK_SERIES_POINTS) ||
	    growth_series_init(&lc->report.anon, LEAK_SERIES_POINTS)) {
		leak_collector_free(lc);
		errno = ENOMEM;
		return NULL;
	}
	return lc;
}

void leak_collector_free(struct leak_collector *lc)
{
	if (!lc)
		return;
	alloc_tracker_free(lc->tracker);
	process_table_free(lc->processes);
	python_runtime_free(lc->python);
	leak_report_release(&lc->report);
	stack_table_free(lc->groups);
	u64_map_release(&lc->group_index);
	u64_map_release(&lc->member_index);
	free(lc->tick);
	free(lc->rss_pids);
	free(lc);
}

struct alloc_tracker *leak_collector_tracker(struct leak_collector *lc)
{
	return lc->tracker;
}

int leak_collector_alloc_count(void *ctx, uint64_t *count)
{
	struct leak_collector *lc = ctx;
	uint64_t stats[SMOLDER_STAT_MAX];
	int err;

	if (!lc || !lc->tracker)
		return -ENODEV;
	err = alloc_tracker_stats(lc->tracker, stats);
	if (err)
		return err;
	*count = stats[SMOLDER_STAT_ALLOCS] + stats[SMOLDER_STAT_ALLOC_TABLE_FULL];
	return 0;
}

uint64_t leak_collector_heap_bytes(const struct leak_collector *lc)
{
	return lc->heap_bytes;
}

/* Grows the per-site sums to cover site index i (zeroed). NULL when out of memory. */
static struct tick_sum *realloc_tick(struct leak_collector *lc, size_t i)
{
	size_t cap = lc->cap_tick ? lc->cap_tick : 64;
	struct tick_sum *grown;

	while (cap <= i)
		cap *= 2;
	grown = realloc(lc->tick, cap * sizeof(*grown));
	if (!grown)
		return NULL; /* lc->tick stays valid */
	memset(grown + lc->cap_tick, 0, (cap - lc->cap_tick) * sizeof(*grown));
	lc->cap_tick = cap;
	return grown;
}

/* The site and member of a tracker stack, made on first sight: the stack's process (its root
 * frame) is the member, its frames without the root plus the process's command the site. Returns
 * the member, *site_index its site; NULL when out of memory. */
static struct leak_site_process *member_for(struct leak_collector *lc, uint32_t stack_id,
					    uint32_t flags, size_t *site_index)
{
	uint64_t mkey = (uint64_t)stack_id << 1 | ((flags & ALLOC_SITE_MMAP) ? 1 : 0), packed, idx;
	const struct stack_table *stacks = alloc_tracker_stacks(lc->tracker);
	uint64_t frames[SMOLDER_ALLOC_MAX_FRAMES * 2 + 24], command_frame;
	const struct process_model *m = NULL;
	const uint64_t *ips;
	const char *command = lc->report.command;
	struct leak_site_process *member;
	struct leak_site *site;
	uint32_t n, group;
	int pid = lc->report.pid;

	if (u64_map_get(&lc->member_index, mkey, &packed)) {
		*site_index = (size_t)(packed >> 32);
		return &lc->report.sites[*site_index].procs[(uint32_t)packed];
	}
	ips = stack_table_get(stacks, stack_id, &n);
	if (!ips)
		n = 0;
	if (n > sizeof(frames) / sizeof(frames[0]) - 1)
		n = sizeof(frames) / sizeof(frames[0]) - 1;
	if (n && (m = process_table_find_root(lc->processes, ips[n - 1]))) {
		n--;
		pid = m->pid;
		command = m->comm;
	}
	if (n)
		memcpy(frames, ips, n * sizeof(frames[0]));
	/* The command as a frame of the group key: same stack, same command, one site. */
	if (frame_names_intern(alloc_tracker_names(lc->tracker), FRAME_KIND_PROCESS, command, NULL,
			       0, &command_frame) ||
	    (frames[n++] = command_frame, stack_table_add(lc->groups, frames, n, &group)))
		return NULL;
	if (u64_map_get(&lc->group_index, (uint64_t)group << 1 | (mkey & 1), &idx)) {
		site = &lc->report.sites[idx];
	} else {
		site = leak_report_site(&lc->report, stack_id, flags);
		if (!site)
			return NULL;
		idx = (uint64_t)(site - lc->report.sites);
		snprintf(site->command, sizeof(site->command), "%s", command);
		if (u64_map_put(&lc->group_index, (uint64_t)group << 1 | (mkey & 1), idx))
			return NULL;
	}
	member = leak_site_process(site, pid, stack_id);
	if (!member ||
	    u64_map_put(&lc->member_index, mkey, idx << 32 | (uint64_t)(member - site->procs)))
		return NULL;
	*site_index = (size_t)idx;
	return member;
}

/* Sum of the living targets' RSS and anonymous memory. False when none could be read. */
static bool targets_memory(struct leak_collector *lc, pid_t pid, struct target_memory *sum)
{
	size_t n = alloc_tracker_processes(lc->tracker, lc->rss_pids, MAX_RSS_PROCESSES);
	struct target_memory mem;
	bool any = false;

	memset(sum, 0, sizeof(*sum));
	if (n == 0) {
		lc->rss_pids[0] = pid;
		n = 1;
	}
	for (size_t i = 0; i < n && i < MAX_RSS_PROCESSES; i++) {
		if (target_memory(lc->rss_pids[i], &mem) != 0)
			continue;
		sum->rss_bytes += mem.rss_bytes;
		sum->anon_bytes += mem.anon_bytes;
		any = true;
	}
	return any;
}

static int take_sample(struct leak_collector *lc, pid_t pid, double t)
{
	struct alloc_site_sample *samples;
	struct target_memory mem;
	uint64_t heap = 0;
	size_t n, site_index;
	int err = alloc_tracker_sample(lc->tracker, &samples, &n);

	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct leak_site_process *p =
			member_for(lc, samples[i].stack_id, samples[i].flags, &site_index);
		struct tick_sum *sum, *grown;

		if (p && site_index >= lc->cap_tick) {
			grown = realloc_tick(lc, site_index);
			if (grown)
				lc->tick = grown;
			else
				p = NULL;
		}
		if (!p) {
			free(samples);
			return -ENOMEM;
		}
		if (p->series.samples == 0) {
			p->first_bytes = samples[i].outstanding_bytes;
			p->alloc_bytes_first = samples[i].alloc_bytes;
		}
		/* An exited process's series ends at its exit (its value there is final: it
		 * still counts in its site's sum, which keeps what the command's processes
		 * leaked, also across recycled workers). */
		if (!(p->flags & ALLOC_SITE_EXIT_CLOSED))
			growth_series_add(&p->series, t, (double)samples[i].outstanding_bytes);
		p->flags |= samples[i].flags;
		p->outstanding_bytes = samples[i].outstanding_bytes;
		p->outstanding_allocs = samples[i].outstanding_allocs;
		p->alloc_bytes_last = samples[i].alloc_bytes;
		p->alloc_count_last = samples[i].alloc_count;
		lc->report.sites[site_index].flags |= samples[i].flags;
		sum = &lc->tick[site_index];
		sum->touched = true;
		sum->outstanding_bytes += samples[i].outstanding_bytes;
		sum->outstanding_allocs += samples[i].outstanding_allocs;
		sum->alloc_bytes += samples[i].alloc_bytes;
		sum->alloc_count += samples[i].alloc_count;
		if (!(samples[i].flags & ALLOC_SITE_MMAP))
			heap += samples[i].outstanding_bytes;
	}
	free(samples);
	for (size_t i = 0; i < lc->report.n_sites && i < lc->cap_tick; i++) {
		struct leak_site *s = &lc->report.sites[i];
		struct tick_sum *sum = &lc->tick[i];

		if (!sum->touched)
			continue;
		if (s->series.samples == 0) {
			s->first_bytes = sum->outstanding_bytes;
			s->alloc_bytes_first = sum->alloc_bytes;
		}
		growth_series_add(&s->series, t, (double)sum->outstanding_bytes);
		s->outstanding_bytes = sum->outstanding_bytes;
		s->outstanding_allocs = sum->outstanding_allocs;
		s->alloc_bytes_last = sum->alloc_bytes;
		s->alloc_count_last = sum->alloc_count;
		memset(sum, 0, sizeof(*sum));
	}
	lc->heap_bytes = heap;
	if (targets_memory(lc, pid, &mem)) {
		growth_series_add(&lc->report.rss, t, (double)mem.rss_bytes);
		growth_series_add(&lc->report.anon, t, (double)mem.anon_bytes);
	}
	return 0;
}

struct min_age_ctx {
	struct leak_collector *lc;
	int err;
};

static void min_age_add(void *ctx, uint32_t stack_id, uint32_t flags, uint64_t size)
{
	struct min_age_ctx *m = ctx;
	size_t site_index;
	struct leak_site_process *p = member_for(m->lc, stack_id, flags, &site_index);

	if (!p) {
		m->err = -ENOMEM;
		return;
	}
	p->outstanding_bytes += size;
	p->outstanding_allocs++;
	m->lc->report.sites[site_index].outstanding_bytes += size;
	m->lc->report.sites[site_index].outstanding_allocs++;
}

/* --min-age: outstanding totals count only blocks older than the threshold at the end. */
static int apply_min_age(struct leak_collector *lc)
{
	struct min_age_ctx ctx = {lc, 0};
	int err;

	for (size_t i = 0; i < lc->report.n_sites; i++) {
		struct leak_site *s = &lc->report.sites[i];

		s->outstanding_bytes = 0;
		s->outstanding_allocs = 0;
		for (size_t k = 0; k < s->n_procs; k++) {
			s->procs[k].outstanding_bytes = 0;
			s->procs[k].outstanding_allocs = 0;
		}
	}
	err = alloc_tracker_live(lc->tracker, (uint64_t)(lc->opts.min_age_s * 1e9),
				 run_control_now_ns(), min_age_add, &ctx);
	return err ? err : ctx.err;
}

/* The capabilities of names[] smolder lacks, as "CAP_A and CAP_B", into buf; "" when it has all. */
static void missing_caps(const int *caps, const char *const *names, size_t n, char *buf, size_t len)
{
	size_t used = 0, k = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (target_self_capable(caps[i]))
			continue;
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
					 k++ ? " and " : "", names[i]);
	}
}

/* A failure to load (attach == false) or to attach (uprobes, tracepoints) the tracker, as an
 * exit code and one line naming what is missing, never a capability smolder already has. */
static int tracker_error(int err, pid_t pid, bool attach)
{
	static const int load_caps[] = {TARGET_CAP_BPF, TARGET_CAP_PERFMON};
	static const char *const load_names[] = {"CAP_BPF", "CAP_PERFMON"};
	/* Measured on kernel 6.18: a uprobe perf event and the syscall tracepoints' ids (tracefs)
	 * are refused to a non-root user with CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE, and allowed
	 * once CAP_SYS_ADMIN is added. */
	static const int attach_caps[] = {TARGET_CAP_BPF, TARGET_CAP_PERFMON, TARGET_CAP_SYS_ADMIN};
	static const char *const attach_names[] = {"CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN"};
	char missing[128];

	if (err == EPERM || err == EACCES) {
		if (attach)
			missing_caps(attach_caps, attach_names, 3, missing, sizeof(missing));
		else
			missing_caps(load_caps, load_names, 2, missing, sizeof(missing));
		if (missing[0])
			log_error("%s allocator probes for pid %d: %s; needs %s (or root)",
				  attach ? "cannot attach" : "cannot load", (int)pid, strerror(err),
				  missing);
		else
			log_error("%s allocator probes for pid %d: %s, although smolder has the "
				  "capabilities it needs; check kernel.unprivileged_bpf_disabled, "
				  "kernel lockdown and security modules",
				  attach ? "cannot attach" : "cannot load", (int)pid,
				  strerror(err));
		return SMOLDER_EXIT_PRIVILEGE;
	}
	log_error("cannot set up allocation tracking for pid %d: %s (needs a kernel with BTF, "
		  "uprobes and BPF ring buffers)",
		  (int)pid, strerror(err));
	return SMOLDER_EXIT_KERNEL;
}

static void open_python(struct leak_collector *lc, struct session *s);

/* -p targets: their interpreters are examined before the allocator probes go live, so that their
 * first allocations already carry Python frames. Examined later (at start, after the unwinder and
 * symbolizer opened), the allocations of that window (0.1-1 s) became native-only sites holding
 * _PyEval_EvalFrameDefault, and a leak's first blocks stayed outstanding there. The other given
 * processes go through their models (process_table_prepare_python), as record does. */
static void examine_python(struct leak_collector *lc, struct session *s)
{
	open_python(lc, s);
	if (!lc->python_pending)
		process_table_python_examined(lc->processes, s->pid, lc->python);
	for (size_t i = 0; i < s->opts.n_pids; i++)
		if (s->opts.pids[i] != s->pid)
			process_table_prepare_python(lc->processes, s->opts.pids[i]);
}

/* A process of the tree other than the first: its model found (or not) its interpreter; its
 * config goes to BPF (version 0: examined, not Python), and its stacks are named with its model's
 * runtime (alloc_tracker.c). The first target's runtime is open_python's. */
static int leak_collector_python_config(void *arg, const struct process_model *m)
{
	struct leak_collector *lc = arg;
	unsigned options = (lc->opts.native ? MIXED_STACK_KEEP_NATIVE : 0) |
			   (lc->opts.python_by_function ? MIXED_STACK_BY_FUNCTION : 0);

	if (m->pid == lc->first_pid && !m->exec_count)
		return 0;
	return alloc_tracker_set_python(lc->tracker, m->pid, m->python,
					alloc_tracker_names(lc->tracker), options);
}

/* --children on -p targets: the descendants living now join the set (the fork tracepoint,
 * attached by the first alloc_tracker_attach, adds the ones forked from now on) and are probed.
 * A process gone by then is simply not tracked. Returns probe points attached or -errno. */
static int add_descendants(struct leak_collector *lc, struct session *s)
{
	pid_t *found = NULL;
	size_t n_found = 0;
	int ret = target_descendants(s->opts.pids, s->opts.n_pids, &found, &n_found);

	/* Their interpreters are examined before their probes go live (see examine_python): listed
	 * in the targets map, a process's allocations already fire the first target's probes. */
	for (size_t i = 0; !ret && i < n_found; i++)
		process_table_prepare_python(lc->processes, found[i]);
	for (size_t i = 0; !ret && i < n_found; i++)
		ret = alloc_tracker_add_process(lc->tracker, found[i]);
	free(found);
	if (ret)
		return ret;
	if (n_found)
		log_info("leaks: following %zu existing descendant process%s", n_found,
			 n_found == 1 ? "" : "es");
	return alloc_tracker_attach(lc->tracker);
}

/* Launch mode, from the first instruction: uprobes go on the program and the libraries its loader
 * will map, by path, while the child is still held (the pid filter holds across exec and a probe
 * on a file applies when the file is mapped). Once it has exec'd, the mapped objects are scanned
 * as for -p (leak_collector_start). A target that exits at once is fine: its allocations were
 * seen. Returns a smolder exit code. */
static int attach_launch(struct leak_collector *lc, struct session *s)
{
	const char *command = s->opts.launch_argv[0];
	struct launch_objects objects;
	int rc;

	rc = launch_objects_resolve(command, &objects);
	if (rc) {
		log_error("cannot run %s: %s", command, strerror(-rc));
		return SMOLDER_EXIT_TARGET;
	}
	rc = alloc_tracker_attach_paths(lc->tracker, objects.paths, objects.n);
	if (rc == -ENOENT)
		log_error("no allocator functions (malloc/free, operator new/delete, jemalloc, "
			  "tcmalloc) found in %s or the libraries it loads",
			  objects.paths[0]);
	launch_objects_release(&objects);
	if (rc == -ENOENT)
		return SMOLDER_EXIT_TARGET;
	if (rc < 0)
		return tracker_error(-rc, s->pid, true);
	return SMOLDER_EXIT_OK;
}

static int leak_collector_attach(void *ctx, struct session *s)
{
	struct leak_collector *lc = ctx;
	struct alloc_tracker_options topts = {
		.pid = s->pid,
		.pids = s->launched ? NULL : s->opts.pids,
		.n_pids = s->launched ? 0 : s->opts.n_pids,
		.follow_children = lc->opts.children,
	};
	char err[256];
	int rc;

	if (!s->launched && target_files_check(s->pid, err, sizeof(err)) != 0) {
		/* Allocator functions are found in the target's files: without access, the run
		 * could only blame the target ("no allocator found"). */
		log_error("%s", err);
		return SMOLDER_EXIT_PRIVILEGE;
	}
	lc->tracker = alloc_tracker_new(&topts);
	if (!lc->tracker)
		return tracker_error(errno, s->pid, false);
	alloc_tracker_set_unwinder(lc->tracker, s->unwinder); /* launch mode: made before exec */
	/* Each process's stacks are unwound and named in its own model and end in its root. */
	lc->processes = process_table_new(alloc_tracker_names(lc->tracker));
	if (!lc->processes) {
		log_error("out of memory");
		return SMOLDER_EXIT_INTERNAL;
	}
	alloc_tracker_set_processes(lc->tracker, lc->processes, s->launched ? s->pid : 0);
	lc->first_pid = s->pid;
	/* Every other process of the tree looks for its interpreter when its model is made (a
	 * forked worker copies its parent's runtime). */
	process_table_enable_python(lc->processes, leak_collector_python_config, lc);
	if (s->launched)
		return attach_launch(lc, s);
	examine_python(lc, s);
	rc = alloc_tracker_attach(lc->tracker);
	if (rc >= 0 && lc->opts.children)
		rc = add_descendants(lc, s);
	/* A target killed while its objects were scanned loses them one by one (its map_files
	 * and root vanish): no allocator found, but the cause is its exit. */
	if (rc == -ENOENT) {
		int state = target_task_state(s->pid, s->pid);

		if (state == -ENOENT || state == -ESRCH || state == 'Z' || state == 'X')
			rc = -ESRCH;
	}
	if (rc == -ENOENT) {
		log_error("no allocator functions (malloc/free, operator new/delete, jemalloc, "
			  "tcmalloc) found in the objects pid %d maps; a static binary without "
			  "symbols cannot be tracked",
			  (int)s->pid);
		return SMOLDER_EXIT_TARGET;
	}
	if (rc == -ESRCH) {
		log_error("pid %d exited before tracking started", (int)s->pid);
		return SMOLDER_EXIT_TARGET;
	}
	if (rc < 0)
		return tracker_error(-rc, s->pid, true);
	return SMOLDER_EXIT_OK;
}

/* A CPython target: allocation sites carry its Python frames from now on. Not Python, or offsets
 * that do not validate (python_runtime_open says why): native stacks only. */
static void open_python(struct leak_collector *lc, struct session *s)
{
	unsigned options = (lc->opts.native ? MIXED_STACK_KEEP_NATIVE : 0) |
			   (lc->opts.python_by_function ? MIXED_STACK_BY_FUNCTION : 0);
	int ret;

	lc->names = alloc_tracker_names(lc->tracker);
	lc->python = python_runtime_open(s->pid, lc->names);
	/* A launched python3 is opened before its loader mapped libpython or its interpreter made
	 * a thread state: leak_collector_poll tries again (python_runtime_open is silent until
	 * then). */
	lc->python_pending = !lc->python && errno == EAGAIN;
	if (!lc->python) {
		ret = errno;
		if (ret != ENOENT && ret != EPROTO && ret != ENOSYS && ret != ESRCH &&
		    ret != EAGAIN)
			log_warn("Python runtime of pid %d: %s; native frames only", (int)s->pid,
				 strerror(ret));
		/* Examined: not Python (or not walkable), so its allocations do not count as
		 * waiting for a config. */
		if (ret != EAGAIN)
			alloc_tracker_set_python(lc->tracker, s->pid, NULL, lc->names, options);
		return;
	}
	ret = alloc_tracker_set_python(lc->tracker, s->pid, lc->python, lc->names, options);
	if (ret < 0) {
		log_warn("Python %s: the frame walk cannot be set up (%s); native frames only",
			 python_runtime_version(lc->python), strerror(-ret));
		python_runtime_free(lc->python);
		lc->python = NULL;
		return;
	}
	snprintf(lc->report.python_version, sizeof(lc->report.python_version), "%s",
		 python_runtime_version(lc->python));
}

static void python_totals(struct leak_collector *lc)
{
	struct leak_report *r = &lc->report;
	struct mixed_stack_stats ps;
	struct python_runtime_stats rs;

	if (!lc->python)
		return;
	alloc_tracker_python_stats(lc->tracker, &ps, &r->python_orphans);
	python_runtime_stats(lc->python, &rs);
	r->python_frames = ps.frames;
	r->python_frames_unnamed = ps.frames_unnamed;
	r->python_arena_sites = ps.arena_sites;
	log_info("python %s: %llu frames named; not read: %llu allocations without a thread "
		 "state, %llu chains truncated, %llu cut by an unreadable frame, %llu frames "
		 "unnamed (%llu stale, %llu unreadable code objects), %llu stacks lost",
		 r->python_version, (unsigned long long)ps.frames,
		 (unsigned long long)r->stats[SMOLDER_STAT_PY_NO_TSTATE],
		 (unsigned long long)r->stats[SMOLDER_STAT_PY_TRUNCATED],
		 (unsigned long long)r->stats[SMOLDER_STAT_PY_READ_FAILED],
		 (unsigned long long)ps.frames_unnamed, (unsigned long long)rs.code_stale,
		 (unsigned long long)rs.code_unreadable, (unsigned long long)r->python_orphans);
}

/* Each maps generation of the target goes to the symbolizer (alloc_tracker_set_maps_listener). */
static void leak_collector_on_maps(void *arg, uint32_t generation, const struct proc_maps *maps)
{
	int err = symbolizer_add_maps(arg, generation, maps);

	if (err)
		log_debug("symbolizer: maps generation %u: %s", generation, strerror(-err));
}

static int leak_collector_start(void *ctx, struct session *s)
{
	struct leak_collector *lc = ctx;
	size_t objects, points, emulated;
	int rc;

	alloc_tracker_set_unwinder(lc->tracker, s->unwinder);
	/* Stack frames carry the maps generation they were walked in: each generation's objects
	 * are opened while mapped (dlopen after attach, exec), and named as they were. */
	if (s->symbolizer)
		alloc_tracker_set_maps_listener(lc->tracker, leak_collector_on_maps, s->symbolizer);
	/* The first target's model is the session's (launch mode made it before exec, so a
	 * program that exits at once is still unwound); the others' are made at their first
	 * stack. */
	if (!process_table_adopt(lc->processes, s->pid, s->unwinder, s->symbolizer))
		log_debug("leaks: no model for pid %d: %s", (int)s->pid, strerror(errno));
	if (s->launched) {
		rc = alloc_tracker_attach(lc->tracker);
		if (rc < 0 && rc != -ESRCH && rc != -ENOENT)
			log_warn("cannot scan the objects %s mapped: %s", s->opts.launch_argv[0],
				 strerror(-rc));
	}
	alloc_tracker_probe_counts(lc->tracker, &objects, &points, &emulated);
	lc->report.pid = s->pid;
	snprintf(lc->report.command, sizeof(lc->report.command), "%s", s->comm);
	lc->report.interval_s = (double)s->opts.interval_ns / 1e9;
	lc->report.min_age_s = lc->opts.min_age_s;
	if (s->launched)
		open_python(lc, s); /* -p targets: examine_python, before the probes */
	log_info("tracking allocations of pid %d (%s): %zu functions in %zu objects%s", (int)s->pid,
		 lc->report.command, points, objects,
		 s->opts.duration_ns ? "" : "; Ctrl-C to stop");
	rc = take_sample(lc, s->pid, 0);
	return rc == -ENOMEM ? rc : 0;
}

static int leak_collector_fd(void *ctx)
{
	struct leak_collector *lc = ctx;

	return alloc_tracker_fd(lc->tracker);
}

static int leak_collector_poll(void *ctx, struct session *s, int timeout_ms)
{
	struct leak_collector *lc = ctx;
	uint64_t now = run_control_now_ns();

	/* Every 100 ms for the first 5 s (interpreter start-up takes tens of ms), then every
	 * second. */
	if (lc->python_pending && now >= lc->python_next_try_ns) {
		lc->python_next_try_ns =
			now + (now - s->rc.start_ns < 5000000000ULL ? 100000000ULL : 1000000000ULL);
		open_python(lc, s);
	}
	process_table_poll_python(lc->processes, now);
	return alloc_tracker_poll(lc->tracker, timeout_ms);
}

static int leak_collector_tick(void *ctx, struct session *s, double t)
{
	struct leak_collector *lc = ctx;
	int rc;

	/* dlopen'ed objects get probes (and symbols) at the next interval. */
	rc = alloc_tracker_attach(lc->tracker);
	if (rc > 0 && s->symbolizer)
		symbolizer_refresh(s->symbolizer);
	process_table_refresh(lc->processes, rc > 0);
	rc = take_sample(lc, s->pid, t);
	return rc == -ENOMEM ? rc : 0;
}

void leak_collector_plug(struct leak_collector *lc, struct session_collector *out)
{
	*out = (struct session_collector){
		.name = "allocation tracker",
		.ctx = lc,
		.attach = leak_collector_attach,
		.start = leak_collector_start,
		.fd = leak_collector_fd,
		.poll = leak_collector_poll,
		.tick = leak_collector_tick,
	};
}

struct leak_report *leak_collector_finish(struct leak_collector *lc, struct session *s)
{
	struct leak_report *r = &lc->report;

	r->duration_s = s->duration_s;
	r->stop_reason = run_control_reason_name(s->stop);
	alloc_tracker_settle(lc->tracker);
	take_sample(lc, s->pid, r->duration_s);
	if (lc->opts.min_age_s > 0 && apply_min_age(lc))
		log_warn(
			"--min-age: cannot read the allocation table; totals include young blocks");
	alloc_tracker_stats(lc->tracker, r->stats);
	alloc_tracker_user_stats(lc->tracker, &r->snapshots_unwound, &r->rules_installed,
				 &r->rules_relearned);
	alloc_tracker_exec_stats(lc->tracker, &r->exec);
	alloc_tracker_tree_stats(lc->tracker, &r->tree);
	r->n_processes = process_table_pid_count(lc->processes);
	if (r->exec.execs) {
		/* The summary names the program running now; the exec line says what it was. */
		snprintf(r->command_before_exec, sizeof(r->command_before_exec), "%s", r->command);
		target_comm(s->pid, r->command, sizeof(r->command));
		r->exec_at_s = r->exec.last_ns > s->rc.start_ns
				       ? (double)(r->exec.last_ns - s->rc.start_ns) / 1e9
				       : 0;
	}
	alloc_tracker_probe_counts(lc->tracker, &r->probe_objects, &r->probe_points,
				   &r->probe_emulated);
	leak_report_analyse(r);
	leak_report_symbolize(r, lc->tracker, s->symbolizer, lc->processes);
	python_totals(lc);
	if (!r->complete)
		log_warn("REPORT INCOMPLETE: allocation tracking tables filled up and allocations "
			 "were dropped; growth may be under-reported");
	return r;
}
