/* cmd_record.c: `smolder record`: attach to a PID (or launch CMD held before exec), sample CPU
 * stacks with the eBPF sampler, unwind each sample as it leaves the ring buffer, aggregate into a
 * cpu_profile, and at the end (-d, Ctrl-C, SIGTERM or target exit) symbolize once and write every
 * output atomically, then print a summary.
 *
 * Launch mode: outputs are written when profiling ends; smolder then waits for CMD (forwarding
 * SIGINT/SIGTERM) and returns its exit status. Environment knobs for measurements and other
 * machines: SMOLDER_STACK_COPY=BYTES (user stack copy size), SMOLDER_PER_TASK_EVENTS=1 (per-task
 * perf events instead of one per CPU). */
#include "smolder/commands.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "smolder/cpu_profile.h"
#include "smolder/frame.h"
#include "smolder/frame_names.h"
#include "smolder/log.h"
#include "smolder/mixed_stack.h"
#include "smolder/python.h"
#include "smolder/output_file.h"
#include "smolder/process_table.h"
#include "smolder/profile_output.h"
#include "smolder/run_control.h"
#include "smolder/ptrace_sampler.h"
#include "smolder/sampler.h"
#include "smolder/symbolizer.h"
#include "smolder/target.h"
#include "smolder/unwinder.h"

#define RECORD_MAX_USER_FRAMES 512
#define RECORD_POLL_MS	       100

struct record {
	const struct cli_options *opts;
	pid_t pid;
	bool launched;
	struct target_launch launch;
	struct run_control rc;
	struct sampler *sampler;
	struct ptrace_sampler *ptrace_sampler; /* --backend ptrace, or auto without eBPF */
	struct process_table *processes; /* per process: unwinder, symbolizer, name, root frame */
	struct cpu_profile *profile;
	char comm[64];
	uint64_t unwind_errors;
	uint64_t add_errors;
	uint64_t model_errors; /* samples whose process model could not be made (no memory) */
	bool exec_seen;	       /* launch mode: the launched process's exec event arrived */
	uint64_t stack_bytes;  /* user stack bytes received, for the mean copy size */
	double cpu_start_s;    /* the target's CPU seconds at attach (kernel accounting); NAN */
	uint64_t ips[RECORD_MAX_USER_FRAMES];
	uint64_t kernel_ips[SMOLDER_MAX_KERNEL_FRAMES];
	/* Python targets: named frames, the runtime, and the spliced stack. The runtime reads
	 * the launched or first given process only (its code objects, its BPF offsets). */
	struct frame_names *names;
	struct python_runtime *python;
	uint32_t python_exec;	/* the exec count of the model the runtime belongs to */
	bool python_pending;	/* python_runtime_open said EAGAIN: a Python not started yet */
	double python_last_try; /* run time of the last attempt, seconds */
	struct mixed_stack_stats python_stats;
	uint64_t mixed[RECORD_MAX_USER_FRAMES];
};

/* The target mapped code from a file (dlopen), in order among the samples: the samples after it
 * are unwound, and their frames stamped, with maps read now (a new generation if the code
 * changed); those before it keep the old generation. */
static void record_on_code_mapped(void *ctx, pid_t tgid)
{
	struct record *rec = ctx;
	/* A process not sampled yet reads its maps when it is: no model is made for it here. */
	struct process_model *m = process_table_find(rec->processes, tgid);

	if (m && m->unwinder && !m->borrowed)
		unwinder_refresh_maps(m->unwinder);
}

/* A target forked (a followed child), exec'd or exited: records arrive in order with the samples,
 * so the samples after an exec are unwound with the new program's mappings. This, not the path
 * of /proc/PID/exe, says when a launched command has exec'd: a command whose binary is smolder's
 * own keeps the same path, and was profiled with the pre-exec mappings. */
static int record_on_process(void *ctx, const struct smolder_process_event *ev)
{
	struct record *rec = ctx;
	int ret = 0;

	switch (ev->kind) {
	case SMOLDER_EVENT_FORK:
		ret = process_table_fork(rec->processes, (pid_t)ev->tgid, (pid_t)ev->parent_tgid);
		break;
	case SMOLDER_EVENT_EXEC:
		ret = process_table_exec(rec->processes, (pid_t)ev->tgid);
		if ((pid_t)ev->tgid == rec->pid)
			rec->exec_seen = true;
		break;
	case SMOLDER_EVENT_EXIT:
		process_table_exit(rec->processes, (pid_t)ev->tgid);
		break;
	default:
		break;
	}
	if (ret < 0)
		rec->model_errors++;
	return 0;
}

static int record_on_sample(void *ctx, const struct smolder_cpu_sample *sample, size_t size)
{
	struct record *rec = ctx;
	uint32_t n_user = 0, flags = 0;
	pid_t tid = (pid_t)sample->tid, tgid = (pid_t)sample->tgid;
	struct process_model *model;

	(void)size;
	rec->stack_bytes += sample->user_stack_len;
	/* Made the first time the process shows up, while it is most likely still alive. */
	model = process_table_get(rec->processes, tgid);
	if (!model) {
		rec->model_errors++;
		return 0;
	}
	if (!(sample->flags & SMOLDER_SAMPLE_NO_USER_REGS)) {
		struct unwind_snapshot snap = {
			.ip = sample->ip,
			.sp = sample->sp,
			.bp = sample->bp,
			.stack = sample->user_stack,
			.stack_len = sample->user_stack_len,
			/* Stopped before the end of the stack mapping, for whatever reason. */
			.stack_clipped = (sample->flags & (SMOLDER_SAMPLE_STACK_CLIPPED |
							   SMOLDER_SAMPLE_STACK_PARTIAL |
							   SMOLDER_SAMPLE_NO_VMA)) != 0,
		};
		struct unwind_result result = {0};
		int ret = model->unwinder ? unwinder_unwind(model->unwinder, &snap, rec->ips,
							    RECORD_MAX_USER_FRAMES, &result)
					  : -ENODEV;

		if (ret < 0 || result.n == 0) {
			/* Keep the sample with its leaf: the time was spent, even if the
			 * chain is unknown. */
			rec->unwind_errors++;
			rec->ips[0] = sample->ip;
			n_user = 1;
		} else {
			n_user = result.n;
			if (result.flags & UNWIND_COMPLETE)
				flags |= CPU_PROFILE_SAMPLE_COMPLETE;
		}
		for (uint32_t i = 0; i < n_user; i++)
			rec->ips[i] = frame_user(rec->ips[i], result.generation);
		if (!(flags & CPU_PROFILE_SAMPLE_COMPLETE))
			flags |= CPU_PROFILE_SAMPLE_TRUNCATED;
	}
	if (rec->python && n_user > 0 && tgid == rec->pid &&
	    model->exec_count == rec->python_exec) {
		/* The Python frames read at the same instant replace the interpreter's frames. */
		const struct smolder_python_frame *py =
			(const void *)(sample->user_stack +
				       smolder_python_offset(sample->user_stack_len));
		unsigned options = (rec->opts->native ? MIXED_STACK_KEEP_NATIVE : 0) |
				   (rec->opts->python_by_function ? MIXED_STACK_BY_FUNCTION : 0);

		n_user = (uint32_t)mixed_stack_splice(rec->python, rec->names, py,
						      sample->python_frames, sample->python_flags,
						      rec->ips, n_user, options, rec->mixed,
						      RECORD_MAX_USER_FRAMES, &rec->python_stats);
		memcpy(rec->ips, rec->mixed, n_user * sizeof(rec->ips[0]));
	}
	/* bpf_get_stack gives return addresses for callers: look up the call instruction. */
	for (uint32_t i = 0; i < sample->kernel_frames; i++)
		rec->kernel_ips[i] = i == 0 ? sample->kernel_ips[0] : sample->kernel_ips[i] - 1;

	if (!cpu_profile_has_thread(rec->profile, tid)) {
		char name[64];

		/* Read the name the first time the thread shows up: it may be gone at the end. */
		if (target_thread_name(tgid, tid, name, sizeof(name)) == 0)
			cpu_profile_set_thread_name(rec->profile, tid, name);
	}
	if (cpu_profile_add_rooted(rec->profile, model->root_frame, tid, rec->ips, n_user,
				   rec->kernel_ips, sample->kernel_frames, flags) != 0)
		rec->add_errors++;
	return 0;
}

static const char *record_thread_name(void *ctx, int32_t tid)
{
	return cpu_profile_thread_name(ctx, tid);
}

/* Launch mode with the ptrace backend (no exec events): waits (bounded) until /proc/PID/exe is
 * no longer smolder's own image. A command whose binary is smolder's own is not told apart. */
static void record_wait_for_exec_path(pid_t pid)
{
	char self[PATH_MAX], child[PATH_MAX], path[64];
	ssize_t n_self, n_child;

	n_self = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n_self < 0)
		return;
	self[n_self] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	for (int i = 0; i < 1000; i++) {
		n_child = readlink(path, child, sizeof(child) - 1);
		if (n_child < 0)
			return; /* exited (exec failed) or zombie */
		child[n_child] = '\0';
		if (strcmp(child, self) != 0)
			return;
		usleep(1000);
	}
}

/* Launch mode: the child was released and is exec'ing. Waits (bounded) for its exec event, so
 * the Python runtime is looked for in the new program; the samples taken meanwhile are
 * consumed in order (those before the exec stay with the pre-exec model). */
static void record_wait_for_exec(struct record *rec)
{
	if (!rec->sampler) {
		record_wait_for_exec_path(rec->pid);
		return;
	}
	for (int i = 0; i < 200 && !rec->exec_seen; i++) {
		if (sampler_poll(rec->sampler, 5) < 0 || (kill(rec->pid, 0) != 0 && errno == ESRCH))
			return;
	}
}

/* --children on -p targets: the descendants living now join the set (the fork tracepoint,
 * attached before this scan, adds the ones forked from now on). A process that has gone by then
 * is simply not sampled. */
static int record_add_descendants(struct record *rec, char *err, size_t errlen)
{
	const struct cli_options *opts = rec->opts;
	pid_t *found = NULL;
	size_t n_found = 0;
	int ret;

	if (rec->launched || opts->children != CLI_CHILDREN_FOLLOW)
		return SMOLDER_EXIT_OK;
	ret = target_descendants(opts->pids, opts->n_pids, &found, &n_found);
	for (size_t i = 0; !ret && i < n_found; i++)
		ret = sampler_add_target(rec->sampler, found[i]);
	free(found);
	if (ret) {
		snprintf(err, errlen, "adding the children of the targets: %s", strerror(-ret));
		return SMOLDER_EXIT_INTERNAL;
	}
	if (n_found)
		log_info("following %zu existing descendant process%s", n_found,
			 n_found == 1 ? "" : "es");
	return SMOLDER_EXIT_OK;
}

static int record_attach(struct record *rec, char *err, size_t errlen)
{
	const struct cli_options *opts = rec->opts;
	struct sampler_options so = {
		.pid = rec->pid,
		.pids = opts->pids,
		.n_pids = rec->launched ? 0 : opts->n_pids,
		.follow_children = opts->children == CLI_CHILDREN_FOLLOW,
		.process_fn = record_on_process,
		.frequency_hz = opts->frequency_hz,
		.kernel_stacks = !opts->no_kernel,
		.on_code_mapped = record_on_code_mapped,
	};
	bool tree = so.n_pids > 1 || so.follow_children;
	char bpf_err[512] = "";
	const char *env;
	int code = SMOLDER_EXIT_OK;

	env = getenv("SMOLDER_STACK_COPY");
	if (env && *env)
		so.stack_copy_size = (uint32_t)strtoul(env, NULL, 0);
	env = getenv("SMOLDER_PER_TASK_EVENTS");
	so.per_task_events = env && strcmp(env, "1") == 0;

	rec->profile = cpu_profile_new(rec->pid);
	/* Process roots share the profile's named-frame registry. */
	rec->processes = rec->profile ? process_table_new(cpu_profile_names(rec->profile)) : NULL;
	if (!rec->processes) {
		snprintf(err, errlen, "out of memory");
		return SMOLDER_EXIT_INTERNAL;
	}
	if (opts->backend != SAMPLE_BACKEND_PTRACE) {
		rec->sampler = sampler_new(&so, record_on_sample, rec, err, errlen);
		if (rec->sampler)
			return record_add_descendants(rec, err, errlen);
		code = sampler_exit_code(errno);
		if (opts->backend == SAMPLE_BACKEND_BPF ||
		    (code != SMOLDER_EXIT_PRIVILEGE && code != SMOLDER_EXIT_KERNEL))
			return code;
		/* auto without eBPF: ptrace works on one's own processes unprivileged. */
		snprintf(bpf_err, sizeof(bpf_err), "%s", err);
	}
	if (tree && (so.n_pids > 1 || !rec->launched)) {
		/* The ptrace backend follows one process; a launched command's children are
		 * followed only by default, so it may go on without them. */
		snprintf(err, errlen,
			 "%s%sthe ptrace backend profiles one process (no -p list, no --children)",
			 bpf_err, bpf_err[0] ? "; " : "");
		return bpf_err[0] ? code : SMOLDER_EXIT_USAGE;
	}
	rec->ptrace_sampler = ptrace_sampler_new(&so, record_on_sample, rec, err, errlen);
	if (!rec->ptrace_sampler) {
		if (bpf_err[0]) {
			/* Both failed: the eBPF reason is the one to fix. */
			snprintf(err, errlen, "%s", bpf_err);
			return code;
		}
		return ptrace_sampler_exit_code(errno);
	}
	if (bpf_err[0])
		log_info("eBPF unavailable (%s): using the ptrace backend (--backend ptrace)%s",
			 bpf_err, tree ? "; children are not followed" : "");
	return SMOLDER_EXIT_OK;
}

/* A CPython target: its frames are read in BPF from now on and spliced into the native stacks.
 * Not Python, or offsets that do not validate (python_runtime_open says why): native only. */
static void record_open_python(struct record *rec)
{
	struct smolder_python_config cfg;
	int ret;

	/* The profile's registry: its [truncated] marker and the Python frames share it. */
	rec->names = cpu_profile_names(rec->profile);
	rec->python = python_runtime_open(rec->pid, rec->names);
	/* A launched python3 is opened before its loader mapped libpython or its interpreter made
	 * a thread state: record_run tries again (python_runtime_open is silent until then). */
	rec->python_pending = !rec->python && errno == EAGAIN;
	if (!rec->python) {
		if (errno != ENOENT && errno != EPROTO && errno != ENOSYS && errno != ESRCH &&
		    errno != EAGAIN)
			log_warn("Python runtime of PID %d: %s; native frames only", rec->pid,
				 strerror(errno));
		return;
	}
	ret = python_runtime_bpf_config(rec->python, &cfg);
	if (ret == 0 && rec->sampler)
		ret = sampler_set_python(rec->sampler, &cfg);
	if (ret < 0) {
		log_warn("Python %s: the frame walk cannot be set up (%s); native frames only",
			 python_runtime_version(rec->python), strerror(-ret));
		python_runtime_free(rec->python);
		rec->python = NULL;
		return;
	}
	log_debug("Python %s (%s): Python frames in place of the interpreter's%s",
		  python_runtime_version(rec->python), python_runtime_object(rec->python),
		  rec->opts->native ? " (--native: interpreter frames kept)" : "");
}

/* Opens the unwinder and symbolizer on the (exec'd) target. Failures degrade the profile (raw
 * addresses, leaf-only stacks), they do not end it. */
static void record_open_target_models(struct record *rec)
{
	char why[256];

	/* Sampling works without it, but every stack would stop at its leaf, unnamed: say so once,
	 * loudly, naming the missing right (not only at -v). */
	if (target_files_check(rec->pid, why, sizeof(why)) != 0)
		log_warn("%s: cannot read its files (/proc/%d/root), so stacks will stop at their "
			 "first frame and frames will be addresses, not names",
			 why, rec->pid);
	/* The given processes' models are made now, while they surely live; children's and
	 * exec'd programs' as they show up (process_table). */
	for (size_t i = 0; i < (rec->launched ? 1 : rec->opts->n_pids); i++) {
		pid_t pid = rec->launched ? rec->pid : rec->opts->pids[i];
		struct process_model *m = process_table_get(rec->processes, pid);

		if (m && !m->unwinder)
			log_warn(
				"PID %d: cannot read its mappings (%s); its stacks will hold their "
				"leaf only, as raw addresses",
				(int)pid, strerror(errno));
		if (m && pid == rec->pid)
			rec->python_exec = m->exec_count;
	}
	if (target_comm(rec->pid, rec->comm, sizeof(rec->comm)) != 0)
		snprintf(rec->comm, sizeof(rec->comm), "%d", rec->pid);
	record_open_python(rec);
}

static int record_run(struct record *rec)
{
	double last_refresh = 0;
	enum run_stop stop;
	bool all;

	for (;;) {
		int ret;

		stop = run_control_check(&rec->rc);
		if (stop != RUN_CONTINUE)
			break;
		ret = rec->sampler ? sampler_poll(rec->sampler, RECORD_POLL_MS)
				   : ptrace_sampler_poll(rec->ptrace_sampler, RECORD_POLL_MS);
		if (ret < 0) {
			log_error("reading samples: %s", strerror(-ret));
			return SMOLDER_EXIT_INTERNAL;
		}
		/* Every 100 ms for the first 5 s (interpreter start-up takes tens of ms), then
		 * every second. */
		if (rec->python_pending &&
		    run_control_elapsed(&rec->rc) - rec->python_last_try >=
			    (run_control_elapsed(&rec->rc) < 5.0 ? 0.1 : 1.0)) {
			struct process_model *m = process_table_get(rec->processes, rec->pid);

			rec->python_last_try = run_control_elapsed(&rec->rc);
			record_open_python(rec);
			/* The runtime belongs to the image running now. */
			if (rec->python && m)
				rec->python_exec = m->exec_count;
		}
		/* The unwinders noticed new mappings (dlopen, exec): let the symbolizers open
		 * them while the processes are alive; all of them once a second. */
		all = run_control_elapsed(&rec->rc) - last_refresh >= 1.0;
		if (all)
			last_refresh = run_control_elapsed(&rec->rc);
		process_table_refresh(rec->processes, all);
	}
	/* Late mappings seen by the unwinders while the targets may still be alive. */
	process_table_refresh(rec->processes, true);
	if (stop == RUN_STOP_SIGNAL && rec->launched)
		target_launch_signal(&rec->launch, rec->rc.last_signal);
	if (rec->sampler) {
		sampler_stop(rec->sampler);
		if (sampler_drain(rec->sampler) < 0)
			log_warn("draining the last samples failed");
	}
	return SMOLDER_EXIT_OK;
}

/* The latest model of the launched or first given process, or NULL. */
static const struct process_model *record_primary_model(const struct record *rec)
{
	size_t n;
	struct process_model *const *models = process_table_models(rec->processes, &n);

	for (size_t i = n; i-- > 0;)
		if (models[i]->pid == rec->pid)
			return models[i];
	return NULL;
}

static int record_share_cmp(const void *a, const void *b)
{
	const struct profile_process *x = a, *y = b;

	if (x->weight != y->weight)
		return x->weight < y->weight ? 1 : -1;
	return x->pid - y->pid;
}

/* Samples per process (per command with --merge-processes), most first, for the JSON table. A
 * pid that exec'd is named by its last program. Commands belong to the process table. */
static int record_process_shares(struct record *rec, struct profile_process **out, size_t *n_out)
{
	const struct stack_table *stacks = cpu_profile_stacks(rec->profile);
	const struct cpu_profile_entry *entries;
	struct profile_process *procs;
	uint32_t *exec_counts;
	size_t n, n_procs = 0, n_models;

	entries = cpu_profile_entries(rec->profile, &n);
	process_table_models(rec->processes, &n_models);
	procs = calloc(n_models + 1, sizeof(*procs));
	exec_counts = calloc(n_models + 1, sizeof(*exec_counts));
	if (!procs || !exec_counts) {
		free(procs);
		free(exec_counts);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t depth;
		const uint64_t *frames = stack_table_get(stacks, entries[i].stack_id, &depth);
		const struct process_model *m =
			frames && depth ? process_table_find_root(rec->processes, frames[depth - 1])
					: NULL;
		size_t k;

		if (!m)
			continue;
		for (k = 0; k < n_procs; k++)
			if (rec->opts->merge_processes ? strcmp(procs[k].command, m->comm) == 0
						       : procs[k].pid == m->pid)
				break;
		if (k == n_procs) {
			procs[n_procs++] =
				(struct profile_process){.pid = m->pid, .command = m->comm};
			exec_counts[k] = m->exec_count;
		} else if (!rec->opts->merge_processes && m->exec_count > exec_counts[k]) {
			procs[k].command = m->comm;
			exec_counts[k] = m->exec_count;
		}
		procs[k].weight += entries[i].count;
	}
	free(exec_counts);
	if (n_procs > 1)
		qsort(procs, n_procs, sizeof(*procs), record_share_cmp);
	*out = procs;
	*n_out = n_procs;
	return 0;
}

static void record_summary(struct record *rec, const struct sampler_stats *ss,
			   const struct profile_output_stats *os, double duration)
{
	const struct process_model *primary;
	struct cpu_profile_totals t;

	cpu_profile_get_totals(rec->profile, &t);
	log_info("recorded %.1f s of PID %d (%s) at %d Hz (%s)", duration, rec->pid, rec->comm,
		 rec->opts->frequency_hz, run_control_reason_name(rec->rc.reason));
	log_info("samples: %" PRIu64 " kept, %" PRIu64 " lost (ring buffer full %" PRIu64
		 ", unreadable %" PRIu64 ", aggregation %" PRIu64 ")",
		 t.samples, t.lost, ss->ringbuf_full, ss->malformed, rec->add_errors);
	log_info("stacks: %" PRIu64 " complete, %" PRIu64 " truncated, %" PRIu64
		 " kernel only, %" PRIu64 " unwind errors; stack copies: %" PRIu64
		 " clipped at the copy size, %" PRIu64 " failed",
		 t.complete, t.truncated, t.kernel_only, rec->unwind_errors, ss->stack_clipped,
		 ss->stack_copy_failed);
	/* Normal for main threads: exec leaves never-touched pages above the first frame. */
	log_debug("stack copies: mean %" PRIu64 " bytes, %" PRIu64
		  " ending at a page not present, %" PRIu64
		  " without a stack mapping; ring buffer %u bytes",
		  ss->received ? rec->stack_bytes / ss->received : 0, ss->stack_partial, ss->no_vma,
		  ss->ringbuf_bytes);
	log_info("symbols: %" PRIu64 " unique addresses in %.3f s, %" PRIu64 " unknown; %" PRIu64
		 " unknown frames in samples",
		 os->unique_addresses, os->symbolize_seconds, os->unknown_addresses,
		 os->unknown_frames);
	primary = record_primary_model(rec);
	if (primary && symbolizer_jit_hint(primary->symbolizer))
		log_info("%s", symbolizer_jit_hint(primary->symbolizer));
	if (process_table_pid_count(rec->processes) > 1 || ss->forks_followed)
		log_info("processes: %zu sampled, %" PRIu64 " children followed, %" PRIu64
			 " not followed (target map full), %" PRIu64
			 " fork/exec/exit events lost; %" PRIu64 " samples without a process model",
			 process_table_pid_count(rec->processes), ss->forks_followed,
			 ss->targets_full, ss->process_events_lost, rec->model_errors);
	if (rec->python) {
		const struct mixed_stack_stats *p = &rec->python_stats;
		struct python_runtime_stats rs;

		python_runtime_stats(rec->python, &rs);
		log_info("python %s: %" PRIu64 " stacks with Python frames, %" PRIu64
			 " frames named; not read: %" PRIu64
			 " samples without a thread state, %" PRIu64 " chains truncated, %" PRIu64
			 " cut by an unreadable frame, %" PRIu64 " frames unnamed (%" PRIu64
			 " stale, %" PRIu64 " unreadable code objects)",
			 python_runtime_version(rec->python), p->stacks, p->frames, p->no_tstate,
			 p->truncated, p->unreadable, p->frames_unnamed, rs.code_stale,
			 rs.code_unreadable);
	}
}

/* The ptrace backend's statistics, and its cost in one line: the target is held at every tick. */
static void record_ptrace_stats(struct record *rec, struct sampler_stats *ss)
{
	struct ptrace_sampler_extra x;

	ptrace_sampler_get_stats(rec->ptrace_sampler, ss, &x);
	log_info("ptrace backend: %" PRIu64 " ticks (%" PRIu64 " missed, %" PRIu64
		 " with no thread on CPU); threads held %.3f ms per tick on average, "
		 "%.3f ms at most",
		 x.rounds, x.missed_ticks, x.idle_rounds,
		 x.rounds ? (double)x.stop_ns_total / (double)x.rounds / 1e6 : 0.0,
		 (double)x.stop_ns_max / 1e6);
}

static int record_flush(struct record *rec, const struct cli_output *outputs, size_t n_outputs)
{
	struct profile_output_options oo = {
		.threads = rec->opts->threads,
		.no_kernel = rec->opts->no_kernel,
		.title = "CPU",
		.countname = "samples",
		.colors = "hot",
		.thread_name = record_thread_name,
		.thread_name_ctx = rec->profile,
		.names = cpu_profile_names(rec->profile),
		.processes = rec->processes,
		/* A root frame per process only when there is more than one. */
		.process_roots = process_table_pid_count(rec->processes) > 1,
		.merge_processes = rec->opts->merge_processes,
	};
	const struct process_model *primary;
	struct profile_process *procs = NULL;
	size_t n_procs = 0;
	struct profile_output_stats os = {0};
	struct sampler_stats ss = {0};
	struct profile_output_meta meta;
	struct cpu_profile_totals t;
	const struct cpu_profile_entry *entries;
	struct profile_weight *weights;
	struct profile_folded *folded;
	double duration = run_control_elapsed(&rec->rc), cpu_end_s;
	size_t n;
	int ret;

	if (rec->sampler)
		sampler_get_stats(rec->sampler, &ss);
	else
		record_ptrace_stats(rec, &ss);
	cpu_profile_add_lost(rec->profile,
			     ss.ringbuf_full + ss.malformed + rec->add_errors + rec->model_errors);
	/* The run is named by the launched or first given process's last program. */
	primary = record_primary_model(rec);
	if (primary)
		snprintf(rec->comm, sizeof(rec->comm), "%s", primary->comm);

	entries = cpu_profile_entries(rec->profile, &n);
	weights = calloc(n + 1, sizeof(*weights));
	if (!weights) {
		log_error("out of memory");
		return SMOLDER_EXIT_INTERNAL;
	}
	for (size_t i = 0; i < n; i++)
		weights[i] = (struct profile_weight){entries[i].stack_id, entries[i].tid,
						     entries[i].count};
	folded = profile_output_fold(cpu_profile_stacks(rec->profile), weights, n, NULL, &oo, &os);
	free(weights);
	if (!folded || record_process_shares(rec, &procs, &n_procs) < 0) {
		profile_folded_free(folded);
		log_error("folding the profile: %s", strerror(errno));
		return SMOLDER_EXIT_INTERNAL;
	}
	cpu_profile_set_unknown_frames(rec->profile, os.unknown_frames);
	cpu_profile_get_totals(rec->profile, &t);
	if (isnan(rec->cpu_start_s) || target_cpu_seconds(rec->pid, &cpu_end_s))
		cpu_end_s = NAN;
	meta = (struct profile_output_meta){
		.pid = rec->pid,
		.command = rec->comm,
		.duration_s = duration,
		.frequency_hz = rec->opts->frequency_hz,
		.samples = t.samples,
		.lost = t.lost,
		.complete = t.complete,
		.truncated = t.truncated,
		.python_version = rec->python ? python_runtime_version(rec->python) : NULL,
		.python = rec->python ? &rec->python_stats : NULL,
		.cpu_time_s = cpu_end_s - rec->cpu_start_s,
		.processes = procs,
		.n_processes = n_procs,
	};
	record_summary(rec, &ss, &os, duration);
	/* Ctrl-C before the first sample: an empty profile would replace a previous run's file
	 * with nothing worth keeping. Keep it and say why. A run that ended by itself (-d, target
	 * exit) writes its outputs, empty or not, so scripts find them. */
	if (t.samples == 0 && rec->rc.reason == RUN_STOP_SIGNAL) {
		log_warn("nothing was sampled before the interrupt: no output written (existing "
			 "files left as they were)");
		ret = 0;
	} else {
		if (t.samples == 0)
			log_warn(
				"no samples: the target did not run on a CPU during the recording");
		ret = profile_output_write(folded, outputs, n_outputs, &oo, &meta);
	}
	profile_folded_free(folded);
	free(procs);
	return ret ? SMOLDER_EXIT_INTERNAL : SMOLDER_EXIT_OK;
}

/* Launch mode, after the outputs are written: wait for CMD, forwarding SIGINT/SIGTERM. */
static void record_wait_child(struct record *rec)
{
	for (;;) {
		struct pollfd pfds[2];
		struct signalfd_siginfo si;
		int n = 0;

		if (target_launch_wait(&rec->launch, false) != 0)
			return; /* reaped, or an error: nothing more to wait for */
		if (rec->rc.signal_fd >= 0) {
			pfds[n].fd = rec->rc.signal_fd;
			pfds[n++].events = POLLIN;
		}
		if (rec->launch.pidfd >= 0) {
			pfds[n].fd = rec->launch.pidfd;
			pfds[n++].events = POLLIN;
		}
		poll(pfds, (nfds_t)n, n == 0 || rec->launch.pidfd < 0 ? 100 : -1);
		if (rec->rc.signal_fd >= 0 &&
		    read(rec->rc.signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			target_launch_signal(&rec->launch, (int)si.ssi_signo);
	}
}

int cmd_record(const struct cli_options *opts)
{
	struct cli_output default_output;
	const struct cli_output *outputs = opts->outputs;
	size_t n_outputs = opts->n_outputs;
	char default_path[64], err[512];
	struct record *rec;
	int code;

	rec = calloc(1, sizeof(*rec));
	if (!rec) {
		log_error("out of memory");
		return SMOLDER_EXIT_INTERNAL;
	}
	rec->opts = opts;
	rec->launch.release_fd = -1;
	rec->launch.pidfd = -1;
	rec->rc.signal_fd = -1;
	rec->rc.pidfd = -1;

	if (opts->launch_argv) {
		code = target_launch_prepare(opts->launch_argv, &rec->launch);
		if (code < 0) {
			log_error("cannot run %s: %s", opts->launch_argv[0], strerror(-code));
			code = SMOLDER_EXIT_TARGET;
			goto out;
		}
		rec->launched = true;
		rec->pid = rec->launch.pid;
	} else {
		rec->pid = opts->pid;
		for (size_t i = 0; i < opts->n_pids; i++) {
			code = target_check(opts->pids[i], err, sizeof(err));
			if (code != SMOLDER_EXIT_OK) {
				log_error("%s", err);
				goto out;
			}
		}
	}
	if (n_outputs == 0) {
		snprintf(default_path, sizeof(default_path), "smolder-%d.svg", (int)rec->pid);
		default_output.path = default_path;
		default_output.format = OUTPUT_FORMAT_SVG;
		outputs = &default_output;
		n_outputs = 1;
		/* -o paths were checked by the command line; the default one is checked here. */
		if (output_file_check(default_path, err, sizeof(err)) != 0) {
			log_error("%s", err);
			code = SMOLDER_EXIT_USAGE;
			goto out;
		}
		output_file_remove_stale(default_path);
	}

	code = run_control_init(&rec->rc, rec->pid, opts->duration_ns);
	if (code < 0) {
		log_error("signal handling setup: %s", strerror(-code));
		code = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	/* With a -p list the run lasts until every listed process has exited. */
	for (size_t i = 1; !rec->launched && i < opts->n_pids; i++) {
		code = run_control_watch(&rec->rc, opts->pids[i]);
		if (code < 0) {
			log_error("watching PID %d: %s", (int)opts->pids[i], strerror(-code));
			code = SMOLDER_EXIT_INTERNAL;
			goto out;
		}
	}
	code = record_attach(rec, err, sizeof(err));
	if (code != SMOLDER_EXIT_OK) {
		log_error("%s", err);
		goto out;
	}
	/* The kernel's CPU accounting of the target, next to the samples: exact where sample counts
	 * are biased on a loaded machine (check's cpu_s uses it). */
	if (target_cpu_seconds(rec->pid, &rec->cpu_start_s))
		rec->cpu_start_s = NAN;
	if (rec->launched) {
		if (target_launch_release(&rec->launch) < 0) {
			log_error("cannot start %s: the child went away", opts->launch_argv[0]);
			code = SMOLDER_EXIT_TARGET;
			goto out;
		}
		record_wait_for_exec(rec);
	} else if (kill(rec->pid, 0) != 0 && errno == ESRCH) {
		log_error("PID %d exited before smolder could attach", rec->pid);
		code = SMOLDER_EXIT_TARGET;
		goto out;
	}
	record_open_target_models(rec);
	if (rec->launched)
		log_info("profiling %s (PID %d) at %d Hz", opts->launch_argv[0], rec->pid,
			 opts->frequency_hz);
	else
		log_info("profiling PID %d (%s) at %d Hz; Ctrl-C to stop", rec->pid, rec->comm,
			 opts->frequency_hz);

	code = record_run(rec);
	if (code == SMOLDER_EXIT_OK)
		code = record_flush(rec, outputs, n_outputs);
	if (rec->launched) {
		int child_code;

		record_wait_child(rec);
		child_code = target_launch_exit_code(&rec->launch);
		/* CMD's status is the answer, unless smolder itself failed to write. */
		if (code == SMOLDER_EXIT_OK)
			code = child_code;
	}

out:
	sampler_free(rec->sampler);
	ptrace_sampler_free(rec->ptrace_sampler);
	if (rec->launched && !rec->launch.reaped) {
		/* Never leave a held child behind: closing the release pipe makes it exit. */
		target_launch_wait(&rec->launch, rec->launch.release_fd >= 0);
	}
	run_control_release(&rec->rc);
	python_runtime_free(rec->python);
	process_table_free(rec->processes);
	cpu_profile_free(rec->profile);
	free(rec);
	return code;
}
