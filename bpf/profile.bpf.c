// SPDX-License-Identifier: GPL-2.0
/* profile.bpf.c: the CPU sampler. Runs on a cpu-clock perf event per CPU (or per task where those
 * fire), keeps only the threads of the target processes (target_set.bpf.h), and sends per sample
 * the user registers, a copy of the user stack from sp up to the end of the stack mapping (bounded
 * by the configured copy size), and the kernel stack. Every path that loses data is counted in the
 * stats map. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "smolder/events.h"

char LICENSE[] SEC("license") = "GPL";

/* Python configs are per process (python_configs, python_walk.bpf.h), written by user space as it
 * examines each process. */
#include "python_walk.bpf.h"

/* Set by user space before load. The targets themselves are in the target set's map. */
const volatile __u32 stack_copy_size = SMOLDER_STACK_COPY_DEFAULT;
const volatile __u8 collect_kernel = 1;
/* Wake the consumer only when this much data is waiting; it also polls on a timer. A wakeup per
 * sample would cost the consumer a context switch per sample. */
const volatile __u64 wakeup_bytes = 1 << 20;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* resized before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SMOLDER_SAMPLER_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* The record is assembled here and then copied into the ring buffer with its exact length, so a
 * shallow stack costs a shallow copy. A plain array indexed by CPU rather than a per-CPU array:
 * per-CPU values are limited to 32 KiB. */
struct sample_scratch {
	/* A page of slack after the copy: the verifier bounds each page-sized read by a mask. The
	 * Python frames go after the copy. */
	__u8 data[sizeof(struct smolder_cpu_sample) + SMOLDER_STACK_COPY_MAX + SMOLDER_PAGE_SIZE +
		  8 + SMOLDER_PYTHON_MAX_FRAMES * sizeof(struct smolder_python_frame)];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* resized before load: 2 x the number of possible CPUs */
	__type(key, __u32);
	__type(value, struct sample_scratch);
} scratch SEC(".maps");

static __always_inline void stat_add(__u32 index, __u64 n)
{
	__u64 *value = bpf_map_lookup_elem(&stats, &index);

	/* Per-CPU slot, and perf event programs do not nest on a CPU: no atomic needed. */
	if (value)
		*value += n;
}

static __always_inline void stat_inc(__u32 index)
{
	stat_add(index, 1);
}

/* Tracepoint programs can be interrupted on their CPU by the sampler's timer: atomic. */
static __always_inline void stat_inc_atomic(__u32 index)
{
	__u64 *value = bpf_map_lookup_elem(&stats, &index);

	if (value)
		__sync_fetch_and_add(value, 1);
}

#define target_set_stat(index)	   stat_inc_atomic(index)
#define TARGET_SET_STAT_FULL	   SMOLDER_SAMPLER_STAT_TARGETS_FULL
#define TARGET_SET_STAT_EVENT_LOST SMOLDER_SAMPLER_STAT_PROCESS_EVENT_LOST
#define TARGET_SET_STAT_FOLLOWED   SMOLDER_SAMPLER_STAT_FORKS_FOLLOWED
#include "target_set.bpf.h"

struct vma_bound {
	__u64 start, end;
	__u64 mm; /* the address space it was found in: exec replaces it, keeping the tid */
};

/* Each thread's stack mapping, as last looked up. bpf_find_vma costs ~5 us per call from a perf
 * event (it takes mmap_lock and defers the unlock through irq_work) -- five times everything else a
 * sample does. A stack mapping's end never moves (stacks grow down) and a thread keeps its stack,
 * so the lookup is repeated only when sp leaves the cached range (main-thread stack growth, a new
 * thread that reuses a tid) or the thread has a new address space (exec: the new stack may overlap
 * the old one's range, and a copy to the old end would cut every stack short). A stale entry can
 * only shorten or lengthen a copy; reads are checked page by page either way. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct vma_bound);
} stack_bounds SEC(".maps");

static long stack_vma_end(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_bound *bound = data;

	bound->start = vma->vm_start;
	bound->end = vma->vm_end;
	return 0;
}

/* The stack mapping containing sp for thread tid: from the cache, else bpf_find_vma. */
static __always_inline bool stack_bound_lookup(struct task_struct *task, __u32 tid, __u64 sp,
					       struct vma_bound *bound)
{
	struct vma_bound *cached = bpf_map_lookup_elem(&stack_bounds, &tid);
	__u64 mm = (__u64)task->mm;

	if (cached && cached->mm == mm && sp >= cached->start && sp < cached->end) {
		*bound = *cached;
		stat_inc(SMOLDER_SAMPLER_STAT_VMA_CACHED);
		return true;
	}
	if (bpf_find_vma(task, sp, stack_vma_end, bound, 0) != 0 || bound->end <= sp)
		return false;
	bound->mm = mm;
	bpf_map_update_elem(&stack_bounds, &tid, bound, BPF_ANY);
	return true;
}

/* Appends the thread's Python frames after the user stack (at offset len, aligned); returns the
 * record's new payload length. */
static __always_inline __u32 python_sample_frames(struct task_struct *task,
						  struct smolder_cpu_sample *sample, __u32 len)
{
	struct python_walk_buf *buf;
	__u32 n = 0, flags = 0;
	__u64 off, size, hash;

	buf = python_walk(task, sample->tgid, &n, &flags, &hash);
	if (!buf) {
		if (flags & SMOLDER_PYWALK_NO_CONFIG) {
			sample->python_flags = flags;
			stat_inc(SMOLDER_SAMPLER_STAT_PY_NO_CONFIG);
		}
		return len;
	}
	sample->python_flags = flags;
	if (flags & SMOLDER_PYWALK_NO_TSTATE) {
		stat_inc(SMOLDER_SAMPLER_STAT_PY_NO_TSTATE);
		return len;
	}
	stat_inc(SMOLDER_SAMPLER_STAT_PY_WALKS);
	if (flags & SMOLDER_PYWALK_TRUNCATED)
		stat_inc(SMOLDER_SAMPLER_STAT_PY_TRUNCATED);
	if (flags & SMOLDER_PYWALK_READ_FAILED)
		stat_inc(SMOLDER_SAMPLER_STAT_PY_READ_FAILED);
	if (n == 0)
		return len;
	if (n > SMOLDER_PYTHON_MAX_FRAMES)
		n = SMOLDER_PYTHON_MAX_FRAMES;
	off = smolder_python_offset(len);
	if (off > SMOLDER_STACK_COPY_MAX)
		off = SMOLDER_STACK_COPY_MAX;
	size = (__u64)n * sizeof(struct smolder_python_frame);
	/* Bounds the verifier can follow whatever the compiler kept in registers. */
	__asm__ volatile("" : "+r"(size));
	if (size > SMOLDER_PYTHON_MAX_FRAMES * sizeof(struct smolder_python_frame))
		return len;
	size &= 8191;
	__asm__ volatile("" : "+r"(off));
	if (off > SMOLDER_STACK_COPY_MAX)
		return len;
	if (bpf_probe_read_kernel(sample->user_stack + off, size, buf->frames) != 0)
		return len;
	sample->python_frames = n;
	stat_add(SMOLDER_SAMPLER_STAT_PY_FRAMES, n);
	return off + size;
}

/* Copies the user stack from sp to the end of the stack mapping (at most stack_copy_size bytes)
 * into sample, setting its flags and user_stack_len. Shared by the CPU sampler and the off-CPU
 * records (offcpu.bpf.h): both run in the thread's own context. */
static __always_inline void sample_copy_user_stack(struct task_struct *task, __u32 tid,
						   struct smolder_cpu_sample *sample, __u64 sp)
{
	struct vma_bound bound = {};
	__u32 len, chunk_index;

	/* Copy from sp to the end of the stack mapping, at most stack_copy_size bytes: a thread's
	 * live stack is usually far shorter than the copy size, and reading past the mapping's end
	 * would fail the whole read. */
	len = stack_copy_size;
	if (stack_bound_lookup(task, tid, sp, &bound)) {
		if (bound.end - sp < len)
			len = bound.end - sp;
		else
			sample->flags |= SMOLDER_SAMPLE_STACK_CLIPPED;
	} else {
		sample->flags |= SMOLDER_SAMPLE_NO_VMA;
		stat_inc(SMOLDER_SAMPLER_STAT_NO_VMA);
	}
	if (sample->flags & SMOLDER_SAMPLE_STACK_CLIPPED)
		stat_inc(SMOLDER_SAMPLER_STAT_STACK_CLIPPED);

	/* Copy page by page: a read that would fault fails as a whole, and live stacks have pages
	 * that were never touched (the unused part of a big local array, exec's random gap above
	 * the main thread's first frame). Such a page is left zeroed (the helper clears the
	 * destination on failure) and the copy goes on: the frames above it are still needed. */
	if (len > SMOLDER_STACK_COPY_MAX)
		len = SMOLDER_STACK_COPY_MAX;
	for (chunk_index = 0; chunk_index < SMOLDER_STACK_COPY_MAX / SMOLDER_PAGE_SIZE + 1;
	     chunk_index++) {
		__u32 copied = sample->user_stack_len;
		__u32 chunk = SMOLDER_PAGE_SIZE - ((sp + copied) & (SMOLDER_PAGE_SIZE - 1));

		if (copied >= len)
			break;
		if (chunk > len - copied)
			chunk = len - copied;
		if (copied > SMOLDER_STACK_COPY_MAX - SMOLDER_PAGE_SIZE) {
			sample->flags |= SMOLDER_SAMPLE_STACK_CLIPPED;
			break;
		}
		/* Bounds the verifier can follow whatever the compiler proved: offset <= MAX -
		 * PAGE, size <= 2 * PAGE - 1, inside the scratch slot's slack. */
		__asm__ volatile("" : "+r"(chunk));
		chunk &= 2 * SMOLDER_PAGE_SIZE - 1;
		if (bpf_probe_read_user(sample->user_stack + copied, chunk,
					(void *)(sp + copied)) != 0) {
			if (copied == 0)
				break; /* not even the top of the stack: nothing to unwind */
			sample->flags |= SMOLDER_SAMPLE_STACK_PARTIAL;
		}
		sample->user_stack_len = copied + chunk;
	}
	if (sample->flags & SMOLDER_SAMPLE_STACK_PARTIAL)
		stat_inc(SMOLDER_SAMPLER_STAT_STACK_PARTIAL);
	if (sample->user_stack_len == 0)
		stat_inc(SMOLDER_SAMPLER_STAT_STACK_COPY_FAILED);
}

/* Appends the Python frames and writes the record into the ring buffer. Returns 0 or -1 (lost:
 * ring buffer full; the caller counts it). */
static __always_inline int sample_send(struct task_struct *task, struct smolder_cpu_sample *sample)
{
	__u32 len = sample->user_stack_len;
	__u64 wakeup;

	if (len > SMOLDER_STACK_COPY_MAX)
		len = SMOLDER_STACK_COPY_MAX;
	len = python_sample_frames(task, sample, len);
	if (len > SMOLDER_STACK_COPY_MAX + 8 +
			  SMOLDER_PYTHON_MAX_FRAMES * sizeof(struct smolder_python_frame))
		len = SMOLDER_STACK_COPY_MAX;
	wakeup = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									       : BPF_RB_NO_WAKEUP;
	return bpf_ringbuf_output(&events, sample, sizeof(*sample) + len, wakeup) == 0 ? 0 : -1;
}

/* A new record header in the scratch slot of this CPU (slot offset: the CPU sampler uses
 * 0..ncpus-1, the off-CPU program ncpus..2*ncpus-1, so a sample taken while the off-CPU program
 * runs on the same CPU cannot overwrite its record). NULL when the slot is missing. */
static __always_inline struct smolder_cpu_sample *sample_begin(__u32 kind, __u32 slot_base,
							       __u32 tgid, __u32 tid)
{
	struct sample_scratch *scratch_slot;
	struct smolder_cpu_sample *sample;
	__u32 cpu = bpf_get_smp_processor_id(), key = cpu + slot_base;

	scratch_slot = bpf_map_lookup_elem(&scratch, &key);
	if (!scratch_slot)
		return NULL;
	sample = (struct smolder_cpu_sample *)scratch_slot->data;
	sample->kind = kind;
	sample->tgid = tgid;
	sample->tid = tid;
	sample->cpu = cpu;
	sample->time_ns = bpf_ktime_get_ns();
	sample->flags = 0;
	sample->user_stack_len = 0;
	sample->kernel_frames = 0;
	sample->python_frames = 0;
	sample->python_flags = 0;
	sample->offcpu_ns = 0;
	sample->offcpu_state = 0;
	sample->offcpu_kernel_stack = -1;
	return sample;
}

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	__u32 tid = (__u32)pid_tgid;
	struct task_struct *task;
	struct smolder_cpu_sample *sample;
	__u64 ip, sp, bp;
	bool kernel_mode;

	if (tid == 0 || !target_set_has(tgid))
		return 0;
	stat_inc(SMOLDER_SAMPLER_STAT_SAMPLES);

	sample = sample_begin(SMOLDER_EVENT_CPU_SAMPLE, 0, tgid, tid);
	if (!sample) {
		stat_inc(SMOLDER_SAMPLER_STAT_SCRATCH_MISSING);
		stat_inc(SMOLDER_SAMPLER_STAT_RINGBUF_FULL);
		return 0;
	}

	task = bpf_get_current_task_btf();
	/* Ring 3 in cs: the sample interrupted user code and ctx holds its registers. Otherwise the
	 * user registers are the ones saved on entry to the kernel. */
	kernel_mode = (*(volatile __u64 *)&ctx->regs.cs & 3) == 0; /* ctx loads must be 8 bytes */
	if (!kernel_mode) {
		ip = ctx->regs.ip;
		sp = ctx->regs.sp;
		bp = ctx->regs.bp;
	} else {
		struct pt_regs *user_regs = (struct pt_regs *)bpf_task_pt_regs(task);

		sample->flags |= SMOLDER_SAMPLE_KERNEL_MODE;
		ip = BPF_CORE_READ(user_regs, ip);
		sp = BPF_CORE_READ(user_regs, sp);
		bp = BPF_CORE_READ(user_regs, bp);
	}
	sample->ip = ip;
	sample->sp = sp;
	sample->bp = bp;

	if (kernel_mode && collect_kernel) {
		long n = bpf_get_stack(ctx, sample->kernel_ips, sizeof(sample->kernel_ips), 0);

		if (n < 0)
			stat_inc(SMOLDER_SAMPLER_STAT_KERNEL_STACK_FAILED);
		else
			sample->kernel_frames = n / sizeof(__u64);
	}

	if (ip == 0 || sp == 0) {
		sample->flags |= SMOLDER_SAMPLE_NO_USER_REGS;
		stat_inc(SMOLDER_SAMPLER_STAT_NO_USER_REGS);
	} else {
		sample_copy_user_stack(task, tid, sample, sp);
	}
	if (sample_send(task, sample) == 0)
		stat_inc(SMOLDER_SAMPLER_STAT_SENT);
	else
		stat_inc(SMOLDER_SAMPLER_STAT_RINGBUF_FULL);
	return 0;
}

#include "offcpu.bpf.h"

/* ---- code mapped from files (dlopen): notices for the maps generations ---- */

#define CODE_PROT_EXEC 4

/* mmap calls of the target's threads with PROT_EXEC and a file, between entry and exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} pending_code_maps SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_mmap")
int code_mmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	__u64 len = ctx->args[1];

	if (!target_set_has((__u32)(id >> 32)))
		return 0;
	if (!(ctx->args[2] & CODE_PROT_EXEC) || (int)ctx->args[4] < 0)
		return 0;
	if (bpf_map_update_elem(&pending_code_maps, &tid, &len, BPF_ANY))
		stat_inc(SMOLDER_SAMPLER_STAT_CODE_MAPPED_LOST);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mmap")
int code_mmap_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct smolder_code_mapped rec = {};
	__u32 tid = (__u32)id;
	__u64 *len;

	if (!target_set_has((__u32)(id >> 32)))
		return 0;
	len = bpf_map_lookup_elem(&pending_code_maps, &tid);
	if (!len)
		return 0;
	rec.len = *len;
	bpf_map_delete_elem(&pending_code_maps, &tid);
	if (ctx->ret < 0)
		return 0;
	rec.kind = SMOLDER_EVENT_CODE_MAPPED;
	rec.tid = tid;
	rec.tgid = (__u32)(id >> 32);
	rec.time_ns = bpf_ktime_get_ns();
	rec.addr = (__u64)ctx->ret;
	if (bpf_ringbuf_output(&events, &rec, sizeof(rec), 0))
		stat_inc(SMOLDER_SAMPLER_STAT_CODE_MAPPED_LOST);
	else
		stat_inc(SMOLDER_SAMPLER_STAT_CODE_MAPPED);
	return 0;
}
