// SPDX-License-Identifier: GPL-2.0
/* memleak.bpf.c: allocation tracking for `smolder leaks`. Uprobes on the targets' allocator keep
 * (process, address) -> (size, time, stack key) for every live block and per-stack-key counters
 * (the key is per process, so each process of a tree has its own books and sites); syscall
 * tracepoints do the same for anonymous mmap/munmap. Stacks are walked here, in the kernel, with
 * unwind rules (CFA offsets per return address) that user space derives from DWARF CFI and installs
 * in the rules map: frame-pointer-less code (Debian's glibc) unwinds completely without copying the
 * stack for every allocation. Only when the walk meets a return address without a rule is a stack
 * snapshot sent (rate limited) so user space can unwind it and learn the missing rules. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "smolder/events.h"

char LICENSE[] SEC("license") = "GPL";

#define MMAP_KEY_BIT	   (1ULL << 62)
#define MAP_ANONYMOUS_FLAG 0x20
#define MAP_SHARED_FLAG	   0x01

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SMOLDER_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

#include "stack_walk.bpf.h"

/* Address-space layout per target process: the key of its unwind rules. A fork shares its parent's
 * (same mappings until exec), an exec starts a new one; user space seeds the given processes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SMOLDER_MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u32);
} layouts SEC(".maps");

/* The next layout id an exec takes; user space sets it above the seeded ones before attach. */
__u64 layout_seq = 1; /* 64-bit: clang 14 has no 32-bit fetch-and-add */

static __always_inline __u32 layout_of(__u32 tgid)
{
	__u32 *l = bpf_map_lookup_elem(&layouts, &tgid);

	return l ? *l : 0;
}

static __always_inline void layout_fork(__u32 parent, __u32 child)
{
	__u32 layout = layout_of(parent);

	if (bpf_map_update_elem(&layouts, &child, &layout, BPF_ANY))
		stat_inc(SMOLDER_STAT_LAYOUTS_FULL);
}

/* Python configs are per process (python_configs, python_walk.bpf.h), written by user space. */
#include "python_walk.bpf.h"

/* After python_walk.bpf.h: the set copies a followed child's Python config at its fork. */
#define TARGET_SET_STAT_FULL			    SMOLDER_STAT_TARGETS_FULL
#define TARGET_SET_STAT_EVENT_LOST		    SMOLDER_STAT_PROCESS_EVENT_LOST
#define TARGET_SET_STAT_FOLLOWED		    SMOLDER_STAT_FORKS_FOLLOWED
#define target_set_stat(index)			    stat_inc(index)
#define target_set_on_fork(parent_tgid, child_tgid) layout_fork(parent_tgid, child_tgid)
#define target_set_on_exit(tgid)		    bpf_map_delete_elem(&layouts, &(tgid))
#include "target_set.bpf.h"

/* The allocation's key with the thread's Python frames folded in: an allocation made by Python code
 * is attributed to the Python line that made it. The walk runs whenever the thread has a Python
 * frame chain, which is when the native stack holds the eval loop (a thread only has a current
 * frame inside _PyEval_EvalFrameDefault or in C code it called); threads without a thread state
 * cost three reads. A new key is announced with its frames, after the native key it extends. */
static __always_inline __u64 python_stack_key(__u64 native_key, __u32 tgid)
{
	struct smolder_py_stack_record *rec;
	struct python_walk_buf *buf;
	__u32 n = 0, flags = 0;
	__u64 hash = 0, key, size;
	__u8 one = 1;
	long err;

	if (native_key == SMOLDER_STACK_KEY_NONE)
		return native_key;
	buf = python_walk(bpf_get_current_task_btf(), tgid, &n, &flags, &hash);
	if (!buf) {
		if (flags & SMOLDER_PYWALK_NO_CONFIG)
			stat_inc(SMOLDER_STAT_PY_NO_CONFIG);
		return native_key;
	}
	if (flags & SMOLDER_PYWALK_NO_TSTATE) {
		stat_inc(SMOLDER_STAT_PY_NO_TSTATE);
		return native_key;
	}
	if (n == 0 && !(flags & (SMOLDER_PYWALK_TRUNCATED | SMOLDER_PYWALK_READ_FAILED)))
		return native_key; /* a Python thread between frames: nothing to add */
	stat_inc(SMOLDER_STAT_PY_WALKS);
	if (flags & SMOLDER_PYWALK_TRUNCATED)
		stat_inc(SMOLDER_STAT_PY_TRUNCATED);
	if (flags & SMOLDER_PYWALK_READ_FAILED)
		stat_inc(SMOLDER_STAT_PY_READ_FAILED);
	key = hash_mix(hash_mix(hash_mix(native_key, hash), n), flags);
	key &= ~(SMOLDER_STACK_KEY_SNAPSHOT | MMAP_KEY_BIT);
	if (key == 0)
		key = 1;
	key |= native_key & MMAP_KEY_BIT;
	if (bpf_map_lookup_elem(&known_stacks, &key))
		return key;
	err = bpf_map_update_elem(&known_stacks, &key, &one, BPF_NOEXIST);
	if (err == -17 /* EEXIST: another CPU announced it */)
		return key;
	if (err) {
		stat_inc(SMOLDER_STAT_STACK_TABLE_FULL);
		return SMOLDER_STACK_KEY_NONE;
	}
	rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);
	if (!rec) {
		bpf_map_delete_elem(&known_stacks, &key);
		stat_inc(SMOLDER_STAT_RINGBUF_FULL);
		return key;
	}
	rec->kind = SMOLDER_REC_PY_STACK;
	rec->key = key;
	rec->native_key = native_key;
	rec->walk_flags = flags;
	rec->tgid = tgid;
	if (n > SMOLDER_PYTHON_MAX_FRAMES)
		n = SMOLDER_PYTHON_MAX_FRAMES;
	size = (__u64)n * sizeof(struct smolder_python_frame);
	__asm__ volatile("" : "+r"(size));
	if (size > sizeof(rec->frames))
		size = 0;
	if (bpf_probe_read_kernel(rec->frames, size & 8191, buf->frames))
		n = 0;
	rec->nr = n;
	bpf_ringbuf_submit(rec, 0);
	return key;
}

struct thread_state {
	__u64 size;
	__u64 ptr_arg;
	__u64 memptr;
	__u64 key;
	__u64 entry_sp;
	__u64 entry_ns;
	__u64 last_delete; /* pointer passed to a delete-like probe, to skip its inner free */
	__u64 last_delete_ns;
	struct smolder_alloc_info moved; /* realloc: the old block, removed at entry */
	__u32 kind;
	__u32 depth; /* nesting of probed allocator calls in this thread */
	__u32 have_moved;
	__u32 pad0;
	__u64 mmap_len;
	__u64 mmap_key;
	struct walk_cache walk; /* the thread's last complete walk */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 21); /* resized from options before load */
	__type(key, struct smolder_alloc_key);
	__type(value, struct smolder_alloc_info);
} allocs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 16);
	__type(key, struct smolder_alloc_key);
	__type(value, struct smolder_alloc_info);
} mmaps SEC(".maps");

/* Per-CPU: threads allocating on the same site from several CPUs would otherwise bounce one
 * cache line between them at every allocation and free. User space sums the CPUs. Not
 * preallocated, so the kernel memory follows the sites actually seen, not max_entries x CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 16);
	__type(key, __u64);
	__type(value, struct smolder_site_counters);
} sites SEC(".maps");

/* Per-thread entry -> return handoff in task-local storage: one pointer chase from the task, no
 * hashing, and freed with the thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} threads SEC(".maps");

static __always_inline struct smolder_site_counters *site_get(__u64 key)
{
	struct smolder_site_counters zero = {}, *c;
	__u64 none = SMOLDER_STACK_KEY_NONE;

	c = bpf_map_lookup_elem(&sites, &key);
	if (c)
		return c;
	/* EEXIST means another CPU created it first: look up again either way. */
	bpf_map_update_elem(&sites, &key, &zero, BPF_NOEXIST);
	c = bpf_map_lookup_elem(&sites, &key);
	if (c)
		return c;
	stat_inc(SMOLDER_STAT_SITE_TABLE_FULL);
	/* Key 0 is created by user space before attach. */
	return bpf_map_lookup_elem(&sites, &none);
}

static __always_inline void site_alloc(__u64 key, __u64 size)
{
	struct smolder_site_counters *c = site_get(key);

	if (!c)
		return;
	__sync_fetch_and_add(&c->alloc_bytes, size);
	__sync_fetch_and_add(&c->alloc_count, 1);
}

static __always_inline void site_free(__u64 key, __u64 size)
{
	struct smolder_site_counters *c;
	__u64 none = SMOLDER_STACK_KEY_NONE;

	c = bpf_map_lookup_elem(&sites, &key);
	if (!c)
		c = bpf_map_lookup_elem(&sites, &none);
	if (!c)
		return;
	__sync_fetch_and_add(&c->free_bytes, size);
	__sync_fetch_and_add(&c->free_count, 1);
}

/* The calling thread's state; created on first use when create is set. */
static __always_inline struct thread_state *thread_get(int create)
{
	struct thread_state *st;

	st = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
				  create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	if (!st && create)
		stat_inc(SMOLDER_STAT_THREAD_TABLE_FULL);
	return st;
}

/* Records a new live block. An existing entry at the same address is a free we did not see (an
 * unprobed deallocation path): account it as freed before replacing it. Insert first, look up only
 * on a clash: one hash operation in the common case. */
static __always_inline void track(__u32 tgid, __u64 addr, __u64 size, __u64 key, __u64 now)
{
	struct smolder_alloc_info info = {.size = size, .time_ns = now, .stack_key = key}, *old;
	struct smolder_alloc_key k = {.tgid = tgid, .addr = addr};
	long err = bpf_map_update_elem(&allocs, &k, &info, BPF_NOEXIST);

	if (err == -17 /* EEXIST */) {
		old = bpf_map_lookup_elem(&allocs, &k);
		if (old)
			site_free(old->stack_key, old->size);
		err = bpf_map_update_elem(&allocs, &k, &info, BPF_ANY);
	}
	if (err) {
		stat_inc(SMOLDER_STAT_ALLOC_TABLE_FULL);
		return;
	}
	site_alloc(key, size);
	stat_inc(SMOLDER_STAT_ALLOCS);
}

/* Removes a tracked block of process tgid. Returns 1 and copies it to *out when it was tracked. A
 * block the process never allocated while tracked (before attach, or its parent's before the fork)
 * is not in its books: counted, ignored. */
static __always_inline int untrack(__u32 tgid, __u64 addr, struct smolder_alloc_info *out)
{
	struct smolder_alloc_key k = {.tgid = tgid, .addr = addr};
	struct smolder_alloc_info *info = bpf_map_lookup_elem(&allocs, &k);

	if (!info) {
		stat_inc(SMOLDER_STAT_FREE_UNKNOWN);
		return 0;
	}
	*out = *info;
	if (bpf_map_delete_elem(&allocs, &k))
		return 0; /* a racing free of the same pointer took it */
	site_free(out->stack_key, out->size);
	stat_inc(SMOLDER_STAT_FREES);
	return 1;
}

/* Common entry: the outermost allocator call of a thread records its arguments and stack; calls
 * made by a probed allocator (new -> malloc, realloc -> malloc) are only counted. The probe sits
 * where sp still points at the return address (user space guarantees it), so the walk starts from
 * [sp]. */
static __always_inline int alloc_enter(struct pt_regs *ctx, __u32 kind, __u64 size, __u64 ptr_arg,
				       __u64 memptr, __u32 alloc_id)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = (__u32)(id >> 32);
	struct thread_state *st;
	__u64 sp = PT_REGS_SP(ctx), ra = 0, now;

	/* The attach-time pid filter already selects the targets; this keeps a kernel that shares
	 * one breakpoint among several tracers from leaking other processes' calls in. */
	if (!target_set_has(tgid))
		return 0;
	st = thread_get(1);
	if (!st)
		return 0;
	now = bpf_ktime_get_ns();
	/* An sp at or below the outer call's entry means nesting (equal: a tail call, such as
	 * libstdc++'s new[] jumping to new); above it, the outer call never returned through its
	 * uretprobe (longjmp, lost return) and its state is stale. */
	if (st->depth > 0 && sp <= st->entry_sp && now - st->entry_ns < 1000000000ULL) {
		st->depth++;
		stat_inc(SMOLDER_STAT_NESTED);
		return 0;
	}
	if (st->depth > 0 && st->have_moved) {
		/* Stale realloc: its old block stays freed. */
		st->have_moved = 0;
	}
	st->depth = 1;
	st->kind = kind;
	st->size = size;
	st->ptr_arg = ptr_arg;
	st->memptr = memptr;
	st->entry_sp = sp;
	st->entry_ns = now;
	st->have_moved = 0;
	if (kind == SMOLDER_ALLOC_REALLOC || kind == SMOLDER_ALLOC_REALLOCARRAY) {
		/* Take the old block out now: once realloc frees it, another thread may get the
		 * same address before our return probe runs. */
		if (ptr_arg && untrack(tgid, ptr_arg, &st->moved))
			st->have_moved = 1;
	}
	if (bpf_probe_read_user(&ra, sizeof(ra), (void *)sp)) {
		st->key = SMOLDER_STACK_KEY_NONE;
		return 0;
	}
	/* alloc_id names the probed allocator function: it becomes the stack's leaf frame. */
	if (!walk_cached(&st->walk, ra, sp + 8, PT_REGS_FP(ctx), alloc_id, &st->key))
		st->key = walk_stack(ra, sp + 8, PT_REGS_FP(ctx), 0, 0, alloc_id, &st->walk, tgid,
				     layout_of(tgid));
	st->key = python_stack_key(st->key, tgid);
	return 0;
}

/* Product of two sizes, 0 when it overflows (the allocator then fails). A division-based check
 * compiles to a 128-bit multiply BPF cannot do. */
static __always_inline __u64 size_product(__u64 n, __u64 size)
{
	if (((n | size) >> 32) == 0 || n <= 1 || size <= 1)
		return n * size;
	return 0;
}

/* Every allocating entry point runs this one program (verified once, not once per kind); the
 * uprobe's cookie says which function it probes: ALLOC_COOKIE_ID bits name it (the leaf frame),
 * the kind (enum smolder_alloc_kind) sits above ALLOC_COOKIE_KIND_SHIFT and selects the arguments.
 */
SEC("uprobe")
int BPF_KPROBE(alloc_enter_prog)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u64 a0 = PT_REGS_PARM1(ctx), a1 = PT_REGS_PARM2(ctx), a2 = PT_REGS_PARM3(ctx);
	__u32 kind = (__u32)(cookie >> SMOLDER_ALLOC_COOKIE_KIND_SHIFT) & 0xff;
	__u32 alloc_id = (__u32)cookie & SMOLDER_ALLOC_COOKIE_ID;

	__u64 size = 0, ptr = 0, memptr = 0;

	/* One call of alloc_enter below, so the verifier walks its stack walk once. */
	switch (kind) {
	case SMOLDER_ALLOC_MALLOC:
		size = a0;
		break;
	case SMOLDER_ALLOC_PVALLOC:
		kind = SMOLDER_ALLOC_MALLOC;
		size = (a0 + 4095) & ~4095ULL;
		if (!size)
			size = 4096;
		break;
	case SMOLDER_ALLOC_CALLOC:
		size = size_product(a0, a1);
		break;
	case SMOLDER_ALLOC_REALLOC:
	case SMOLDER_ALLOC_XALLOCX:
		ptr = a0;
		size = a1;
		break;
	case SMOLDER_ALLOC_REALLOCARRAY:
		ptr = a0;
		size = size_product(a1, a2);
		break;
	case SMOLDER_ALLOC_MEMALIGN:
		size = a1;
		break;
	case SMOLDER_ALLOC_POSIX_MEMALIGN:
		memptr = a0;
		size = a2;
		break;
	default:
		return 0;
	}
	return alloc_enter(ctx, kind, size, ptr, memptr, alloc_id);
}

SEC("uretprobe")
int BPF_KRETPROBE(alloc_return, __u64 ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = (__u32)(id >> 32);
	struct thread_state *st;
	struct smolder_alloc_info *info;
	struct smolder_alloc_key k = {.tgid = tgid};
	__u64 addr = ret, now;

	if (!target_set_has(tgid))
		return 0;
	st = thread_get(0);

	if (!st || st->depth == 0) {
		stat_inc(SMOLDER_STAT_RETURN_ORPHAN);
		return 0;
	}
	if (st->depth > 1) {
		st->depth--;
		return 0;
	}
	st->depth = 0;
	/* The entry's clock reading: an allocator call is far shorter than any --min-age. */
	now = st->entry_ns;
	switch (st->kind) {
	case SMOLDER_ALLOC_POSIX_MEMALIGN:
		if (ret != 0 || bpf_probe_read_user(&addr, sizeof(addr), (void *)st->memptr))
			addr = 0;
		break;
	case SMOLDER_ALLOC_XALLOCX:
		/* In-place resize: the block keeps its site, its size becomes the returned one. */
		k.addr = st->ptr_arg;
		info = bpf_map_lookup_elem(&allocs, &k);
		if (info && ret) {
			site_free(info->stack_key, info->size);
			site_alloc(info->stack_key, ret);
			info->size = ret;
		}
		return 0;
	case SMOLDER_ALLOC_REALLOC:
	case SMOLDER_ALLOC_REALLOCARRAY:
		if (!ret && st->have_moved && st->size != 0) {
			/* Failed realloc: the old block is still live, put it back. */
			track(tgid, st->ptr_arg, st->moved.size, st->moved.stack_key,
			      st->moved.time_ns);
			st->have_moved = 0;
			stat_inc(SMOLDER_STAT_ALLOC_FAILED);
			return 0;
		}
		if (st->have_moved)
			stat_inc(SMOLDER_STAT_REALLOC_MOVED);
		st->have_moved = 0;
		if (!ret)
			return 0; /* realloc(p, 0) freed p */
		break;
	default:
		break;
	}
	if (!addr) {
		stat_inc(SMOLDER_STAT_ALLOC_FAILED);
		return 0;
	}
	if (st->last_delete == addr)
		st->last_delete = 0;
	track(tgid, addr, st->size, st->key, now);
	return 0;
}

static __always_inline int free_common(__u64 ptr, int is_delete)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = (__u32)(id >> 32);
	struct thread_state *st;
	struct smolder_alloc_info info;

	if (!ptr || !target_set_has(tgid))
		return 0;
	st = thread_get(0);
	if (st) {
		/* realloc(p, 0) or another allocator freeing internally: handled at its return. */
		if (st->depth > 0) {
			stat_inc(SMOLDER_STAT_NESTED);
			return 0;
		}
		/* operator delete forwarding to another delete or to a probed free(): one release.
		 * The time bound keeps a stale pointer from hiding a later, real free of a reused
		 * address. */
		if (st->last_delete == ptr && bpf_ktime_get_ns() - st->last_delete_ns < 1000000) {
			if (!is_delete)
				st->last_delete = 0;
			stat_inc(SMOLDER_STAT_NESTED);
			return 0;
		}
		if (is_delete) {
			st->last_delete = ptr;
			st->last_delete_ns = bpf_ktime_get_ns();
		}
	} else if (is_delete) {
		st = thread_get(1);
		if (st) {
			st->last_delete = ptr;
			st->last_delete_ns = bpf_ktime_get_ns();
		}
	}
	untrack(tgid, ptr, &info);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(free_enter, __u64 ptr)
{
	return free_common(ptr, 0);
}

SEC("uprobe")
int BPF_KPROBE(delete_enter, __u64 ptr)
{
	return free_common(ptr, 1);
}

/* ---- anonymous mappings ---- */

/* ---- exec ---- */

/* A target replaced its image: it gets a new layout (rules and stack keys of the new image are
 * new), the surviving thread's cached walk is forgotten, and user space is told, which closes the
 * old image's books (its live blocks died). */
SEC("tracepoint/sched/sched_process_exec")
int exec_event(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = (__u32)(id >> 32), layout;
	struct smolder_exec_record rec = {.kind = SMOLDER_REC_EXEC, .tgid = tgid};
	struct thread_state *st;

	if (!target_set_has(tgid))
		return 0;
	layout = (__u32)__sync_fetch_and_add(&layout_seq, 1);
	if (bpf_map_update_elem(&layouts, &tgid, &layout, BPF_ANY))
		stat_inc(SMOLDER_STAT_LAYOUTS_FULL);
	python_config_forget(tgid); /* a new program: user space examines it again */
	st = thread_get(0);
	if (st)
		st->walk.n = 0;
	rec.time_ns = bpf_ktime_get_ns();
	if (bpf_ringbuf_output(&events, &rec, sizeof(rec), BPF_RB_FORCE_WAKEUP))
		stat_inc(SMOLDER_STAT_RINGBUF_FULL);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_mmap")
int mmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = (__u32)(id >> 32);
	struct thread_state *st;
	struct task_struct *task;
	struct pt_regs *regs;
	__u64 flags = ctx->args[3];

	if (!target_set_has(tgid))
		return 0;
	if (!(flags & MAP_ANONYMOUS_FLAG) || (flags & MAP_SHARED_FLAG))
		return 0;
	st = thread_get(1);
	if (!st)
		return 0;
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	st->mmap_len = ctx->args[1];
	st->mmap_key = walk_stack(BPF_CORE_READ(regs, ip), BPF_CORE_READ(regs, sp),
				  BPF_CORE_READ(regs, bp), 1, SMOLDER_STACK_F_MMAP, 0, NULL, tgid,
				  layout_of(tgid));
	/* pymalloc arenas are mmaps: the Python line that needed one names the site. */
	st->mmap_key = python_stack_key(st->mmap_key, tgid);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mmap")
int mmap_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = (__u32)(id >> 32);
	struct smolder_alloc_info info = {};
	struct smolder_alloc_key k = {.tgid = tgid, .addr = (__u64)ctx->ret};
	struct thread_state *st;

	if (!target_set_has(tgid))
		return 0;
	st = thread_get(0);
	if (!st || !st->mmap_len)
		return 0;
	info.size = st->mmap_len;
	info.stack_key = st->mmap_key;
	info.time_ns = bpf_ktime_get_ns();
	st->mmap_len = 0;
	if (ctx->ret < 0)
		return 0;
	if (bpf_map_update_elem(&mmaps, &k, &info, BPF_ANY)) {
		stat_inc(SMOLDER_STAT_MMAP_TABLE_FULL);
		return 0;
	}
	site_alloc(info.stack_key, info.size);
	stat_inc(SMOLDER_STAT_MMAP);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_munmap")
int munmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 len = ctx->args[1];
	struct smolder_alloc_key k = {.tgid = (__u32)(id >> 32), .addr = ctx->args[0]};
	struct smolder_alloc_info *info, rest;

	if (!target_set_has(k.tgid))
		return 0;
	len = (len + 4095) & ~4095ULL;
	info = bpf_map_lookup_elem(&mmaps, &k);
	if (!info) {
		stat_inc(SMOLDER_STAT_MUNMAP_UNKNOWN);
		return 0;
	}
	rest = *info;
	bpf_map_delete_elem(&mmaps, &k);
	if (len >= rest.size) {
		site_free(rest.stack_key, rest.size);
		stat_inc(SMOLDER_STAT_MUNMAP);
		return 0;
	}
	/* Head unmapped: the tail stays tracked at its new start. */
	site_free(rest.stack_key, len);
	rest.size -= len;
	k.addr += len;
	bpf_map_update_elem(&mmaps, &k, &rest, BPF_ANY);
	stat_inc(SMOLDER_STAT_MUNMAP_UNKNOWN);
	return 0;
}
