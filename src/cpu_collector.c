/* cpu_collector.c: on-CPU sampling as a session collector. Samples arrive from the eBPF sampler's
 * ring buffer (or the ptrace backend); cpu_collector_on_sample is the one per-sample path: unwind
 * the user stack snapshot with the session's unwinder, convert kernel return addresses to lookup
 * addresses, name new threads, aggregate. At the end the profile is folded once through the
 * session's symbolizer.
 *
 * Environment knobs for measurements and other machines: SMOLDER_STACK_COPY=BYTES (user stack
 * copy size), SMOLDER_PER_TASK_EVENTS=1 (per-task perf events instead of one per CPU). */
#include "smolder/cpu_collector.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smolder/cpu_profile.h"
#include "smolder/frame.h"
#include "smolder/frame_names.h"
#include "smolder/log.h"
#include "smolder/mixed_stack.h"
#include "smolder/offcpu_collector.h"
#include "smolder/proc_maps.h"
#include "smolder/process_table.h"
#include "smolder/python.h"
#include "smolder/ptrace_sampler.h"
#include "smolder/run_control.h"
#include "smolder/sampler.h"
#include "smolder/session.h"
#include "smolder/symbolizer.h"
#include "smolder/target.h"
#include "smolder/unwinder.h"

#define CPU_MAX_USER_FRAMES 512

struct cpu_collector {
	struct cpu_collector_options opts;
	struct session *session; /* set at attach; the models are the session's */
	struct sampler *sampler;
	struct ptrace_sampler *ptrace_sampler; /* --backend ptrace, or auto without eBPF */
	struct cpu_profile *profile;
	/* Per process: unwinder, symbolizer, name, root frame. The CPU path resolves each sample in
	 * its own process's model (a -p list, followed children, exec'd programs). */
	struct process_table *processes;
	uint64_t model_errors; /* samples whose process model could not be made (no memory) */
	bool exec_seen;	       /* launch mode: the launched process's exec event arrived */
	struct profile_process *shares; /* per-process table of the last finish (owned) */
	size_t n_shares;
	uint64_t next_refresh_ns; /* every model's symbolizer re-reads its maps then */
	uint64_t unwind_errors;
	uint64_t add_errors;
	uint64_t stack_bytes; /* user stack bytes received, for the mean copy size */
	uint64_t stop_ns;     /* when the sampler was stopped (CLOCK_MONOTONIC) */
	double cpu_start_s;   /* the target's CPU seconds at attach (kernel accounting); NAN */
	uint64_t ips[CPU_MAX_USER_FRAMES];
	uint64_t kernel_ips[SMOLDER_MAX_KERNEL_FRAMES];
	/* Python targets: named frames and the spliced stack. Each process model has its own
	 * runtime (process_table_enable_python), and BPF its own config per process. */
	struct frame_names *names;     /* the profile's (not owned) */
	const char *python_version;    /* of the last finish: the primary's, else the first found */
	uint64_t python_config_errors; /* configs BPF could not take (map full) */
	struct mixed_stack_stats python_stats;
	uint64_t mixed[CPU_MAX_USER_FRAMES];
};

struct cpu_collector *cpu_collector_new(const struct cpu_collector_options *opts)
{
	struct cpu_collector *cc = calloc(1, sizeof(*cc));

	if (!cc)
		return NULL;
	cc->opts = *opts;
	return cc;
}

void cpu_collector_free(struct cpu_collector *cc)
{
	if (!cc)
		return;
	sampler_free(cc->sampler);
	ptrace_sampler_free(cc->ptrace_sampler);
	free(cc->shares);
	process_table_free(cc->processes);
	cpu_profile_free(cc->profile);
	free(cc);
}

struct cpu_profile *cpu_collector_profile(struct cpu_collector *cc)
{
	return cc->profile;
}

/* An off-CPU record, unwound like a sample (cc->ips holds its user frames): its kernel stack was
 * stored by id at switch-out; the off-CPU collector keeps it, weighted by the blocked time. */
static int cpu_collector_on_offcpu(struct cpu_collector *cc,
				   const struct smolder_cpu_sample *sample,
				   const struct process_model *model, uint32_t n_user,
				   uint32_t flags)
{
	int n_kernel = 0;

	if (!cc->opts.off_cpu)
		return 0;
	if (cc->sampler && !cc->opts.no_kernel)
		n_kernel = sampler_kernel_stack(cc->sampler, sample->offcpu_kernel_stack,
						cc->kernel_ips, SMOLDER_MAX_KERNEL_FRAMES);
	if (n_kernel < 0)
		n_kernel = 0; /* evicted: the user stack still says where it blocked */
	for (int i = 1; i < n_kernel; i++)
		cc->kernel_ips[i] -= 1;
	offcpu_collector_add(cc->opts.off_cpu, model->root_frame, (pid_t)sample->tid,
			     (pid_t)sample->tgid, cc->ips, n_user, cc->kernel_ips,
			     (uint32_t)n_kernel, flags, sample->offcpu_state, sample->offcpu_ns);
	return 0;
}

int cpu_collector_on_sample(void *ctx, const struct smolder_cpu_sample *sample, size_t size)
{
	struct cpu_collector *cc = ctx;
	uint32_t n_user = 0, flags = 0;
	pid_t tid = (pid_t)sample->tid, tgid = (pid_t)sample->tgid;
	struct process_model *model;
	struct unwinder *unwinder;

	(void)size;
	cc->stack_bytes += sample->user_stack_len;
	/* Made the first time the process shows up, while it is most likely still alive. */
	model = process_table_get(cc->processes, tgid);
	if (!model) {
		cc->model_errors++;
		return 0;
	}
	unwinder = model->unwinder;
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
		int ret = unwinder ? unwinder_unwind(unwinder, &snap, cc->ips, CPU_MAX_USER_FRAMES,
						     &result)
				   : -ENODEV;

		if (ret < 0 || result.n == 0) {
			/* Keep the sample with its leaf: the time was spent, even if the
			 * chain is unknown. */
			cc->unwind_errors++;
			cc->ips[0] = sample->ip;
			n_user = 1;
		} else {
			n_user = result.n;
			if (result.flags & UNWIND_COMPLETE)
				flags |= CPU_PROFILE_SAMPLE_COMPLETE;
		}
		for (uint32_t i = 0; i < n_user; i++)
			cc->ips[i] = frame_user(cc->ips[i], result.generation);
		if (!(flags & CPU_PROFILE_SAMPLE_COMPLETE))
			flags |= CPU_PROFILE_SAMPLE_TRUNCATED;
	}
	if (model->python && (sample->python_flags & SMOLDER_PYWALK_NO_CONFIG))
		cc->python_stats.not_examined++;
	if (model->python && n_user > 0 &&
	    (sample->python_flags & (SMOLDER_PYWALK_DONE | SMOLDER_PYWALK_NO_TSTATE))) {
		/* The Python frames read at the same instant replace the interpreter's frames,
		 * named with this process's (this program's) runtime. A sample taken before BPF
		 * had the process's config (SMOLDER_PYWALK_NO_CONFIG: its first samples, until
		 * smolder examined it) was not walked: it keeps the interpreter's native frames
		 * rather than losing them to an empty Python chain. */
		const struct smolder_python_frame *py =
			(const void *)(sample->user_stack +
				       smolder_python_offset(sample->user_stack_len));
		unsigned options = (cc->opts.native ? MIXED_STACK_KEEP_NATIVE : 0) |
				   (cc->opts.python_by_function ? MIXED_STACK_BY_FUNCTION : 0);

		n_user = (uint32_t)mixed_stack_splice(model->python, cc->names, py,
						      sample->python_frames, sample->python_flags,
						      cc->ips, n_user, options, cc->mixed,
						      CPU_MAX_USER_FRAMES, &cc->python_stats);
		memcpy(cc->ips, cc->mixed, n_user * sizeof(cc->ips[0]));
	}
	if (sample->kind == SMOLDER_EVENT_OFFCPU_SAMPLE)
		return cpu_collector_on_offcpu(cc, sample, model, n_user, flags);
	/* bpf_get_stack gives return addresses for callers: look up the call instruction. */
	for (uint32_t i = 0; i < sample->kernel_frames; i++)
		cc->kernel_ips[i] = i == 0 ? sample->kernel_ips[0] : sample->kernel_ips[i] - 1;

	if (!cpu_profile_has_thread(cc->profile, tid)) {
		char name[64];

		/* Read the name the first time the thread shows up: it may be gone at the end. */
		if (target_thread_name(tgid, tid, name, sizeof(name)) == 0)
			cpu_profile_set_thread_name(cc->profile, tid, name);
	}
	if (cpu_profile_add_rooted(cc->profile, model->root_frame, tid, cc->ips, n_user,
				   cc->kernel_ips, sample->kernel_frames, flags) != 0)
		cc->add_errors++;
	return 0;
}

const char *cpu_collector_thread_name(void *ctx, int32_t tid)
{
	struct cpu_collector *cc = ctx;

	return cpu_profile_thread_name(cc->profile, tid);
}

/* The target mapped code from a file (dlopen), in order among the samples: the samples after it
 * are unwound, and their frames stamped, with maps read now (a new generation if the code
 * changed); those before it keep the old generation. */
static void cpu_collector_on_code_mapped(void *ctx, pid_t tgid)
{
	struct cpu_collector *cc = ctx;
	struct process_model *m = process_table_get(cc->processes, tgid);

	if (m && m->unwinder && (!m->borrowed || m->adopted))
		unwinder_refresh_maps(m->unwinder);
}

/* A target forked (a followed child), exec'd or exited: records arrive in order with the samples,
 * so the samples after an exec are unwound with the new program's mappings. This, not the path
 * of /proc/PID/exe, says when a launched command has exec'd: a command whose binary is smolder's
 * own keeps the same path, and was profiled with the pre-exec mappings. */
static int cpu_collector_on_process(void *ctx, const struct smolder_process_event *ev)
{
	struct cpu_collector *cc = ctx;
	int ret = 0;

	switch (ev->kind) {
	case SMOLDER_EVENT_FORK:
		ret = process_table_fork(cc->processes, (pid_t)ev->tgid, (pid_t)ev->parent_tgid);
		break;
	case SMOLDER_EVENT_EXEC:
		ret = process_table_exec(cc->processes, (pid_t)ev->tgid);
		if ((pid_t)ev->tgid == cc->session->pid)
			cc->exec_seen = true;
		break;
	case SMOLDER_EVENT_EXIT:
		process_table_exit(cc->processes, (pid_t)ev->tgid);
		break;
	default:
		break;
	}
	if (ret < 0)
		cc->model_errors++;
	return 0;
}

/* A process model settled its Python state: its config goes to BPF (version 0 when it is not
 * Python, so its samples stop counting as not examined). */
static int cpu_collector_python_config(void *arg, const struct process_model *m)
{
	struct cpu_collector *cc = arg;
	struct smolder_python_config cfg;
	int ret = 0;

	if (m->python)
		ret = python_runtime_bpf_config(m->python, &cfg);
	if (ret == 0)
		ret = sampler_set_python(cc->sampler, m->pid, m->python ? &cfg : NULL);
	if (ret < 0)
		cc->python_config_errors++;
	else if (m->python)
		log_debug("PID %d: Python %s (%s): Python frames in place of the interpreter's%s",
			  (int)m->pid, python_runtime_version(m->python),
			  python_runtime_object(m->python),
			  cc->opts.native ? " (--native: interpreter frames kept)" : "");
	return ret;
}

/* Before the perf events sample (sampler_options.before_sampling): with --children on -p targets
 * the descendants living now join the set (the fork tracepoint, attached before this scan, adds
 * the ones forked from now on; a process gone by then is simply not sampled), and the given
 * processes and those descendants get their Python configs, so that their first samples already
 * carry Python frames. Launch mode: the target has not exec'd yet; its interpreter is found
 * later. */
static int cpu_collector_before_sampling(void *ctx, struct sampler *sampler)
{
	struct cpu_collector *cc = ctx;
	struct session *s = cc->session;
	pid_t *found = NULL;
	size_t n_found = 0;
	int ret = 0;

	cc->sampler = sampler; /* what the Python config callback writes to */
	if (s->launched)
		return 0;
	if (cc->opts.children == CLI_CHILDREN_FOLLOW) {
		ret = target_descendants(s->opts.pids, s->opts.n_pids, &found, &n_found);
		for (size_t i = 0; !ret && i < n_found; i++)
			ret = sampler_add_target(sampler, found[i]);
		if (ret) {
			log_error("adding the children of the targets: %s", strerror(-ret));
			free(found);
			return ret;
		}
		if (n_found)
			log_info("following %zu existing descendant process%s", n_found,
				 n_found == 1 ? "" : "es");
	}
	for (size_t i = 0; i < s->opts.n_pids; i++)
		process_table_prepare_python(cc->processes, s->opts.pids[i]);
	for (size_t i = 0; i < n_found; i++)
		process_table_prepare_python(cc->processes, found[i]);
	free(found);
	return 0;
}

/* The kernel's CPU accounting of what is sampled: the -p list, and with children the whole tree
 * (a launched nginx's workers, not only its master). 0 or -errno. */
static int cpu_collector_tree_cpu(const struct cpu_collector *cc, const struct session *s,
				  double *seconds)
{
	bool many = !s->launched && s->opts.n_pids > 1;

	return target_tree_cpu_seconds(many ? s->opts.pids : &s->pid, many ? s->opts.n_pids : 1,
				       cc->opts.children == CLI_CHILDREN_FOLLOW, seconds);
}

static int cpu_collector_attach(void *ctx, struct session *s)
{
	struct cpu_collector *cc = ctx;
	struct sampler_options so = {
		.pid = s->pid,
		.pids = s->opts.pids,
		.n_pids = s->launched ? 0 : s->opts.n_pids,
		.follow_children = cc->opts.children == CLI_CHILDREN_FOLLOW,
		.process_fn = cpu_collector_on_process,
		.frequency_hz = cc->opts.frequency_hz,
		.kernel_stacks = !cc->opts.no_kernel,
		.on_code_mapped = cpu_collector_on_code_mapped,
		.before_sampling = cpu_collector_before_sampling,
		.off_cpu = cc->opts.off_cpu != NULL,
		.off_cpu_min_block_ns =
			cc->opts.off_cpu ? offcpu_collector_min_block_ns(cc->opts.off_cpu) : 0,
	};
	bool tree = so.n_pids > 1 || so.follow_children;
	char err[512] = "", bpf_err[512] = "";
	const char *env;
	int code = SMOLDER_EXIT_OK;

	cc->session = s;
	env = getenv("SMOLDER_STACK_COPY");
	if (env && *env)
		so.stack_copy_size = (uint32_t)strtoul(env, NULL, 0);
	env = getenv("SMOLDER_PER_TASK_EVENTS");
	so.per_task_events = env && strcmp(env, "1") == 0;

	cc->profile = cpu_profile_new(s->pid);
	/* Process roots share the profile's named-frame registry. */
	cc->processes = cc->profile ? process_table_new(cpu_profile_names(cc->profile)) : NULL;
	if (!cc->processes ||
	    (cc->opts.off_cpu && offcpu_collector_open(cc->opts.off_cpu, s->pid,
						       cpu_profile_names(cc->profile)) != 0)) {
		log_error("out of memory");
		return SMOLDER_EXIT_INTERNAL;
	}
	/* The profile's registry: its [truncated] marker and the Python frames share it. */
	cc->names = cpu_profile_names(cc->profile);
	/* The kernel's CPU accounting of the target, next to the samples: exact where sample counts
	 * are biased on a loaded machine (check's cpu_s uses it). */
	if (cpu_collector_tree_cpu(cc, s, &cc->cpu_start_s))
		cc->cpu_start_s = NAN;
	if (cc->opts.backend != SAMPLE_BACKEND_PTRACE) {
		/* Every model looks for a CPython interpreter (a launched python3 still starting is
		 * retried by poll); the given processes' are looked for before sampling begins.
		 * The ptrace backend reads no Python frames: not enabled there. */
		process_table_enable_python(cc->processes, cpu_collector_python_config, cc);
		cc->sampler = sampler_new(&so, cpu_collector_on_sample, cc, err, sizeof(err));
		if (cc->sampler)
			return SMOLDER_EXIT_OK;
		process_table_enable_python(cc->processes, NULL, NULL);
		code = sampler_exit_code(errno);
		if (cc->opts.backend == SAMPLE_BACKEND_BPF ||
		    (code != SMOLDER_EXIT_PRIVILEGE && code != SMOLDER_EXIT_KERNEL)) {
			log_error("%s", err);
			return code;
		}
		/* auto without eBPF: ptrace works on one's own processes unprivileged. */
		snprintf(bpf_err, sizeof(bpf_err), "%s", err);
	}
	if (tree && (so.n_pids > 1 || !s->launched)) {
		/* The ptrace backend follows one process; a launched command's children are
		 * followed only by default, so it may go on without them. */
		log_error("%s%sthe ptrace backend profiles one process (no -p list, no --children)",
			  bpf_err, bpf_err[0] ? "; " : "");
		return bpf_err[0] ? code : SMOLDER_EXIT_USAGE;
	}
	cc->ptrace_sampler = ptrace_sampler_new(&so, cpu_collector_on_sample, cc, err, sizeof(err));
	if (!cc->ptrace_sampler) {
		if (bpf_err[0]) {
			/* Both failed: the eBPF reason is the one to fix. */
			log_error("%s", bpf_err);
			return code;
		}
		log_error("%s", err);
		return ptrace_sampler_exit_code(errno);
	}
	if (bpf_err[0])
		log_info("eBPF unavailable (%s): using the ptrace backend (--backend ptrace)%s",
			 bpf_err, tree ? "; children are not followed" : "");
	return SMOLDER_EXIT_OK;
}

/* Launch mode: the child was released and is exec'ing. Waits (bounded) for its exec event, so
 * the Python runtime is looked for in the new program; the samples taken meanwhile are consumed
 * in order (those before the exec stay with the pre-exec model). The ptrace backend has no exec
 * events: the session's wait on /proc/PID/exe is all there is. */
static int cpu_collector_wait_exec(void *ctx, struct session *s)
{
	struct cpu_collector *cc = ctx;

	if (!cc->sampler)
		return -EOPNOTSUPP;
	for (int i = 0; i < 200 && !cc->exec_seen; i++) {
		if (sampler_poll(cc->sampler, 5) < 0 || (kill(s->pid, 0) != 0 && errno == ESRCH))
			break;
	}
	return 0;
}

/* The target runs its program: the given processes' models are made now, while they surely live;
 * children's and exec'd programs' as they show up (process_table). */
static int cpu_collector_start(void *ctx, struct session *s)
{
	struct cpu_collector *cc = ctx;

	for (size_t i = 0; i < (s->launched ? 1 : s->opts.n_pids); i++) {
		pid_t pid = s->launched ? s->pid : s->opts.pids[i];
		/* The session's models of its target (profile: shared with the allocation
		 * collector) serve here too rather than a second set read for the same pid. */
		struct process_model *m = pid == s->pid
						  ? process_table_adopt(cc->processes, pid,
									s->unwinder, s->symbolizer)
						  : process_table_get(cc->processes, pid);

		if (m && !m->unwinder)
			log_warn(
				"PID %d: cannot read its mappings (%s); its stacks will hold their "
				"leaf only, as raw addresses",
				(int)pid, strerror(errno));
	}
	return 0;
}

/* The eBPF ring buffer's epoll fd; the ptrace backend has none (its poll is the loop's wait). */
static int cpu_collector_fd(void *ctx)
{
	struct cpu_collector *cc = ctx;

	return cc->sampler ? sampler_fd(cc->sampler) : -1;
}

static int cpu_collector_poll(void *ctx, struct session *s, int timeout_ms)
{
	struct cpu_collector *cc = ctx;
	uint64_t now = run_control_now_ns();
	bool all;
	int ret;

	ret = cc->sampler ? sampler_poll(cc->sampler, timeout_ms)
			  : ptrace_sampler_poll(cc->ptrace_sampler, timeout_ms);
	if (ret < 0)
		return ret;
	/* Interpreters still starting (launch mode, an exec'd child): tried again when due. */
	process_table_poll_python(cc->processes, now);
	/* The unwinders noticed new mappings (dlopen, exec): let the symbolizers open them while
	 * the processes are alive; all of them once a second. */
	all = now >= cc->next_refresh_ns;
	if (all)
		cc->next_refresh_ns = now + 1000000000ULL;
	process_table_refresh(cc->processes, all);
	return 0;
}

static int cpu_collector_stop(void *ctx, struct session *s, double t)
{
	struct cpu_collector *cc = ctx;

	(void)s;
	(void)t;
	/* Late mappings seen by the unwinders while the targets may still be alive. */
	process_table_refresh(cc->processes, true);
	if (!cc->sampler)
		return 0;
	cc->stop_ns = run_control_now_ns();
	sampler_stop(cc->sampler);
	return sampler_drain(cc->sampler) < 0 ? -EIO : 0;
}

void cpu_collector_plug(struct cpu_collector *cc, struct session_collector *out)
{
	*out = (struct session_collector){
		.name = "CPU sampler",
		.ctx = cc,
		.attach = cpu_collector_attach,
		.wait_exec = cpu_collector_wait_exec,
		.start = cpu_collector_start,
		.fd = cpu_collector_fd,
		.poll = cpu_collector_poll,
		.stop = cpu_collector_stop,
	};
}

/* The latest model of the launched or first given process, or NULL. */
static const struct process_model *cpu_collector_primary_model(const struct cpu_collector *cc,
							       const struct session *s)
{
	size_t n;
	struct process_model *const *models = process_table_models(cc->processes, &n);

	for (size_t i = n; i-- > 0;)
		if (models[i]->pid == s->pid)
			return models[i];
	return NULL;
}

static int cpu_collector_share_cmp(const void *a, const void *b)
{
	const struct profile_process *x = a, *y = b;

	if (x->weight != y->weight)
		return x->weight < y->weight ? 1 : -1;
	return x->pid - y->pid;
}

/* Samples per process (per command with --merge-processes), most first, for the JSON table. A
 * pid that exec'd is named by its last program. Commands belong to the process table. */
static int cpu_collector_process_shares(struct cpu_collector *cc, struct profile_process **out,
					size_t *n_out)
{
	const struct stack_table *stacks = cpu_profile_stacks(cc->profile);
	const struct cpu_profile_entry *entries;
	struct profile_process *procs;
	uint32_t *exec_counts;
	size_t n, n_procs = 0, n_models;

	entries = cpu_profile_entries(cc->profile, &n);
	process_table_models(cc->processes, &n_models);
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
			frames && depth ? process_table_find_root(cc->processes, frames[depth - 1])
					: NULL;
		size_t k;

		if (!m)
			continue;
		for (k = 0; k < n_procs; k++)
			if (cc->opts.merge_processes ? strcmp(procs[k].command, m->comm) == 0
						     : procs[k].pid == m->pid)
				break;
		if (k == n_procs) {
			procs[n_procs++] =
				(struct profile_process){.pid = m->pid, .command = m->comm};
			exec_counts[k] = m->exec_count;
		} else if (!cc->opts.merge_processes && m->exec_count > exec_counts[k]) {
			procs[k].command = m->comm;
			exec_counts[k] = m->exec_count;
		}
		procs[k].weight += entries[i].count;
	}
	free(exec_counts);
	if (n_procs > 1)
		qsort(procs, n_procs, sizeof(*procs), cpu_collector_share_cmp);
	*out = procs;
	*n_out = n_procs;
	return 0;
}

static void cpu_collector_summary(struct cpu_collector *cc, struct session *s,
				  const struct sampler_stats *ss,
				  const struct profile_output_stats *os)
{
	const struct process_model *primary;
	struct python_runtime_stats rs;
	struct cpu_profile_totals t;
	const char *version;
	size_t n_python;

	cpu_profile_get_totals(cc->profile, &t);
	log_info("recorded %.1f s of PID %d (%s) at %d Hz (%s)", s->duration_s, s->pid, s->comm,
		 cc->opts.frequency_hz, run_control_reason_name(s->stop));
	log_info("samples: %" PRIu64 " kept, %" PRIu64 " lost (ring buffer full %" PRIu64
		 ", unreadable %" PRIu64 ", aggregation %" PRIu64 ")",
		 t.samples, t.lost, ss->ringbuf_full, ss->malformed, cc->add_errors);
	log_info("stacks: %" PRIu64 " complete, %" PRIu64 " truncated, %" PRIu64
		 " kernel only, %" PRIu64 " unwind errors; stack copies: %" PRIu64
		 " clipped at the copy size, %" PRIu64 " failed",
		 t.complete, t.truncated, t.kernel_only, cc->unwind_errors, ss->stack_clipped,
		 ss->stack_copy_failed);
	/* Normal for main threads: exec leaves never-touched pages above the first frame. */
	log_debug("stack copies: mean %" PRIu64 " bytes, %" PRIu64
		  " ending at a page not present, %" PRIu64
		  " without a stack mapping; ring buffer %u bytes",
		  ss->received ? cc->stack_bytes / ss->received : 0, ss->stack_partial, ss->no_vma,
		  ss->ringbuf_bytes);
	log_info("symbols: %" PRIu64 " unique addresses in %.3f s, %" PRIu64 " unknown; %" PRIu64
		 " unknown frames in samples",
		 os->unique_addresses, os->symbolize_seconds, os->unknown_addresses,
		 os->unknown_frames);
	primary = cpu_collector_primary_model(cc, s);
	if (primary && symbolizer_jit_hint(primary->symbolizer))
		log_info("%s", symbolizer_jit_hint(primary->symbolizer));
	if (process_table_pid_count(cc->processes) > 1 || ss->forks_followed)
		log_info("processes: %zu sampled, %" PRIu64 " children followed, %" PRIu64
			 " not followed (target map full), %" PRIu64
			 " fork/exec/exit events lost; %" PRIu64 " samples without a process model",
			 process_table_pid_count(cc->processes), ss->forks_followed,
			 ss->targets_full, ss->process_events_lost, cc->model_errors);
	n_python = process_table_python_stats(cc->processes, &rs, &version);
	if (n_python) {
		const struct mixed_stack_stats *p = &cc->python_stats;
		char procs[48] = "";

		if (process_table_pid_count(cc->processes) > 1)
			snprintf(procs, sizeof(procs), " (%zu process%s)", n_python,
				 n_python == 1 ? "" : "es");
		log_info("python %s%s: %" PRIu64 " stacks with Python frames, %" PRIu64
			 " frames named; not read: %" PRIu64
			 " samples without a thread state, %" PRIu64 " chains truncated, %" PRIu64
			 " cut by an unreadable frame, %" PRIu64 " frames unnamed (%" PRIu64
			 " stale, %" PRIu64 " unreadable code objects), %" PRIu64
			 " samples taken before their process was examined (native frames kept)",
			 cc->python_version ? cc->python_version : version, procs, p->stacks,
			 p->frames, p->no_tstate, p->truncated, p->unreadable, p->frames_unnamed,
			 rs.code_stale, rs.code_unreadable, p->not_examined);
		log_debug("python: %" PRIu64
			  " samples of any target process without a config in BPF",
			  ss->python_no_config);
	}
	if (cc->python_config_errors)
		log_warn("python: %" PRIu64
			 " processes' configs could not be handed to BPF (map of "
			 "%d full?): their stacks are native",
			 cc->python_config_errors, SMOLDER_MAX_PYTHON_PROCESSES);
}

/* The ptrace backend's statistics, and its cost in one line: the target is held at every tick. */
static void cpu_collector_ptrace_stats(struct cpu_collector *cc, struct sampler_stats *ss)
{
	struct ptrace_sampler_extra x;

	ptrace_sampler_get_stats(cc->ptrace_sampler, ss, &x);
	log_info("ptrace backend: %" PRIu64 " ticks (%" PRIu64 " missed, %" PRIu64
		 " with no thread on CPU); threads held %.3f ms per tick on average, "
		 "%.3f ms at most",
		 x.rounds, x.missed_ticks, x.idle_rounds,
		 x.rounds ? (double)x.stop_ns_total / (double)x.rounds / 1e6 : 0.0,
		 (double)x.stop_ns_max / 1e6);
}

const struct frame_names *cpu_collector_names(const struct cpu_collector *cc)
{
	return cpu_profile_names(cc->profile);
}

struct profile_folded *cpu_collector_finish(struct cpu_collector *cc, struct session *s,
					    struct profile_output_options *oo,
					    struct profile_output_meta *meta)
{
	struct profile_output_stats os = {0};
	struct sampler_stats ss = {0};
	struct cpu_profile_totals t;
	const struct cpu_profile_entry *entries;
	const struct process_model *primary;
	struct profile_weight *weights;
	struct profile_folded *folded;
	double cpu_end_s;
	size_t n;

	if (cc->sampler)
		sampler_get_stats(cc->sampler, &ss);
	else if (cc->ptrace_sampler)
		cpu_collector_ptrace_stats(cc, &ss);
	cpu_profile_add_lost(cc->profile,
			     ss.ringbuf_full + ss.malformed + cc->add_errors + cc->model_errors);
	/* The run is named by the launched or first given process's last program; so is its
	 * Python version when it runs Python, else the first Python process's. */
	primary = cpu_collector_primary_model(cc, s);
	if (primary)
		snprintf(s->comm, sizeof(s->comm), "%s", primary->comm);
	if (primary && primary->python)
		cc->python_version = python_runtime_version(primary->python);
	else {
		struct python_runtime_stats rs;

		process_table_python_stats(cc->processes, &rs, &cc->python_version);
	}
	oo->names = cpu_profile_names(cc->profile);
	oo->processes = cc->processes;
	/* A root frame per process only when there is more than one. */
	oo->process_roots = process_table_pid_count(cc->processes) > 1;
	oo->merge_processes = cc->opts.merge_processes;

	entries = cpu_profile_entries(cc->profile, &n);
	weights = calloc(n + 1, sizeof(*weights));
	if (!weights)
		return NULL;
	for (size_t i = 0; i < n; i++)
		weights[i] = (struct profile_weight){entries[i].stack_id, entries[i].tid,
						     entries[i].count};
	folded = profile_output_fold(cpu_profile_stacks(cc->profile), weights, n, NULL, oo, &os);
	free(weights);
	free(cc->shares);
	cc->shares = NULL;
	if (!folded || cpu_collector_process_shares(cc, &cc->shares, &cc->n_shares) < 0) {
		profile_folded_free(folded);
		return NULL;
	}
	cpu_profile_set_unknown_frames(cc->profile, os.unknown_frames);
	cpu_profile_get_totals(cc->profile, &t);
	if (isnan(cc->cpu_start_s) || cpu_collector_tree_cpu(cc, s, &cpu_end_s))
		cpu_end_s = NAN;
	*meta = (struct profile_output_meta){
		.pid = s->pid,
		.command = s->comm,
		.duration_s = s->duration_s,
		.frequency_hz = cc->opts.frequency_hz,
		.samples = t.samples,
		.lost = t.lost,
		.complete = t.complete,
		.truncated = t.truncated,
		.python_version = cc->python_version,
		.python = cc->python_version ? &cc->python_stats : NULL,
		.cpu_time_s = cpu_end_s - cc->cpu_start_s,
		.processes = cc->shares,
		.n_processes = cc->n_shares,
	};
	cpu_collector_summary(cc, s, &ss, &os);
	return folded;
}

const struct offcpu_report *cpu_collector_finish_off_cpu(struct cpu_collector *cc,
							 struct session *s,
							 const struct profile_output_options *oo)
{
	if (!cc->opts.off_cpu || !cc->sampler) {
		errno = ENODEV;
		return NULL;
	}
	return offcpu_collector_finish(cc->opts.off_cpu, cc->sampler,
				       cc->stop_ns ? cc->stop_ns : run_control_now_ns(),
				       s->duration_s, oo);
}
