/* offcpu_collector.h: off-CPU time of a profile run. Its records travel in the CPU sampler's ring
 * buffer (bpf/offcpu.bpf.h is part of profile.bpf.c), so it is fed by the CPU collector, which
 * unwinds them with the same code as CPU samples; this module keeps the time-weighted stacks (in
 * microseconds, under a state frame "[sleep]", "[io]", "[lock]", "[runnable]"), the exact
 * per-state and per-thread totals the BPF program sums, and the blocked-time finding. */
#ifndef SMOLDER_OFFCPU_COLLECTOR_H
#define SMOLDER_OFFCPU_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "smolder/events.h"
#include "smolder/profile_output.h"

struct frame_names;
struct offcpu_collector;
struct sampler;

struct offcpu_thread_total {
	int32_t tid;
	char name[32];
	double seconds[SMOLDER_OFFCPU_STATE_COUNT];
};

/* What the JSON report and the outputs are written from (owned by the collector). */
struct offcpu_report {
	double seconds;					  /* every state */
	double state_seconds[SMOLDER_OFFCPU_STATE_COUNT]; /* exact (every block, from BPF) */
	double still_blocked_s; /* of them, blocks not over at the end of the run */
	uint64_t blocks;
	uint64_t min_block_ns;	/* sampling threshold of the stacks */
	uint64_t records;	/* off-CPU records received */
	uint64_t records_lost;	/* ring buffer full */
	uint64_t no_user_stack; /* records without a user stack (no syscall exit) */
	uint64_t no_switch_out; /* switch-ins not measured */
	uint64_t threads_full;	/* switch-outs not recorded: map full */
	uint64_t kstack_failed; /* kernel stacks not stored */
	uint64_t sampled_out;	/* short blocks without a record (their time is in the totals) */
	uint64_t bpf_run_ns; /* time the off-CPU programs ran; 0 unless kernel.bpf_stats_enabled */
	uint64_t bpf_runs;   /* their invocations (every switch and syscall exit of the machine) */
	struct offcpu_thread_total *threads; /* most blocked first */
	size_t n_threads;
	const struct profile_folded *folded; /* time-weighted stacks (microseconds), or NULL */
	struct profile_output_options opts;  /* how they were folded (title, unit, palette) */
	char finding[512];		     /* the blocked-time finding, "" when none */
	double finding_share; /* its threads' time blocked there, 0..1 (ranks the findings) */
};

/* A collector keeping stacks of blocks of at least min_block_ns unsampled (0: 1 ms default). NULL
 * and errno on failure; free with offcpu_collector_free. */
struct offcpu_collector *offcpu_collector_new(uint64_t min_block_ns);
/* NULL-safe. */
void offcpu_collector_free(struct offcpu_collector *oc);
/* The sampling threshold in force. */
uint64_t offcpu_collector_min_block_ns(const struct offcpu_collector *oc);

/* Makes the time-weighted profile of pid, whose named frames live in names (borrowed: the CPU
 * profile's registry, so Python frames and process roots mean one thing). 0 or -errno. */
int offcpu_collector_open(struct offcpu_collector *oc, pid_t pid, struct frame_names *names);

/* Adds one unwound off-CPU record (frames as cpu_profile_add_rooted takes them) of weight_ns in
 * state. 0 or -errno. */
int offcpu_collector_add(struct offcpu_collector *oc, uint64_t root, pid_t tid, pid_t tgid,
			 const uint64_t *user_ips, uint32_t n_user, const uint64_t *kernel_ips,
			 uint32_t n_kernel, uint32_t flags, uint32_t state, uint64_t weight_ns);

/* After the run (sampler stopped and drained, end_ns its CLOCK_MONOTONIC end): reads the exact
 * totals, adds the blocks still going on at the end, folds the stacks with oo (names, processes:
 * as the CPU profile was folded) and computes the finding over duration_s. Returns the report
 * (owned by the collector) or NULL and errno. */
const struct offcpu_report *offcpu_collector_finish(struct offcpu_collector *oc,
						    const struct sampler *sampler, uint64_t end_ns,
						    double duration_s,
						    const struct profile_output_options *oo);

/* Names of the states as the report writes them ("sleep", "io", "lock", "runnable"). */
const char *offcpu_state_name(uint32_t state);

/* The finding's "blocked in F under G" over one stack given leaf first (names as folded stacks
 * write them; kernel frames end in "_[k]", markers start with '['): F is the outermost frame of
 * the library run at the leaf (names starting with '_', futex and lll_ helpers, syscall) with its
 * leading underscores and "GI_" prefix dropped, G the first frame after it. false when the stack
 * has no user frame. blocked_in and under are written (NUL-terminated, cut to len). */
bool offcpu_blocking_point(const char *const *names, size_t n, char *blocked_in, char *under,
			   size_t len);

#endif
