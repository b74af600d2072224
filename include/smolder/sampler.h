/* sampler.h: the eBPF CPU sampler: loads bpf/profile.bpf.c with maps sized from the options, opens
 * a cpu-clock perf event per online CPU (or per task), attaches, and hands each sample from the
 * ring buffer to a callback. Owns the BPF objects, the perf event fds and the ring buffer. */
#ifndef SMOLDER_SAMPLER_H
#define SMOLDER_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "smolder/events.h"

struct sampler;

/* Called for each fork (of a followed child), exec and exit of a target process, in order with
 * the samples. Return 0 to continue, a negative errno to stop polling. */
typedef int (*sampler_process_fn)(void *ctx, const struct smolder_process_event *event);

struct sampler_options {
	pid_t pid;	   /* target tgid (the first of pids) */
	const pid_t *pids; /* more targets (may repeat pid); NULL when n_pids is 0 */
	size_t n_pids;
	bool follow_children;	       /* add processes forked by targets (eBPF backend only) */
	sampler_process_fn process_fn; /* NULL: process events are counted and ignored */
	int frequency_hz;	       /* samples per second per CPU the target runs on */
	uint32_t stack_copy_size;      /* bytes of user stack copied at most; 0 = default */
	bool kernel_stacks;	       /* collect kernel stacks */
	bool per_task_events;	/* pid=TID, cpu=-1 events with inherit, for machines where they
				   fire (not this one: see DESIGN.md) */
	uint32_t ringbuf_bytes; /* 0 = sized from frequency, CPUs and copy size */
	/* Called (with the sample callback's ctx), in order among the samples, when target process
	 * tgid has mapped executable code from a file (dlopen): samples after it may run code that
	 * was not there before. NULL: not traced. */
	void (*on_code_mapped)(void *ctx, pid_t tgid);
	/* Called (with ctx) once the program is loaded, the targets are in its set and the fork
	 * tracepoint is attached, but before the perf events sample: per-process state the samples
	 * need (Python configs) is in place before the first sample. A negative errno fails
	 * sampler_new. NULL: none. */
	int (*before_sampling)(void *ctx, struct sampler *sampler);
	/* Off-CPU time (bpf/offcpu.bpf.h): records of kind SMOLDER_EVENT_OFFCPU_SAMPLE reach the
	 * sample callback too. min_block_ns: the sampling threshold (0: the default, 1 ms). */
	bool off_cpu;
	uint64_t off_cpu_min_block_ns;
};

/* Called for every record, from sampler_poll's thread. size is the record's length (header plus
 * user_stack_len bytes). Return 0 to continue, a negative errno to stop polling with that error. */
typedef int (*sampler_sample_fn)(void *ctx, const struct smolder_cpu_sample *sample, size_t size);

struct sampler_stats {
	uint64_t samples;	       /* target samples seen by the BPF program */
	uint64_t sent;		       /* records written to the ring buffer */
	uint64_t ringbuf_full;	       /* records dropped because the ring buffer was full */
	uint64_t stack_copy_failed;    /* samples sent without any user stack bytes */
	uint64_t stack_clipped;	       /* copies stopped by the copy size before the mapping end */
	uint64_t stack_partial;	       /* copies stopped early at a page that is not present */
	uint64_t no_vma;	       /* stack mapping not found */
	uint64_t kernel_stack_failed;  /* bpf_get_stack failures */
	uint64_t no_user_regs;	       /* samples without user registers */
	uint64_t python_walks;	       /* samples whose Python frame chain was read */
	uint64_t python_no_tstate;     /* samples of threads without a Python thread state */
	uint64_t python_truncated;     /* chains cut at the frame limit */
	uint64_t python_read_failed;   /* chains cut by an unreadable frame */
	uint64_t python_frames;	       /* Python frames sent */
	uint64_t python_no_config;     /* samples of processes not examined yet (no config) */
	uint64_t code_mapped;	       /* notices of code mapped from files */
	uint64_t code_mapped_lost;     /* such notices lost */
	uint64_t received;	       /* records delivered to the callback */
	uint64_t malformed;	       /* records rejected by user space (bad length) */
	uint64_t process_events;       /* fork/exec/exit records received */
	uint64_t process_events_lost;  /* fork/exec/exit records lost (ring buffer full) */
	uint64_t targets_full;	       /* children not followed: target map full */
	uint64_t forks_followed;       /* children added to the target set in BPF */
	uint64_t offcpu_blocks;	       /* off-CPU: blocks measured (switch-ins) */
	uint64_t offcpu_no_switch_out; /* switch-ins without a switch-out record */
	uint64_t offcpu_threads_full;  /* switch-outs not recorded: thread map full */
	uint64_t offcpu_sampled_out;   /* short blocks left out by the sampling */
	uint64_t offcpu_sent;	       /* off-CPU records sent */
	uint64_t offcpu_ringbuf_full;  /* off-CPU records lost: ring buffer full */
	uint64_t offcpu_no_user_stack; /* records sent without a user stack */
	uint64_t offcpu_kstack_failed; /* kernel stacks not stored (stack map full) */
	uint32_t cpus;		       /* perf events opened */
	uint32_t ringbuf_bytes;	       /* ring buffer size chosen */
};

/* Loads, attaches and starts sampling pid. NULL and errno on failure, with a one-line reason in err
 * (naming the capability or sysctl for EPERM/EACCES). Free with sampler_free. */
struct sampler *sampler_new(const struct sampler_options *opts, sampler_sample_fn fn, void *ctx,
			    char *err, size_t errlen);
/* Adds process pid to the targets sampled (a descendant found after attach). 0 or -errno. */
int sampler_add_target(struct sampler *sampler, pid_t pid);
/* Stops and frees everything. NULL-safe. */
void sampler_free(struct sampler *sampler);

/* Waits up to timeout_ms (less when the ring buffer fills a quarter) and delivers every record
 * waiting. Returns records consumed or -errno
 * (-EINTR is returned as 0). */
int sampler_poll(struct sampler *sampler, int timeout_ms);
/* An fd that polls readable when records wait (the ring buffer's epoll fd), for one event loop
 * over several sources; consume with sampler_poll(sampler, 0). */
int sampler_fd(const struct sampler *sampler);
/* Stops sampling (closes the perf events) so that a final drain terminates. Idempotent. */
void sampler_stop(struct sampler *sampler);
/* Delivers every record still in the ring buffer. Returns records consumed or -errno. */
int sampler_drain(struct sampler *sampler);

/* Sums the per-CPU BPF counters and the user-space ones. */
int sampler_get_stats(const struct sampler *sampler, struct sampler_stats *stats);

/* Process pid's Python config (copied into the BPF map python_configs): its samples get their
 * Python frame chain read with these offsets; cfg NULL: pid was examined and is not Python. Returns
 * 0, -EINVAL for out-of-range sizes, or the map update's -errno (-E2BIG: the map is full). */
int sampler_set_python(struct sampler *sampler, pid_t pid, const struct smolder_python_config *cfg);

/* The off-CPU per-state totals summed over CPUs (every block, not only the sampled ones). 0 or
 * -errno. */
int sampler_offcpu_totals(const struct sampler *sampler,
			  struct smolder_offcpu_total totals[SMOLDER_OFFCPU_STATE_COUNT]);
typedef void (*sampler_offcpu_thread_fn)(void *ctx, int32_t tid,
					 const struct smolder_offcpu_thread *thread);
/* Calls fn for every thread record the off-CPU program holds (blocked time per state). 0 or
 * -errno. */
int sampler_offcpu_threads(const struct sampler *sampler, sampler_offcpu_thread_fn fn, void *ctx);
/* Time the off-CPU programs ran (run_time_ns, run_cnt of both), counted by the kernel only while
 * the sysctl kernel.bpf_stats_enabled is 1 (else 0). 0 or -errno. */
int sampler_offcpu_run_ns(const struct sampler *sampler, uint64_t *ns, uint64_t *runs);
/* The kernel stack stored under id by the off-CPU program, leaf first, into ips (at most max).
 * Returns frames copied (0 for id < 0) or -errno. */
int sampler_kernel_stack(const struct sampler *sampler, int32_t id, uint64_t *ips, uint32_t max);

/* The smolder exit code (enum smolder_exit) for an errno from sampler_new. */
int sampler_exit_code(int err);

#endif
