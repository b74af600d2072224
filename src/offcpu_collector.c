/* offcpu_collector.c: off-CPU time of a profile run (see offcpu_collector.h). The CPU collector
 * unwinds each off-CPU record like a CPU sample and hands it here; the stacks are weighted by the
 * record's blocked time in microseconds, under a state frame. The exact totals (every block, not
 * only the sampled ones) come from the BPF maps at the end; blocks still going on when the run
 * ends are added then, with their kernel stack under "[blocked at end]". */
#include "smolder/offcpu_collector.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smolder/cpu_profile.h"
#include "smolder/frame.h"
#include "smolder/frame_names.h"
#include "smolder/log.h"
#include "smolder/process_table.h"
#include "smolder/sampler.h"
#include "smolder/target.h"

#define OFFCPU_MAX_FINDING_KEYS 4096

struct offcpu_collector {
	uint64_t min_block_ns;
	pid_t pid;
	struct cpu_profile *profile; /* weights in microseconds */
	struct frame_names *names;   /* borrowed */
	uint64_t state_frames[SMOLDER_OFFCPU_STATE_COUNT];
	uint64_t end_frame; /* "[blocked at end]" */
	uint64_t records, add_errors;
	/* __traceiter_sched_switch: the leaf the kernel stack sometimes starts with (the skip of
	 * bpf_get_stackid counts the program and bpf_trace_run4; the tracepoint's iterator is a
	 * frame of its own only on some paths). 0, 0: not found. */
	uint64_t traceiter_lo, traceiter_hi;
	struct offcpu_report report;
	struct profile_folded *folded;
	/* finish's per-thread scan */
	uint64_t end_ns;
	const struct sampler *sampler;
	const struct process_table *processes; /* the CPU collector's, for process roots */
	size_t cap_threads;
};

static const char *const offcpu_state_names[SMOLDER_OFFCPU_STATE_COUNT] = {
	"sleep",
	"io",
	"lock",
	"runnable",
};

const char *offcpu_state_name(uint32_t state)
{
	return state < SMOLDER_OFFCPU_STATE_COUNT ? offcpu_state_names[state] : "unknown";
}

struct offcpu_collector *offcpu_collector_new(uint64_t min_block_ns)
{
	struct offcpu_collector *oc = calloc(1, sizeof(*oc));

	if (!oc)
		return NULL;
	oc->min_block_ns = min_block_ns ? min_block_ns : SMOLDER_OFFCPU_MIN_BLOCK_DEFAULT_NS;
	return oc;
}

void offcpu_collector_free(struct offcpu_collector *oc)
{
	if (!oc)
		return;
	profile_folded_free(oc->folded);
	cpu_profile_free(oc->profile);
	free(oc->report.threads);
	free(oc);
}

uint64_t offcpu_collector_min_block_ns(const struct offcpu_collector *oc)
{
	return oc->min_block_ns;
}

/* Finds __traceiter_sched_switch's address range in /proc/kallsyms (sorted by address: it ends
 * where the next symbol starts). Best effort: nothing is filtered without it. */
static void offcpu_find_traceiter(struct offcpu_collector *oc)
{
	FILE *fp = fopen("/proc/kallsyms", "re");
	char line[256], name[128], type;
	unsigned long long addr;

	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%llx %c %127s", &addr, &type, name) != 3)
			continue;
		if (oc->traceiter_lo) {
			if (addr > oc->traceiter_lo) {
				oc->traceiter_hi = addr;
				break;
			}
		} else if (strcmp(name, "__traceiter_sched_switch") == 0 && addr) {
			oc->traceiter_lo = addr;
		}
	}
	fclose(fp);
	if (!oc->traceiter_hi)
		oc->traceiter_lo = 0;
}

/* Drops the tracepoint iterator from the leaf of a kernel stack; returns the frames left. */
static uint32_t offcpu_trim_kernel(const struct offcpu_collector *oc, const uint64_t **ips,
				   uint32_t n)
{
	while (n && (*ips)[0] >= oc->traceiter_lo && (*ips)[0] < oc->traceiter_hi) {
		(*ips)++;
		n--;
	}
	return n;
}

int offcpu_collector_open(struct offcpu_collector *oc, pid_t pid, struct frame_names *names)
{
	char label[32];
	int ret;

	oc->pid = pid;
	oc->names = names;
	oc->profile = cpu_profile_new_with_names(pid, names);
	if (!oc->profile)
		return -ENOMEM;
	offcpu_find_traceiter(oc);
	for (uint32_t i = 0; i < SMOLDER_OFFCPU_STATE_COUNT; i++) {
		snprintf(label, sizeof(label), "[%s]", offcpu_state_names[i]);
		ret = frame_names_intern(names, FRAME_KIND_MARKER, label, NULL, 0,
					 &oc->state_frames[i]);
		if (ret)
			return ret;
	}
	return frame_names_intern(names, FRAME_KIND_MARKER, "[blocked at end]", NULL, 0,
				  &oc->end_frame);
}

static uint64_t offcpu_us(uint64_t ns)
{
	uint64_t us = (ns + 500) / 1000;

	return us ? us : 1;
}

int offcpu_collector_add(struct offcpu_collector *oc, uint64_t root, pid_t tid, pid_t tgid,
			 const uint64_t *user_ips, uint32_t n_user, const uint64_t *kernel_ips,
			 uint32_t n_kernel, uint32_t flags, uint32_t state, uint64_t weight_ns)
{
	int ret;

	if (state >= SMOLDER_OFFCPU_STATE_COUNT || !oc->profile)
		return -EINVAL;
	oc->records++;
	n_kernel = offcpu_trim_kernel(oc, &kernel_ips, n_kernel);
	if (!cpu_profile_has_thread(oc->profile, tid)) {
		char name[64];

		/* Now: the thread may be gone at the end. */
		if (target_thread_name(tgid, tid, name, sizeof(name)) == 0)
			cpu_profile_set_thread_name(oc->profile, tid, name);
	}
	ret = cpu_profile_add_weighted(oc->profile, root, oc->state_frames[state], tid, user_ips,
				       n_user, kernel_ips, n_kernel, flags, offcpu_us(weight_ns));
	if (ret)
		oc->add_errors++;
	return ret;
}

static struct offcpu_thread_total *offcpu_thread(struct offcpu_collector *oc, int32_t tid)
{
	struct offcpu_report *r = &oc->report;
	struct offcpu_thread_total *t;
	const char *name;

	for (size_t i = 0; i < r->n_threads; i++)
		if (r->threads[i].tid == tid)
			return &r->threads[i];
	if (r->n_threads == oc->cap_threads) {
		size_t cap = oc->cap_threads ? 2 * oc->cap_threads : 16;
		struct offcpu_thread_total *grown = realloc(r->threads, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		r->threads = grown;
		oc->cap_threads = cap;
	}
	t = &r->threads[r->n_threads++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	name = cpu_profile_thread_name(oc->profile, tid);
	if (name)
		snprintf(t->name, sizeof(t->name), "%s", name);
	else if (target_thread_name(oc->pid, tid, t->name, sizeof(t->name)) != 0)
		t->name[0] = '\0';
	return t;
}

/* The root frame of tgid's latest model (its stacks are symbolized with that model), or 0. */
static uint64_t offcpu_root_of(const struct offcpu_collector *oc, uint32_t tgid)
{
	struct process_model *const *models;
	size_t n;

	if (!oc->processes)
		return 0;
	models = process_table_models(oc->processes, &n);
	for (size_t i = n; i-- > 0;)
		if (models[i]->pid == (pid_t)tgid)
			return models[i]->root_frame;
	return 0;
}

/* One thread record of the BPF map: its exact totals, and the block it is still in. */
static void offcpu_on_thread(void *ctx, int32_t tid, const struct smolder_offcpu_thread *rec)
{
	struct offcpu_collector *oc = ctx;
	struct offcpu_thread_total *t = offcpu_thread(oc, tid);
	uint64_t kernel[SMOLDER_MAX_KERNEL_FRAMES];
	const uint64_t *leaf;
	uint32_t state = rec->out_state & 3;
	int n_kernel;

	if (!t) {
		oc->add_errors++;
		return;
	}
	for (uint32_t s = 0; s < SMOLDER_OFFCPU_STATE_COUNT; s++)
		t->seconds[s] += (double)rec->total_ns[s] / 1e9;
	if (!rec->out_ns || rec->out_ns >= oc->end_ns || state == SMOLDER_OFFCPU_RUNNABLE)
		return;
	/* Still off CPU at the end: its time so far, with the kernel stack it blocked in (the
	 * user stack would need the thread to return from its syscall). */
	t->seconds[state] += (double)(oc->end_ns - rec->out_ns) / 1e9;
	oc->report.state_seconds[state] += (double)(oc->end_ns - rec->out_ns) / 1e9;
	oc->report.still_blocked_s += (double)(oc->end_ns - rec->out_ns) / 1e9;
	n_kernel = sampler_kernel_stack(oc->sampler, rec->out_kstack, kernel,
					SMOLDER_MAX_KERNEL_FRAMES);
	if (n_kernel < 0)
		n_kernel = 0;
	for (int i = 1; i < n_kernel; i++)
		kernel[i] -= 1; /* return addresses: look up the call */
	leaf = kernel;
	n_kernel = (int)offcpu_trim_kernel(oc, &leaf, (uint32_t)n_kernel);
	if (cpu_profile_add_weighted(oc->profile, offcpu_root_of(oc, rec->tgid),
				     oc->state_frames[state], tid, &oc->end_frame, 1, leaf,
				     (uint32_t)n_kernel, CPU_PROFILE_SAMPLE_COMPLETE,
				     offcpu_us(oc->end_ns - rec->out_ns)))
		oc->add_errors++;
}

static int offcpu_thread_cmp(const void *a, const void *b)
{
	const struct offcpu_thread_total *x = a, *y = b;
	double sx = 0, sy = 0;

	for (size_t s = 0; s < SMOLDER_OFFCPU_STATE_COUNT; s++) {
		sx += x->seconds[s];
		sy += y->seconds[s];
	}
	return sx < sy ? 1 : sx > sy ? -1 : x->tid - y->tid;
}

static bool offcpu_is_library(const char *name)
{
	return name[0] == '_' || strstr(name, "futex") || strncmp(name, "lll_", 4) == 0 ||
	       strcmp(name, "syscall") == 0;
}

static const char *offcpu_strip(const char *name)
{
	for (;;) {
		while (*name == '_')
			name++;
		if (strncmp(name, "GI_", 3) != 0)
			return name;
		name += 3;
	}
}

/* Copies name without its inlined-frame suffix "_[i]". */
static void offcpu_copy_name(char *buf, size_t len, const char *name)
{
	size_t n = strlen(name);

	if (n >= 4 && strcmp(name + n - 4, "_[i]") == 0)
		n -= 4;
	snprintf(buf, len, "%.*s", (int)n, name);
}

/* Waits for work or for another thread to end (joins, condition variables, semaphores): futex
 * waits that are not contention, left out of the lock finding. */
static bool offcpu_is_idle_wait(const char *blocked_in)
{
	return strstr(blocked_in, "join") || strstr(blocked_in, "cond_") ||
	       strstr(blocked_in, "sem_") || strstr(blocked_in, "barrier");
}

bool offcpu_blocking_point(const char *const *names, size_t n, char *blocked_in, char *under,
			   size_t len)
{
	size_t first = n, last_lib = n;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(names[i]);

		if (names[i][0] == '[' || (l >= 4 && strcmp(names[i] + l - 4, "_[k]") == 0))
			continue;
		if (first == n)
			first = i;
		if (last_lib == n && !offcpu_is_library(names[i]))
			break;
		if (offcpu_is_library(names[i]))
			last_lib = i;
		else
			break;
	}
	if (first == n)
		return false;
	if (last_lib == n)
		last_lib = first; /* no library run: the leaf itself blocked */
	offcpu_copy_name(blocked_in, len, offcpu_strip(names[last_lib]));
	under[0] = '\0';
	for (size_t i = last_lib + 1; i < n; i++) {
		if (names[i][0] == '[')
			continue;
		offcpu_copy_name(under, len, names[i]);
		break;
	}
	return true;
}

struct finding_key {
	uint32_t state;
	char blocked_in[96], under[96];
	uint64_t weight;
	int32_t tids[8];
	size_t n_tids;
};

/* The (state, blocked in, under) with the most lock or I/O wait, over the sampled stacks. */
static void offcpu_finding(struct offcpu_collector *oc, double duration_s)
{
	const struct profile_sample *samples;
	const struct profile_address *addrs;
	const struct profile_frame_info *frames;
	const uint32_t *idx;
	struct finding_key *keys = calloc(OFFCPU_MAX_FINDING_KEYS, sizeof(*keys)), *best = NULL;
	const char **names = NULL;
	size_t n_samples, n_addrs, n_keys = 0, cap = 0;
	char in[96], under[96], who[96];
	double share;

	oc->report.finding[0] = '\0';
	oc->report.finding_share = 0;
	if (!keys || !oc->folded || duration_s <= 0)
		goto out;
	samples = profile_folded_samples(oc->folded, &n_samples, &idx);
	addrs = profile_folded_addresses(oc->folded, &n_addrs, &frames);
	for (size_t i = 0; i < n_samples; i++) {
		const struct profile_sample *s = &samples[i];
		size_t n = 0;
		uint32_t state = SMOLDER_OFFCPU_STATE_COUNT;
		struct finding_key *k = NULL;

		for (uint32_t a = 0; a < s->n; a++) {
			const struct profile_address *pa = &addrs[idx[s->first + a]];

			if (n + pa->n > cap) {
				size_t c = (n + pa->n) * 2;
				const char **g = realloc(names, c * sizeof(*g));

				if (!g)
					goto out;
				names = g;
				cap = c;
			}
			for (uint32_t j = 0; j < pa->n; j++)
				names[n++] = frames[pa->first + j].name;
		}
		for (size_t j = n; j-- > 0;)
			for (uint32_t st = 0; st < SMOLDER_OFFCPU_STATE_COUNT; st++)
				if (names[j][0] == '[' &&
				    strncmp(names[j] + 1, offcpu_state_names[st],
					    strlen(offcpu_state_names[st])) == 0 &&
				    names[j][1 + strlen(offcpu_state_names[st])] == ']')
					state = st;
		if (state != SMOLDER_OFFCPU_LOCK && state != SMOLDER_OFFCPU_IO)
			continue;
		if (!offcpu_blocking_point(names, n, in, under, sizeof(in)) ||
		    (state == SMOLDER_OFFCPU_LOCK && offcpu_is_idle_wait(in)))
			continue;
		for (size_t j = 0; j < n_keys && !k; j++)
			if (keys[j].state == state && strcmp(keys[j].blocked_in, in) == 0 &&
			    strcmp(keys[j].under, under) == 0)
				k = &keys[j];
		if (!k) {
			if (n_keys == OFFCPU_MAX_FINDING_KEYS)
				continue;
			k = &keys[n_keys++];
			k->state = state;
			snprintf(k->blocked_in, sizeof(k->blocked_in), "%s", in);
			snprintf(k->under, sizeof(k->under), "%s", under);
		}
		k->weight += s->weight;
		for (size_t t = 0; t <= k->n_tids && t < 8; t++) {
			if (t == k->n_tids) {
				k->tids[k->n_tids++] = s->tid;
				break;
			}
			if (k->tids[t] == s->tid)
				break;
		}
	}
	for (size_t j = 0; j < n_keys; j++)
		if (!best || keys[j].weight > best->weight)
			best = &keys[j];
	if (!best || !best->n_tids)
		goto out;
	/* Their share of the time of the threads that waited there. */
	share = (double)best->weight / 1e6 / ((double)best->n_tids * duration_s);
	if (share < 0.05)
		goto out;
	{
		const char *name = cpu_profile_thread_name(oc->profile, best->tids[0]);
		bool same = name != NULL;

		for (size_t t = 1; same && t < best->n_tids; t++) {
			const char *other = cpu_profile_thread_name(oc->profile, best->tids[t]);

			same = other && strcmp(other, name) == 0;
		}
		if (best->n_tids == 1)
			snprintf(who, sizeof(who), "thread %s", name ? name : "?");
		else if (same)
			snprintf(who, sizeof(who), "%zu%s %s threads", best->n_tids,
				 best->n_tids == 8 ? "+" : "", name);
		else
			snprintf(who, sizeof(who), "%zu%s threads", best->n_tids,
				 best->n_tids == 8 ? "+" : "");
	}
	oc->report.finding_share = share;
	snprintf(oc->report.finding, sizeof(oc->report.finding),
		 "%s spent %.0f%% of %s time blocked in %s%s%s (%s, %.2f s)", who, 100.0 * share,
		 best->n_tids == 1 ? "its" : "their", best->blocked_in,
		 best->under[0] ? " under " : "", best->under,
		 best->state == SMOLDER_OFFCPU_LOCK ? "lock wait" : "I/O wait",
		 (double)best->weight / 1e6);
out:
	free(names);
	free(keys);
}

const struct offcpu_report *offcpu_collector_finish(struct offcpu_collector *oc,
						    const struct sampler *sampler, uint64_t end_ns,
						    double duration_s,
						    const struct profile_output_options *oo)
{
	struct smolder_offcpu_total totals[SMOLDER_OFFCPU_STATE_COUNT];
	struct offcpu_report *r = &oc->report;
	struct profile_output_options fo = *oo;
	struct profile_output_stats os;
	const struct cpu_profile_entry *entries;
	struct profile_weight *weights;
	struct sampler_stats ss;
	size_t n;

	if (!oc->profile || !sampler) {
		errno = ENODEV;
		return NULL;
	}
	r->min_block_ns = oc->min_block_ns;
	r->records = oc->records;
	if (sampler_get_stats(sampler, &ss) == 0) {
		r->records_lost = ss.offcpu_ringbuf_full;
		r->no_user_stack = ss.offcpu_no_user_stack;
		r->no_switch_out = ss.offcpu_no_switch_out;
		r->threads_full = ss.offcpu_threads_full;
		r->kstack_failed = ss.offcpu_kstack_failed;
		r->sampled_out = ss.offcpu_sampled_out;
	}
	if (sampler_offcpu_run_ns(sampler, &r->bpf_run_ns, &r->bpf_runs) < 0)
		r->bpf_run_ns = r->bpf_runs = 0;
	if (sampler_offcpu_totals(sampler, totals) == 0)
		for (uint32_t s = 0; s < SMOLDER_OFFCPU_STATE_COUNT; s++) {
			r->state_seconds[s] = (double)totals[s].ns / 1e9;
			r->blocks += totals[s].blocks;
		}
	oc->sampler = sampler;
	oc->processes = oo->processes;
	oc->end_ns = end_ns;
	r->n_threads = 0;
	r->still_blocked_s = 0;
	if (sampler_offcpu_threads(sampler, offcpu_on_thread, oc) < 0)
		log_warn("off-CPU: cannot read the per-thread totals: %s", strerror(errno));
	if (r->n_threads > 1)
		qsort(r->threads, r->n_threads, sizeof(*r->threads), offcpu_thread_cmp);
	r->seconds = 0;
	for (uint32_t s = 0; s < SMOLDER_OFFCPU_STATE_COUNT; s++)
		r->seconds += r->state_seconds[s];

	entries = cpu_profile_entries(oc->profile, &n);
	weights = calloc(n + 1, sizeof(*weights));
	if (!weights)
		return NULL;
	for (size_t i = 0; i < n; i++)
		weights[i] = (struct profile_weight){entries[i].stack_id, entries[i].tid,
						     entries[i].count};
	fo.title = "Off-CPU time";
	fo.countname = "us";
	fo.colors = "io";
	profile_folded_free(oc->folded);
	oc->folded =
		profile_output_fold(cpu_profile_stacks(oc->profile), weights, n, NULL, &fo, &os);
	free(weights);
	if (!oc->folded)
		return NULL;
	r->folded = oc->folded;
	r->opts = fo;
	offcpu_finding(oc, duration_s);
	log_info("off-CPU: %.2f s (sleep %.2f, I/O %.2f, lock %.2f, runnable %.2f) in %" PRIu64
		 " blocks; %" PRIu64 " stacks kept (blocks >= %.3f ms, shorter ones sampled), "
		 "%" PRIu64 " lost, %" PRIu64 " without a user stack",
		 r->seconds, r->state_seconds[0], r->state_seconds[1], r->state_seconds[2],
		 r->state_seconds[3], r->blocks, r->records, (double)r->min_block_ns / 1e6,
		 r->records_lost, r->no_user_stack);
	if (oc->add_errors)
		log_warn("off-CPU: %" PRIu64 " records not aggregated (out of memory)",
			 oc->add_errors);
	return r;
}
