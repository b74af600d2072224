/* cmd_leaks.c: `smolder leaks`: attach allocation tracking to a process (or launch one), snapshot
 * outstanding bytes per allocation site and the target's RSS every interval, and at the end (-d,
 * Ctrl-C, SIGTERM, target exit) write the text summary, JSON report and memory flame graphs, each
 * atomically. The per-allocation work is all in the kernel; this loop wakes once per interval and
 * for the rare stack-learning snapshots. */
#include "smolder/alloc_tracker.h"
#include "smolder/cli.h"
#include "smolder/commands.h"
#include "smolder/frame_names.h"
#include "smolder/launch_objects.h"
#include "smolder/leak_report.h"
#include "smolder/log.h"
#include "smolder/mixed_stack.h"
#include "smolder/output_file.h"
#include "smolder/pprof.h"
#include "smolder/speedscope.h"
#include "smolder/python.h"
#include "smolder/run_control.h"
#include "smolder/symbolizer.h"
#include "smolder/target.h"
#include "smolder/u64_map.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct leaks_run {
	const struct cli_options *opts;
	pid_t pid;
	struct target_launch launch;
	bool launched;
	struct alloc_tracker *tracker;
	struct symbolizer *sym;
	struct frame_names *names;     /* the tracker's named frames (not owned) */
	struct python_runtime *python; /* NULL unless the target runs CPython */
	bool python_pending;	       /* python_runtime_open said EAGAIN: not started yet */
	uint64_t python_last_try_ns;
	struct run_control rc;
	bool rc_ready;
	struct leak_report report;
	struct u64_map site_index; /* (stack id << 1 | mmap) -> index in report.sites */
	char default_path[64];	   /* without -o */
};

static struct leak_site *site_for(struct leaks_run *run, uint32_t stack_id, uint32_t flags)
{
	uint64_t key = (uint64_t)stack_id << 1 | ((flags & ALLOC_SITE_MMAP) ? 1 : 0), idx;
	struct leak_site *s;

	if (u64_map_get(&run->site_index, key, &idx))
		return &run->report.sites[idx];
	s = leak_report_site(&run->report, stack_id, flags);
	if (!s)
		return NULL;
	if (u64_map_put(&run->site_index, key, (uint64_t)(s - run->report.sites)))
		return NULL;
	return s;
}

static int take_sample(struct leaks_run *run, double t)
{
	struct alloc_site_sample *samples;
	struct target_memory mem;
	size_t n;
	int err = alloc_tracker_sample(run->tracker, &samples, &n);

	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct leak_site *s = site_for(run, samples[i].stack_id, samples[i].flags);

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
	}
	free(samples);
	if (target_memory(run->pid, &mem) == 0) {
		growth_series_add(&run->report.rss, t, (double)mem.rss_bytes);
		growth_series_add(&run->report.anon, t, (double)mem.anon_bytes);
	}
	return 0;
}

struct min_age_ctx {
	struct leaks_run *run;
	int err;
};

static void min_age_add(void *ctx, uint32_t stack_id, uint32_t flags, uint64_t size)
{
	struct min_age_ctx *m = ctx;
	struct leak_site *s = site_for(m->run, stack_id, flags);

	if (!s) {
		m->err = -ENOMEM;
		return;
	}
	s->outstanding_bytes += size;
	s->outstanding_allocs++;
}

/* --min-age: outstanding totals count only blocks older than the threshold at the end. */
static int apply_min_age(struct leaks_run *run)
{
	struct min_age_ctx ctx = {run, 0};
	int err;

	for (size_t i = 0; i < run->report.n_sites; i++) {
		run->report.sites[i].outstanding_bytes = 0;
		run->report.sites[i].outstanding_allocs = 0;
	}
	err = alloc_tracker_live(run->tracker, (uint64_t)(run->opts->min_age_s * 1e9),
				 run_control_now_ns(), min_age_add, &ctx);
	return err ? err : ctx.err;
}

/* Without -o: smolder-leaks-PID.json in the current directory, checked before the run starts like
 * the -o paths (which the command line checked). Returns a smolder exit code. */
static int default_output(struct leaks_run *run)
{
	char err[512];

	if (run->opts->n_outputs)
		return SMOLDER_EXIT_OK;
	snprintf(run->default_path, sizeof(run->default_path), "smolder-leaks-%d.json",
		 (int)run->pid);
	if (output_file_check(run->default_path, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return SMOLDER_EXIT_USAGE;
	}
	output_file_remove_stale(run->default_path);
	return SMOLDER_EXIT_OK;
}

static int write_outputs(struct leaks_run *run)
{
	const struct cli_options *o = run->opts;
	int status = SMOLDER_EXIT_OK;
	struct cli_output def;
	const struct cli_output *outs = o->outputs;
	size_t n_outs = o->n_outputs;

	if (n_outs == 0) {
		def.path = run->default_path;
		def.format = OUTPUT_FORMAT_JSON;
		outs = &def;
		n_outs = 1;
	}
	for (size_t i = 0; i < n_outs; i++) {
		struct output_file f = {0};
		bool growth = leak_report_path_is_growth(outs[i].path);
		int err = output_file_open(&f, outs[i].path);

		if (err) {
			log_error("cannot write %s: %s", outs[i].path, strerror(-err));
			status = SMOLDER_EXIT_INTERNAL;
			continue;
		}
		switch (outs[i].format) {
		case OUTPUT_FORMAT_JSON:
			err = leak_report_write_json(&run->report, f.fp);
			break;
		case OUTPUT_FORMAT_PPROF:
			err = pprof_write_leaks(&run->report, f.fp);
			break;
		case OUTPUT_FORMAT_SPEEDSCOPE:
			err = speedscope_write_leaks(&run->report, f.fp);
			break;
		case OUTPUT_FORMAT_SVG:
			err = leak_report_write_flamegraph(&run->report, f.fp, growth, true);
			break;
		default:
			err = leak_report_write_flamegraph(&run->report, f.fp, growth, false);
			break;
		}
		if (!err)
			err = output_file_commit(&f);
		else
			output_file_abort(&f);
		if (err) {
			log_error("cannot write %s: %s", outs[i].path,
				  strerror(err < 0 ? -err : EIO));
			status = SMOLDER_EXIT_INTERNAL;
		} else if (strcmp(outs[i].path, "-") != 0) {
			log_info("wrote %s%s", outs[i].path,
				 outs[i].format != OUTPUT_FORMAT_SVG &&
						 outs[i].format != OUTPUT_FORMAT_FOLDED
					 ? ""
				 : growth ? " (memory growth flame graph)"
					  : " (outstanding memory flame graph)");
		}
	}
	return status;
}

/* -p: checks the process. Launch mode: forks the command held before exec (launch_attach lets it
 * run once the probes are in place). */
static int start_target(struct leaks_run *run, char *err, size_t errlen)
{
	const struct cli_options *o = run->opts;
	int rc;

	if (!o->launch_argv) {
		run->pid = o->pid;
		rc = target_check(run->pid, err, errlen);
		if (rc)
			return rc;
		/* Allocator functions are found in the target's files: without access, the run
		 * could only blame the target ("no allocator found"). */
		if (target_files_check(run->pid, err, errlen) != 0)
			return SMOLDER_EXIT_PRIVILEGE;
		return SMOLDER_EXIT_OK;
	}
	rc = target_launch_prepare(o->launch_argv, &run->launch);
	if (rc) {
		snprintf(err, errlen, "cannot run %s: %s", o->launch_argv[0], strerror(-rc));
		return SMOLDER_EXIT_TARGET;
	}
	run->launched = true;
	run->pid = run->launch.pid;
	return SMOLDER_EXIT_OK;
}

static int tracker_error(int err, pid_t pid, bool attach);

/* Launch mode, from the first instruction: uprobes go on the program and the libraries its loader
 * will map, by path, while the child is still held (the pid filter holds across exec and a probe
 * on a file applies when the file is mapped). Then the child execs; once it has, the mapped
 * objects are scanned as for -p (dlopen'ed ones keep being picked up each interval). A target that
 * exits at once is fine: its allocations were seen. Returns a smolder exit code. */
static int launch_attach(struct leaks_run *run)
{
	const char *command = run->opts->launch_argv[0];
	char self[PATH_MAX], exe[PATH_MAX], link[64];
	struct launch_objects objects;
	ssize_t n;
	int rc;

	rc = launch_objects_resolve(command, &objects);
	if (rc) {
		log_error("cannot run %s: %s", command, strerror(-rc));
		return SMOLDER_EXIT_TARGET;
	}
	rc = alloc_tracker_attach_paths(run->tracker, objects.paths, objects.n);
	if (rc == -ENOENT)
		log_error("no allocator functions (malloc/free, operator new/delete, jemalloc, "
			  "tcmalloc) found in %s or the libraries it loads",
			  objects.paths[0]);
	launch_objects_release(&objects);
	if (rc == -ENOENT)
		return SMOLDER_EXIT_TARGET;
	if (rc < 0)
		return tracker_error(-rc, run->pid, true);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	rc = target_launch_release(&run->launch);
	if (rc) {
		log_error("cannot start %s: %s", command, strerror(-rc));
		return SMOLDER_EXIT_TARGET;
	}
	/* The symbolizer and the -p style scan need the program's own mappings: wait for the exec
	 * (bounded; a target that exits first simply has none). */
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)run->pid);
	for (int i = 0; i < 2000; i++) {
		n = readlink(link, exe, sizeof(exe) - 1);
		if (n < 0)
			break;
		exe[n] = '\0';
		if (strcmp(exe, self) != 0)
			break;
		usleep(1000);
	}
	rc = alloc_tracker_attach(run->tracker);
	if (rc < 0 && rc != -ESRCH && rc != -ENOENT)
		log_warn("cannot scan the objects %s mapped: %s", command, strerror(-rc));
	return SMOLDER_EXIT_OK;
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

/* Each maps generation of the target goes to the symbolizer (alloc_tracker_set_maps_listener). */
static void leaks_on_maps(void *arg, uint32_t generation, const struct proc_maps *maps)
{
	int err = symbolizer_add_maps(arg, generation, maps);

	if (err)
		log_debug("symbolizer: maps generation %u: %s", generation, strerror(-err));
}

/* A CPython target: allocation sites carry its Python frames from now on. Not Python, or offsets
 * that do not validate (python_runtime_open says why): native stacks only. */
static void open_python(struct leaks_run *run)
{
	unsigned options = (run->opts->native ? MIXED_STACK_KEEP_NATIVE : 0) |
			   (run->opts->python_by_function ? MIXED_STACK_BY_FUNCTION : 0);
	int ret;

	run->names = alloc_tracker_names(run->tracker);
	run->python = python_runtime_open(run->pid, run->names);
	/* A launched python3 is opened before its loader mapped libpython or its interpreter made
	 * a thread state: the run loop tries again (python_runtime_open is silent until then). */
	run->python_pending = !run->python && errno == EAGAIN;
	run->python_last_try_ns = run_control_now_ns();
	if (!run->python) {
		if (errno != ENOENT && errno != EPROTO && errno != ENOSYS && errno != ESRCH &&
		    errno != EAGAIN)
			log_warn("Python runtime of pid %d: %s; native frames only", (int)run->pid,
				 strerror(errno));
		return;
	}
	ret = alloc_tracker_set_python(run->tracker, run->python, run->names, options);
	if (ret < 0) {
		log_warn("Python %s: the frame walk cannot be set up (%s); native frames only",
			 python_runtime_version(run->python), strerror(-ret));
		python_runtime_free(run->python);
		run->python = NULL;
		return;
	}
	snprintf(run->report.python_version, sizeof(run->report.python_version), "%s",
		 python_runtime_version(run->python));
}

static void python_totals(struct leaks_run *run)
{
	struct mixed_stack_stats ps;
	struct python_runtime_stats rs;

	if (!run->python)
		return;
	alloc_tracker_python_stats(run->tracker, &ps, &run->report.python_orphans);
	python_runtime_stats(run->python, &rs);
	run->report.python_frames = ps.frames;
	run->report.python_frames_unnamed = ps.frames_unnamed;
	run->report.python_arena_sites = ps.arena_sites;
	log_info("python %s: %llu frames named; not read: %llu allocations without a thread "
		 "state, %llu chains truncated, %llu cut by an unreadable frame, %llu frames "
		 "unnamed (%llu stale, %llu unreadable code objects), %llu stacks lost",
		 run->report.python_version, (unsigned long long)ps.frames,
		 (unsigned long long)run->report.stats[SMOLDER_STAT_PY_NO_TSTATE],
		 (unsigned long long)run->report.stats[SMOLDER_STAT_PY_TRUNCATED],
		 (unsigned long long)run->report.stats[SMOLDER_STAT_PY_READ_FAILED],
		 (unsigned long long)ps.frames_unnamed, (unsigned long long)rs.code_stale,
		 (unsigned long long)rs.code_unreadable,
		 (unsigned long long)run->report.python_orphans);
}

static void run_release(struct leaks_run *run)
{
	alloc_tracker_free(run->tracker);
	python_runtime_free(run->python);
	symbolizer_free(run->sym);
	leak_report_release(&run->report);
	u64_map_release(&run->site_index);
	if (run->rc_ready)
		run_control_release(&run->rc);
}

int cmd_leaks(const struct cli_options *opts)
{
	struct leaks_run run = {.opts = opts};
	struct alloc_tracker_options topts = {0};
	enum run_stop stop = RUN_CONTINUE;
	uint64_t interval = opts->interval_ns ? opts->interval_ns : 1000000000ULL, next;
	char err[256] = "";
	size_t objects, points, emulated;
	int status, rc;

	status = start_target(&run, err, sizeof(err));
	if (status) {
		log_error("%s", err);
		goto out;
	}
	status = default_output(&run);
	if (status)
		goto out;
	/* Signals go to the signalfd from here on, so Ctrl-C during attach still ends cleanly. */
	rc = run_control_init(&run.rc, run.pid, opts->duration_ns);
	if (rc) {
		log_error("cannot set up run control: %s", strerror(-rc));
		status = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	run.rc_ready = true;
	log_install_libbpf();
	topts.pid = run.pid;
	run.tracker = alloc_tracker_new(&topts);
	if (!run.tracker) {
		status = tracker_error(errno, run.pid, false);
		goto out;
	}
	if (run.launched) {
		status = launch_attach(&run);
		if (status)
			goto out;
		rc = 0;
	} else {
		rc = alloc_tracker_attach(run.tracker);
	}
	if (rc == -ENOENT) {
		log_error("no allocator functions (malloc/free, operator new/delete, jemalloc, "
			  "tcmalloc) found in the objects pid %d maps; a static binary without "
			  "symbols "
			  "cannot be tracked",
			  (int)run.pid);
		status = SMOLDER_EXIT_TARGET;
		goto out;
	}
	if (rc == -ESRCH) {
		log_error("pid %d exited before tracking started", (int)run.pid);
		status = SMOLDER_EXIT_TARGET;
		goto out;
	}
	if (rc < 0) {
		status = tracker_error(-rc, run.pid, true);
		goto out;
	}
	alloc_tracker_probe_counts(run.tracker, &objects, &points, &emulated);
	run.report.pid = run.pid;
	target_comm(run.pid, run.report.command, sizeof(run.report.command));
	run.report.interval_s = (double)interval / 1e9;
	run.report.min_age_s = opts->min_age_s;
	if (growth_series_init(&run.report.rss, 240) || growth_series_init(&run.report.anon, 240)) {
		status = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	/* Open the target's objects now: symbols must resolve even if it exits before the end. */
	run.sym = symbolizer_new(run.pid);
	if (!run.sym)
		log_warn("symbolizer unavailable (%s): frames will be addresses", strerror(errno));
	/* Stack frames carry the maps generation they were walked in: each generation's objects
	 * are opened while mapped (dlopen after attach, exec), and named as they were. */
	if (run.sym)
		alloc_tracker_set_maps_listener(run.tracker, leaks_on_maps, run.sym);
	open_python(&run);
	log_info("tracking allocations of pid %d (%s): %zu functions in %zu objects%s",
		 (int)run.pid, run.report.command, points, objects,
		 opts->duration_ns ? "" : "; Ctrl-C to stop");

	run.rc.start_ns = run_control_now_ns();
	if (opts->duration_ns)
		run.rc.deadline_ns = run.rc.start_ns + opts->duration_ns;
	take_sample(&run, 0);
	next = run.rc.start_ns + interval;
	while ((stop = run_control_check(&run.rc)) == RUN_CONTINUE) {
		uint64_t now = run_control_now_ns();

		if (now >= next) {
			/* dlopen'ed objects get probes (and symbols) at the next interval. */
			rc = alloc_tracker_attach(run.tracker);
			if (rc > 0 && run.sym)
				symbolizer_refresh(run.sym);
			rc = take_sample(&run, (double)(now - run.rc.start_ns) / 1e9);
			if (rc == -ENOMEM) {
				log_error("out of memory");
				break;
			}
			next += interval;
			if (next <= now)
				next = now + interval;
			continue;
		}
		/* Every 100 ms for the first 5 s (interpreter start-up takes tens of ms), then
		 * every second. */
		if (run.python_pending &&
		    now - run.python_last_try_ns >=
			    (now - run.rc.start_ns < 5000000000ULL ? 100000000ULL : 1000000000ULL))
			open_python(&run);
		alloc_tracker_poll(run.tracker, 50);
	}
	if (stop == RUN_CONTINUE)
		stop = RUN_STOP_SIGNAL;
	run.report.duration_s = run_control_elapsed(&run.rc);
	run.report.stop_reason = run_control_reason_name(stop);
	alloc_tracker_settle(run.tracker);
	take_sample(&run, run.report.duration_s);
	if (opts->min_age_s > 0 && apply_min_age(&run))
		log_warn(
			"--min-age: cannot read the allocation table; totals include young blocks");
	alloc_tracker_stats(run.tracker, run.report.stats);
	alloc_tracker_user_stats(run.tracker, &run.report.snapshots_unwound,
				 &run.report.rules_installed);
	alloc_tracker_exec_stats(run.tracker, &run.report.exec);
	if (run.report.exec.execs) {
		/* The summary names the program running now; the exec line says what it was. */
		snprintf(run.report.command_before_exec, sizeof(run.report.command_before_exec),
			 "%s", run.report.command);
		target_comm(run.pid, run.report.command, sizeof(run.report.command));
		run.report.exec_at_s =
			run.report.exec.last_ns > run.rc.start_ns
				? (double)(run.report.exec.last_ns - run.rc.start_ns) / 1e9
				: 0;
	}
	alloc_tracker_probe_counts(run.tracker, &run.report.probe_objects, &run.report.probe_points,
				   &run.report.probe_emulated);
	leak_report_analyse(&run.report);
	leak_report_symbolize(&run.report, run.tracker, run.sym);
	python_totals(&run);
	if (!run.report.complete)
		log_warn("REPORT INCOMPLETE: allocation tracking tables filled up and allocations "
			 "were "
			 "dropped; growth may be under-reported");
	leak_report_write_text(&run.report, stdout, 10);
	fflush(stdout);
	if (symbolizer_jit_hint(run.sym))
		log_info("%s", symbolizer_jit_hint(run.sym));
	status = write_outputs(&run);
	/* A launched target lives as long as the run: -d or a signal ends it too. */
	if (run.launched && stop != RUN_STOP_TARGET_EXIT)
		target_launch_signal(&run.launch, stop == RUN_STOP_SIGNAL && run.rc.last_signal
							  ? run.rc.last_signal
							  : SIGTERM);
out:
	if (run.launched) {
		if (status != SMOLDER_EXIT_OK && !run.launch.reaped)
			target_launch_signal(&run.launch, SIGTERM);
		target_launch_wait(&run.launch, true);
	}
	run_release(&run);
	return status;
}
