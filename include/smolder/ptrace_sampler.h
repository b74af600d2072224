/* ptrace_sampler.h: the ptrace CPU sampling backend of `record`, for when eBPF cannot be used
 * (no CAP_BPF/CAP_PERFMON, no BTF) but ptrace can (one's own process). At each tick it stops the
 * target's threads that are running (state R), copies registers and stack bytes, lets them go, and
 * hands each copy to the same callback as the eBPF sampler as a struct smolder_cpu_sample, so
 * unwinding, aggregation and outputs are shared. No kernel stacks: ptrace sees user state only.
 * Owns its ptrace session and sample buffers. */
#ifndef SMOLDER_PTRACE_SAMPLER_H
#define SMOLDER_PTRACE_SAMPLER_H

#include <stdint.h>
#include <sys/types.h>

#include "smolder/sampler.h"

struct ptrace_sampler;

/* Extra figures of the ptrace backend (its cost), beside struct sampler_stats. */
struct ptrace_sampler_extra {
	uint64_t rounds;	 /* ticks taken */
	uint64_t missed_ticks;	 /* ticks skipped because a round overran its period */
	uint64_t idle_rounds;	 /* ticks at which no target thread was running */
	uint64_t vanished;	 /* threads that exited while being stopped */
	uint64_t stop_ns_total;	 /* sum over rounds of the time threads were held */
	uint64_t stop_ns_max;	 /* longest single hold */
	uint64_t round_ns_total; /* smolder's own time per round (stop + copy), summed */
};

/* Checks pid can be ptraced (one trial stop of all threads) and prepares sampling at
 * opts->frequency_hz with opts->stack_copy_size bytes of stack (0: SMOLDER_STACK_COPY_DEFAULT).
 * NULL and errno on failure with a one-line reason in err; ptrace_sampler_exit_code(errno) gives
 * the smolder exit code. Free with ptrace_sampler_free. */
struct ptrace_sampler *ptrace_sampler_new(const struct sampler_options *opts, sampler_sample_fn fn,
					  void *ctx, char *err, size_t errlen);
/* Detaches (nothing stays stopped or traced) and frees. NULL-safe. */
void ptrace_sampler_free(struct ptrace_sampler *ps);
/* Samples at the ticks falling within the next timeout_ms, delivering records to the callback
 * after each round's threads run again. Returns records delivered or -errno. */
int ptrace_sampler_poll(struct ptrace_sampler *ps, int timeout_ms);
/* Fills the shared sampler statistics (cpus and ring buffer fields are 0). */
void ptrace_sampler_get_stats(const struct ptrace_sampler *ps, struct sampler_stats *stats,
			      struct ptrace_sampler_extra *extra);
/* The smolder exit code for an errno from ptrace_sampler_new. */
int ptrace_sampler_exit_code(int err);

#endif
