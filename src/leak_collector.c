/* leak_collector.c: allocation tracking as a session collector. The per-allocation work is all in
 * the kernel (memleak.bpf.c through alloc_tracker); here the probes are attached in the order
 * launch mode needs, the per-site counters and the target's RSS are snapshotted every interval
 * into bounded series, and the report is analysed and symbolized at the end. */
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
#include "smolder/mixed_stack.h"
#include "smolder/python.h"
#include "smolder/run_control.h"
#include "smolder/session.h"
#include "smolder/symbolizer.h"
#include "smolder/target.h"
#include "smolder/u64_map.h"

#define LEAK_SERIES_POINTS 240

struct leak_collector {
	struct leak_collector_options opts;
	struct alloc_tracker *tracker;
	struct leak_report report;
	struct u64_map site_index;     /* (stack id << 1 | mmap) -> index in report.sites */
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
	if (growth_series_init(&lc->report.rss, LEAK_SERIES_POINTS) ||
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
	python_runtime_free(lc->python);
	leak_report_release(&lc->report);
	u64_map_release(&lc->site_index);
	free(lc);
}

struct alloc_tracker *leak_collector_tracker(struct leak_collector *lc)
{
	return lc->tracker;
}

uint64_t leak_collector_heap_bytes(const struct leak_collector *lc)
{
	return lc->heap_bytes;
}

static struct leak_site *site_for(struct leak_collector *lc, uint32_t stack_id, uint32_t flags)
{
	uint64_t key = (uint64_t)stack_id << 1 | ((flags & ALLOC_SITE_MMAP) ? 1 : 0), idx;
	struct leak_site *s;

	if (u64_map_get(&lc->site_index, key, &idx))
		return &lc->report.sites[idx];
	s = leak_report_site(&lc->report, stack_id, flags);
	if (!s)
		return NULL;
	if (u64_map_put(&lc->site_index, key, (uint64_t)(s - lc->report.sites)))
		return NULL;
	return s;
}

static int take_sample(struct leak_collector *lc, pid_t pid, double t)
{
	struct alloc_site_sample *samples;
	struct target_memory mem;
	uint64_t heap = 0;
	size_t n;
	int err = alloc_tracker_sample(lc->tracker, &samples, &n);

	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct leak_site *s = site_for(lc, samples[i].stack_id, samples[i].flags);

		if (!s) {
			free(samples);
			return -ENOMEM;
		}
		if (s->series.samples == 0) {
			s->first_bytes = samples[i].outstanding_bytes;
			s->alloc_bytes_first = samples[i].alloc_bytes;
		}
		s->flags |= samples[i].flags;
		growth_series_add(&s->series, t, (double)samples[i].outstanding_bytes);
		s->outstanding_bytes = samples[i].outstanding_bytes;
		s->outstanding_allocs = samples[i].outstanding_allocs;
		s->alloc_bytes_last = samples[i].alloc_bytes;
		s->alloc_count_last = samples[i].alloc_count;
		if (!(samples[i].flags & ALLOC_SITE_MMAP))
			heap += samples[i].outstanding_bytes;
	}
	free(samples);
	lc->heap_bytes = heap;
	if (target_memory(pid, &mem) == 0) {
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
	struct leak_site *s = site_for(m->lc, stack_id, flags);

	if (!s) {
		m->err = -ENOMEM;
		return;
	}
	s->outstanding_bytes += size;
	s->outstanding_allocs++;
}

/* --min-age: outstanding totals count only blocks older than the threshold at the end. */
static int apply_min_age(struct leak_collector *lc)
{
	struct min_age_ctx ctx = {lc, 0};
	int err;

	for (size_t i = 0; i < lc->report.n_sites; i++) {
		lc->report.sites[i].outstanding_bytes = 0;
		lc->report.sites[i].outstanding_allocs = 0;
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
	struct alloc_tracker_options topts = {.pid = s->pid};

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
	if (s->launched)
		return attach_launch(lc, s);
	rc = alloc_tracker_attach(lc->tracker);
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
	open_python(lc, s);
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
	alloc_tracker_user_stats(lc->tracker, &r->snapshots_unwound, &r->rules_installed);
	alloc_tracker_exec_stats(lc->tracker, &r->exec);
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
	leak_report_symbolize(r, lc->tracker, s->symbolizer);
	python_totals(lc);
	if (!r->complete)
		log_warn("REPORT INCOMPLETE: allocation tracking tables filled up and allocations "
			 "were dropped; growth may be under-reported");
	return r;
}
