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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smolder/cpu_profile.h"
#include "smolder/frame.h"
#include "smolder/frame_names.h"
#include "smolder/log.h"
#include "smolder/mixed_stack.h"
#include "smolder/proc_maps.h"
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
	uint64_t unwind_errors;
	uint64_t add_errors;
	uint64_t stack_bytes; /* user stack bytes received, for the mean copy size */
	double cpu_start_s;   /* the target's CPU seconds at attach (kernel accounting); NAN */
	uint64_t ips[CPU_MAX_USER_FRAMES];
	uint64_t kernel_ips[SMOLDER_MAX_KERNEL_FRAMES];
	/* Python targets: named frames, the runtime, and the spliced stack. */
	struct frame_names *names; /* the profile's (not owned) */
	struct python_runtime *python;
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
	cpu_profile_free(cc->profile);
	python_runtime_free(cc->python);
	free(cc);
}

struct cpu_profile *cpu_collector_profile(struct cpu_collector *cc)
{
	return cc->profile;
}

int cpu_collector_on_sample(void *ctx, const struct smolder_cpu_sample *sample, size_t size)
{
	struct cpu_collector *cc = ctx;
	struct unwinder *unwinder = cc->session->unwinder;
	uint32_t n_user = 0, flags = 0;
	pid_t tid = (pid_t)sample->tid;

	(void)size;
	cc->stack_bytes += sample->user_stack_len;
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
	if (cc->python && n_user > 0) {
		/* The Python frames read at the same instant replace the interpreter's frames. */
		const struct smolder_python_frame *py =
			(const void *)(sample->user_stack +
				       smolder_python_offset(sample->user_stack_len));
		unsigned options = (cc->opts.native ? MIXED_STACK_KEEP_NATIVE : 0) |
				   (cc->opts.python_by_function ? MIXED_STACK_BY_FUNCTION : 0);

		n_user = (uint32_t)mixed_stack_splice(cc->python, cc->names, py,
						      sample->python_frames, sample->python_flags,
						      cc->ips, n_user, options, cc->mixed,
						      CPU_MAX_USER_FRAMES, &cc->python_stats);
		memcpy(cc->ips, cc->mixed, n_user * sizeof(cc->ips[0]));
	}
	/* bpf_get_stack gives return addresses for callers: look up the call instruction. */
	for (uint32_t i = 0; i < sample->kernel_frames; i++)
		cc->kernel_ips[i] = i == 0 ? sample->kernel_ips[0] : sample->kernel_ips[i] - 1;

	if (!cpu_profile_has_thread(cc->profile, tid)) {
		char name[64];

		/* Read the name the first time the thread shows up: it may be gone at the end. */
		if (target_thread_name(cc->session->pid, tid, name, sizeof(name)) == 0)
			cpu_profile_set_thread_name(cc->profile, tid, name);
	}
	if (cpu_profile_add(cc->profile, tid, cc->ips, n_user, cc->kernel_ips,
			    sample->kernel_frames, flags) != 0)
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
static void cpu_collector_on_code_mapped(void *ctx)
{
	struct cpu_collector *cc = ctx;

	if (cc->session && cc->session->unwinder)
		unwinder_refresh_maps(cc->session->unwinder);
}

static void cpu_collector_on_maps(void *arg, uint32_t generation, const struct proc_maps *maps)
{
	int err = symbolizer_add_maps(arg, generation, maps);

	if (err)
		log_debug("symbolizer: maps generation %u: %s", generation, strerror(-err));
}

static int cpu_collector_attach(void *ctx, struct session *s)
{
	struct cpu_collector *cc = ctx;
	struct sampler_options so = {
		.pid = s->pid,
		.frequency_hz = cc->opts.frequency_hz,
		.kernel_stacks = !cc->opts.no_kernel,
		.on_code_mapped = cpu_collector_on_code_mapped,
	};
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
	if (!cc->profile) {
		log_error("out of memory");
		return SMOLDER_EXIT_INTERNAL;
	}
	/* The kernel's CPU accounting of the target, next to the samples: exact where sample counts
	 * are biased on a loaded machine (check's cpu_s uses it). */
	if (target_cpu_seconds(s->pid, &cc->cpu_start_s))
		cc->cpu_start_s = NAN;
	if (cc->opts.backend != SAMPLE_BACKEND_PTRACE) {
		cc->sampler = sampler_new(&so, cpu_collector_on_sample, cc, err, sizeof(err));
		if (cc->sampler)
			return SMOLDER_EXIT_OK;
		code = sampler_exit_code(errno);
		if (cc->opts.backend == SAMPLE_BACKEND_BPF ||
		    (code != SMOLDER_EXIT_PRIVILEGE && code != SMOLDER_EXIT_KERNEL)) {
			log_error("%s", err);
			return code;
		}
		/* auto without eBPF: ptrace works on one's own processes unprivileged. */
		snprintf(bpf_err, sizeof(bpf_err), "%s", err);
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
		log_info("eBPF unavailable (%s): using the ptrace backend (--backend ptrace)",
			 bpf_err);
	return SMOLDER_EXIT_OK;
}

/* A CPython target: its frames are read in BPF from now on and spliced into the native stacks.
 * Not Python, or offsets that do not validate (python_runtime_open says why): native only. */
static void cpu_collector_open_python(struct cpu_collector *cc, struct session *s)
{
	struct smolder_python_config cfg;
	int ret;

	/* The profile's registry: its [truncated] marker and the Python frames share it. */
	cc->names = cpu_profile_names(cc->profile);
	cc->python = python_runtime_open(s->pid, cc->names);
	if (!cc->python) {
		if (errno != ENOENT && errno != EPROTO && errno != ENOSYS && errno != ESRCH)
			log_warn("Python runtime of PID %d: %s; native frames only", s->pid,
				 strerror(errno));
		return;
	}
	ret = python_runtime_bpf_config(cc->python, &cfg);
	if (ret == 0 && cc->sampler)
		ret = sampler_set_python(cc->sampler, &cfg);
	if (ret < 0) {
		log_warn("Python %s: the frame walk cannot be set up (%s); native frames only",
			 python_runtime_version(cc->python), strerror(-ret));
		python_runtime_free(cc->python);
		cc->python = NULL;
		return;
	}
	log_debug("Python %s (%s): Python frames in place of the interpreter's%s",
		  python_runtime_version(cc->python), python_runtime_object(cc->python),
		  cc->opts.native ? " (--native: interpreter frames kept)" : "");
}

/* The models are open: frames carry the unwinder's maps generation, and the symbolizer keeps each
 * generation's mappings, so code unloaded during the run keeps its names. */
static int cpu_collector_start(void *ctx, struct session *s)
{
	struct cpu_collector *cc = ctx;

	if (s->unwinder && s->symbolizer)
		unwinder_set_maps_listener(s->unwinder, cpu_collector_on_maps, s->symbolizer);
	cpu_collector_open_python(cc, s);
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
	int ret;

	(void)s;
	ret = cc->sampler ? sampler_poll(cc->sampler, timeout_ms)
			  : ptrace_sampler_poll(cc->ptrace_sampler, timeout_ms);
	return ret < 0 ? ret : 0;
}

static int cpu_collector_stop(void *ctx, struct session *s, double t)
{
	struct cpu_collector *cc = ctx;

	(void)s;
	(void)t;
	if (!cc->sampler)
		return 0;
	sampler_stop(cc->sampler);
	return sampler_drain(cc->sampler) < 0 ? -EIO : 0;
}

void cpu_collector_plug(struct cpu_collector *cc, struct session_collector *out)
{
	*out = (struct session_collector){
		.name = "CPU sampler",
		.ctx = cc,
		.attach = cpu_collector_attach,
		.start = cpu_collector_start,
		.fd = cpu_collector_fd,
		.poll = cpu_collector_poll,
		.stop = cpu_collector_stop,
	};
}

static void cpu_collector_summary(struct cpu_collector *cc, struct session *s,
				  const struct sampler_stats *ss,
				  const struct profile_output_stats *os)
{
	struct cpu_profile_totals t;

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
	if (symbolizer_jit_hint(s->symbolizer))
		log_info("%s", symbolizer_jit_hint(s->symbolizer));
	if (cc->python) {
		const struct mixed_stack_stats *p = &cc->python_stats;
		struct python_runtime_stats rs;

		python_runtime_stats(cc->python, &rs);
		log_info("python %s: %" PRIu64 " stacks with Python frames, %" PRIu64
			 " frames named; not read: %" PRIu64
			 " samples without a thread state, %" PRIu64 " chains truncated, %" PRIu64
			 " cut by an unreadable frame, %" PRIu64 " frames unnamed (%" PRIu64
			 " stale, %" PRIu64 " unreadable code objects)",
			 python_runtime_version(cc->python), p->stacks, p->frames, p->no_tstate,
			 p->truncated, p->unreadable, p->frames_unnamed, rs.code_stale,
			 rs.code_unreadable);
	}
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
					    const struct profile_output_options *oo,
					    struct profile_output_meta *meta)
{
	double cpu_end_s;
	struct profile_output_stats os = {0};
	struct sampler_stats ss = {0};
	struct cpu_profile_totals t;
	const struct cpu_profile_entry *entries;
	struct profile_weight *weights;
	struct profile_folded *folded;
	size_t n;

	if (cc->sampler)
		sampler_get_stats(cc->sampler, &ss);
	else if (cc->ptrace_sampler)
		cpu_collector_ptrace_stats(cc, &ss);
	cpu_profile_add_lost(cc->profile, ss.ringbuf_full + ss.malformed + cc->add_errors);

	entries = cpu_profile_entries(cc->profile, &n);
	weights = calloc(n + 1, sizeof(*weights));
	if (!weights)
		return NULL;
	for (size_t i = 0; i < n; i++)
		weights[i] = (struct profile_weight){entries[i].stack_id, entries[i].tid,
						     entries[i].count};
	folded = profile_output_fold(cpu_profile_stacks(cc->profile), weights, n, s->symbolizer, oo,
				     &os);
	free(weights);
	if (!folded)
		return NULL;
	cpu_profile_set_unknown_frames(cc->profile, os.unknown_frames);
	cpu_profile_get_totals(cc->profile, &t);
	if (isnan(cc->cpu_start_s) || target_cpu_seconds(s->pid, &cpu_end_s))
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
		.python_version = cc->python ? python_runtime_version(cc->python) : NULL,
		.python = cc->python ? &cc->python_stats : NULL,
		.cpu_time_s = cpu_end_s - cc->cpu_start_s,
	};
	cpu_collector_summary(cc, s, &ss, &os);
	return folded;
}
