/* SPDX-License-Identifier: GPL-2.0 */
/* offcpu.bpf.h: off-CPU time, part of profile.bpf.c (it shares the sampler's ring buffer, target
 * set, scratch slots, stack copy and Python walk, so off-CPU records are unwound by the same code
 * as CPU samples and ordered with the same exec/dlopen notices).
 *
 * sched_switch (tp_btf) notes when a target thread goes off CPU (time, state, kernel stack id, the
 * user ip/sp it entered the kernel with) and, when it comes back, adds the blocked time to the
 * per-state totals (every block) and decides whether the block is worth a user stack: a block of
 * d >= min_block_ns is always kept with weight d, a shorter one with probability d/min_block_ns
 * and weight min_block_ns (smolder_offcpu_weight, unbiased). The user stack can only be copied in
 * the thread's own context, which is gone at switch-in: the kept weight waits in the thread's
 * record until its syscall returns (raw_syscalls/sys_exit, a classic tracepoint: the CPU
 * sampler's perf event program does not run nested in it), where the registers and stack are the
 * ones it blocked with. A block that does not end in a syscall exit of the same user context
 * (page fault, or preempted: RUNNABLE) is sent at once with its kernel stack only and counted.
 * The includer defines stat_inc_atomic, the events ring buffer, scratch, sample_begin,
 * sample_copy_user_stack and sample_send first. */
#ifndef SMOLDER_OFFCPU_BPF_H
#define SMOLDER_OFFCPU_BPF_H

/* Set by user space before load. */
const volatile __u64 offcpu_min_block_ns = SMOLDER_OFFCPU_MIN_BLOCK_DEFAULT_NS;
const volatile __u32 offcpu_slot_base = 1; /* number of possible CPUs: the second scratch half */

/* Threads with a kept block waiting for its syscall exit. sys_exit runs for every syscall of the
 * machine: with none pending (most of the time, at T = 1 ms) it returns after one load. A pending
 * block lost with its thread record (LRU eviction) leaves the count high: only slower, never
 * wrong. */
__u64 offcpu_pending = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct smolder_offcpu_thread);
} offcpu_threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SMOLDER_OFFCPU_STATE_COUNT);
	__type(key, __u32);
	__type(value, struct smolder_offcpu_total);
} offcpu_totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__uint(value_size, SMOLDER_MAX_KERNEL_FRAMES * sizeof(__u64));
} offcpu_kstacks SEC(".maps");

/* A record with the kernel stack only (no user context to copy here). */
static __always_inline void offcpu_send_bare(__u32 tgid, __u32 tid, __u32 state, __u64 weight,
					     __s32 kstack)
{
	struct smolder_cpu_sample *rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);

	if (!rec) {
		stat_inc_atomic(SMOLDER_SAMPLER_STAT_OFFCPU_RINGBUF_FULL);
		return;
	}
	__builtin_memset(rec, 0, sizeof(*rec) - sizeof(rec->kernel_ips));
	rec->kind = SMOLDER_EVENT_OFFCPU_SAMPLE;
	rec->tgid = tgid;
	rec->tid = tid;
	rec->cpu = bpf_get_smp_processor_id();
	rec->time_ns = bpf_ktime_get_ns();
	rec->flags = SMOLDER_SAMPLE_NO_USER_REGS;
	rec->offcpu_ns = weight;
	rec->offcpu_state = state;
	rec->offcpu_kernel_stack = kstack;
	bpf_ringbuf_submit(rec, 0);
	stat_inc_atomic(SMOLDER_SAMPLER_STAT_OFFCPU_SENT);
}

static __always_inline void offcpu_flush_bare(struct smolder_offcpu_thread *t, __u32 tid)
{
	offcpu_send_bare(t->tgid, tid, t->pending_state, t->pending_ns, t->pending_kstack);
	stat_inc_atomic(SMOLDER_SAMPLER_STAT_OFFCPU_NO_USER_STACK);
	t->pending_ns = 0;
	__sync_fetch_and_add(&offcpu_pending, -1);
}

static __always_inline void offcpu_switch_out(void *ctx, struct task_struct *prev, bool preempt,
					      unsigned int prev_state, __u64 now)
{
	struct smolder_offcpu_thread *t, fresh = {};
	__u32 tid = prev->pid;
	struct pt_regs *regs;
	__u32 state;
	long nr, id;

	t = bpf_map_lookup_elem(&offcpu_threads, &tid);
	if (prev_state & SMOLDER_TASK_DEAD) {
		/* The thread's totals stay for the report (the map is LRU: bounded). A kept block
		 * whose syscall never returned (exit) goes with its kernel stack. */
		if (t) {
			t->out_ns = 0;
			if (t->pending_ns)
				offcpu_flush_bare(t, tid);
		}
		return;
	}
	if (!t || t->tgid != (__u32)prev->tgid) {
		/* New thread, or a tid reused by another process: start afresh. */
		fresh.tgid = prev->tgid;
		fresh.out_kstack = -1;
		fresh.pending_kstack = -1;
		fresh.kcache_id = -1;
		if (bpf_map_update_elem(&offcpu_threads, &tid, &fresh, BPF_ANY) != 0) {
			stat_inc_atomic(SMOLDER_SAMPLER_STAT_OFFCPU_THREADS_FULL);
			return;
		}
		t = bpf_map_lookup_elem(&offcpu_threads, &tid);
		if (!t) {
			stat_inc_atomic(SMOLDER_SAMPLER_STAT_OFFCPU_THREADS_FULL);
			return;
		}
	}
	regs = (struct pt_regs *)bpf_task_pt_regs(prev);
	nr = BPF_CORE_READ(regs, orig_ax);
	state = smolder_offcpu_state_of(prev_state, preempt, nr);
	t->out_ns = now;
	t->out_state = state;
	t->out_ip = BPF_CORE_READ(regs, ip);
	t->out_sp = BPF_CORE_READ(regs, sp);
	t->out_kstack = -1;
	/* Preempted: the kernel stack is the preemption path, nothing to learn from it. */
	if (!collect_kernel || state == SMOLDER_OFFCPU_RUNNABLE)
		return;
	/* bpf_get_stackid costs ~1.1 us (measured, scripts/bench/offcpu_cost.sh), most of what a
	 * switch costs here. A thread blocking again from the same user context (ip, sp), in the
	 * same syscall and state, blocks through the same kernel path: its last stack is reused,
	 * and taken afresh every SMOLDER_OFFCPU_KSTACK_REUSE switch-outs. */
	if (t->kcache_id >= 0 && t->kcache_ip == t->out_ip && t->kcache_sp == t->out_sp &&
	    t->kcache_nr == nr && t->kcache_state == state &&
	    t->kcache_uses < SMOLDER_OFFCPU_KSTACK_REUSE) {
		t->kcache_uses++;
		t->out_kstack = t->kcache_id;
		return;
	}
	/* Skip this program and bpf_trace_run4: the stack starts at __schedule. */
	id = bpf_get_stackid(ctx, &offcpu_kstacks, 2 & BPF_F_SKIP_FIELD_MASK);
	if (id < 0) {
		stat_inc_atomic(SMOLDER_SAMPLER_STAT_OFFCPU_KSTACK_FAILED);
		t->kcache_id = -1;
		return;
	}
	t->out_kstack = (__s32)id;
	t->kcache_id = (__s32)id;
	t->kcache_ip = t->out_ip;
	t->kcache_sp = t->out_sp;
	t->kcache_nr = nr;
	t->kcache_state = state;
	t->kcache_uses = 1;
}

static __always_inline void offcpu_switch_in(struct task_struct *next, __u64 now)
{
	__u32 tid = next->pid, state;
	struct smolder_offcpu_thread *t = bpf_map_lookup_elem(&offcpu_threads, &tid);
	struct smolder_offcpu_total *total;
	__u64 d, weight;

	if (!t || t->out_ns == 0 || t->out_ns > now || t->tgid != (__u32)next->tgid) {
		stat_inc_atomic(SMOLDER_SAMPLER_STAT_OFFCPU_NO_SWITCH_OUT);
		return;
	}
	d = now - t->out_ns;
	state = t->out_state & 3;
	t->out_ns = 0;
	t->total_ns[state] += d;
	total = bpf_map_lookup_elem(&offcpu_totals, &state);
	if (total) {
		/* Per-CPU slot; sched_switch does not nest on a CPU. */
		total->ns += d;
		total->blocks++;
	}
	stat_inc_atomic(SMOLDER_SAMPLER_STAT_OFFCPU_BLOCKS);
	weight = smolder_offcpu_weight(d, offcpu_min_block_ns, bpf_get_prandom_u32());
	if (!weight) {
		stat_inc_atomic(SMOLDER_SAMPLER_STAT_OFFCPU_SAMPLED_OUT);
		return;
	}
	if (state == SMOLDER_OFFCPU_RUNNABLE) {
		/* Decided: waiting for a CPU has no blocking call to show; the record says which
		 * thread waited and how long, under [runnable]. */
		offcpu_send_bare(t->tgid, tid, state, weight, -1);
		return;
	}
	/* One syscall can block several times (a read woken early): the same state and user
	 * context add up; anything else ends the pending block without a user stack. */
	if (t->pending_ns &&
	    (t->pending_state != state || t->pending_ip != t->out_ip || t->pending_sp != t->out_sp))
		offcpu_flush_bare(t, tid);
	if (!t->pending_ns) {
		__sync_fetch_and_add(&offcpu_pending, 1);
		t->pending_state = state;
		t->pending_kstack = t->out_kstack;
		t->pending_ip = t->out_ip;
		t->pending_sp = t->out_sp;
	}
	t->pending_ns += weight;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(offcpu_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u64 now = bpf_ktime_get_ns();

	if (prev->pid && target_set_has(prev->tgid))
		offcpu_switch_out(ctx, prev, preempt, prev_state, now);
	if (next->pid && target_set_has(next->tgid))
		offcpu_switch_in(next, now);
	return 0;
}

/* The syscall a kept block happened in returns: the thread's own context, with the registers it
 * blocked with. Copies its user stack (and Python frames) like a CPU sample. */
SEC("tracepoint/raw_syscalls/sys_exit")
int offcpu_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct smolder_offcpu_thread *t;
	struct smolder_cpu_sample *sample;
	struct task_struct *task;
	struct pt_regs *regs;
	__u64 ip, sp;

	if (!*(volatile __u64 *)&offcpu_pending || !target_set_has(tgid))
		return 0;
	t = bpf_map_lookup_elem(&offcpu_threads, &tid);
	if (!t || !t->pending_ns)
		return 0;
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	ip = BPF_CORE_READ(regs, ip);
	sp = BPF_CORE_READ(regs, sp);
	if (ip != t->pending_ip || sp != t->pending_sp || ip == 0 || sp == 0) {
		offcpu_flush_bare(t, tid);
		return 0;
	}
	sample = sample_begin(SMOLDER_EVENT_OFFCPU_SAMPLE, offcpu_slot_base, tgid, tid);
	if (!sample) {
		stat_inc_atomic(SMOLDER_SAMPLER_STAT_SCRATCH_MISSING);
		offcpu_flush_bare(t, tid);
		return 0;
	}
	sample->flags = SMOLDER_SAMPLE_KERNEL_MODE;
	sample->ip = ip;
	sample->sp = sp;
	sample->bp = BPF_CORE_READ(regs, bp);
	sample->offcpu_ns = t->pending_ns;
	sample->offcpu_state = t->pending_state;
	sample->offcpu_kernel_stack = t->pending_kstack;
	t->pending_ns = 0;
	__sync_fetch_and_add(&offcpu_pending, -1);
	sample_copy_user_stack(task, tid, sample, sp);
	if (sample_send(task, sample) == 0)
		stat_inc_atomic(SMOLDER_SAMPLER_STAT_OFFCPU_SENT);
	else
		stat_inc_atomic(SMOLDER_SAMPLER_STAT_OFFCPU_RINGBUF_FULL);
	return 0;
}

#endif
