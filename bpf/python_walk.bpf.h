/* python_walk.bpf.h: reads the sampled thread's Python frame chain, shared by profile.bpf.c and
 * memleak.bpf.c. It finds the thread's own PyThreadState through the interpreter's TSS key and
 * glibc's thread-specific data (not the GIL holder: any thread can be sampled), then follows the
 * frame chain with one read per frame in a bpf_loop, writing (code object, instruction, entry
 * marker) per frame into a per-CPU buffer. User space resolves code objects to names and splices
 * the frames into the native stack (src/runtime/mixed_stack.c).
 *
 * Why the TSS key and not 3.13's thread-local _Py_tss_tstate: the thread-local's address in a
 * thread is the thread pointer minus an offset that ld.so picks at load time (static TLS) or a DTV
 * slot whose module id is also chosen at load time -- neither is in any file, and
 * _Py_DebugOffsets does not give it. The TSS key (gilstate.autoTSSkey before 3.12, autoTSSkey in
 * 3.12 and 3.13) is bound for every thread that runs Python (bind_gilstate_tstate, the main
 * thread and every threading.Thread), lives at a fixed offset in _PyRuntime, and its value is at
 * an offset in struct pthread that user space reads from the target's own pthread_getspecific. One
 * mechanism for 3.8 to 3.13. And the thread's tstate, not _PyRuntime's current one: the sampled
 * thread may be running C code without the GIL (recv, a C JSON encoder) while another holds it.
 *
 * The config (offsets, addresses) is per process: the hash map python_configs, keyed by tgid,
 * written by user space when it has examined a process (version 0: not Python), copied from the
 * parent at a followed fork and deleted at exec and exit (python_config_fork/_forget, called by
 * target_set.bpf.h). A sample of a process without an entry is counted by the includer as "not
 * examined": python_walk returns NULL with *flags SMOLDER_PYWALK_NO_CONFIG. One mechanism for one
 * process and for a tree: a worker is walked with its own interpreter's addresses. */
#ifndef SMOLDER_PYTHON_WALK_BPF_H
#define SMOLDER_PYTHON_WALK_BPF_H

/* target_set.bpf.h copies and deletes the per-process configs at fork, exec and exit only when it
 * sees this file first. */
#ifdef SMOLDER_TARGET_SET_BPF_H
#error "include python_walk.bpf.h before target_set.bpf.h"
#endif

/* 3.11+ keep a thread's frames in its data stack, each caller below its callee: one read of the
 * memory from the start of a frame's page up to the frame serves the callers that sit in the same
 * page (about twenty frames of ordinary functions), instead of one read each. */
#define PYTHON_WINDOW 4096

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SMOLDER_MAX_PYTHON_PROCESSES); /* resized before load */
	__type(key, __u32);				   /* tgid */
	__type(value, struct smolder_python_config);
} python_configs SEC(".maps");

struct python_walk_buf {
	/* This walk's process's config, copied from python_configs: the entry may be replaced or
	 * deleted by user space or an exec on another CPU while the walk runs. */
	struct smolder_python_config cfg;
	/* One frame's bytes; 8 bytes of slack so that a u64 field at any in-range offset loads. */
	__u8 read[SMOLDER_PYTHON_FRAME_READ + 8];
	__u8 window[PYTHON_WINDOW + SMOLDER_PYTHON_FRAME_READ];
	struct smolder_python_frame frames[SMOLDER_PYTHON_MAX_FRAMES];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct python_walk_buf);
} python_walk_scratch SEC(".maps");

struct python_walk_state {
	struct python_walk_buf *buf;
	__u64 frame;   /* next frame to read, 0 at the end of the chain */
	__u64 hash;    /* of the frames written (code, instruction, flags) */
	__u64 win_lo;  /* address of window[0] */
	__u32 win_len; /* bytes valid in window, 0: none */
	__u32 n;       /* frames written */
	__u32 flags;   /* enum smolder_python_walk_flags */
	__u32 pad0;
};

static __always_inline __u64 python_hash_mix(__u64 h, __u64 v)
{
	h ^= v;
	h *= 0x9E3779B97F4A7C15ULL;
	h ^= h >> 29;
	return h;
}

static __always_inline __u64 python_field_u64(struct python_walk_buf *buf, __u32 off)
{
	return *(__u64 *)(buf->read + (off & (SMOLDER_PYTHON_FRAME_READ - 1)));
}

/* Reads size bytes at addr into buf->read: from the window when it holds them (3.11+), else with
 * a new window or, when the bytes cross a page end or for 3.8-3.10's heap-allocated frame objects,
 * one read of its own. Returns 0 or the helper's error. */
static __always_inline long python_read_frame(struct python_walk_state *st,
					      struct python_walk_buf *buf, __u64 addr, __u32 size)
{
	__u64 end = addr + size, lo, off, len;

	if (!(buf->cfg.flags & SMOLDER_PY_INSTR_POINTER))
		return bpf_probe_read_user(buf->read, size, (void *)addr);
	if (!(st->win_len && addr >= st->win_lo && end <= st->win_lo + st->win_len)) {
		lo = addr & ~(__u64)(PYTHON_WINDOW - 1);
		len = end - lo;
		__asm__ volatile("" : "+r"(len));
		if (len > PYTHON_WINDOW || len == 0)
			return bpf_probe_read_user(buf->read, size, (void *)addr);
		st->win_len = 0;
		if (bpf_probe_read_user(buf->window, len & (2 * PYTHON_WINDOW - 1), (void *)lo))
			return bpf_probe_read_user(buf->read, size, (void *)addr);
		st->win_lo = lo;
		st->win_len = len;
	}
	off = addr - st->win_lo;
	__asm__ volatile("" : "+r"(off));
	if (off >= PYTHON_WINDOW)
		return -1;
	return bpf_probe_read_kernel(buf->read, size, buf->window + (off & (PYTHON_WINDOW - 1)));
}

static long python_walk_step(__u32 index, void *data)
{
	struct python_walk_state *st = data;
	struct python_walk_buf *buf = st->buf;
	struct smolder_python_config *cfg = &buf->cfg;
	struct smolder_python_frame *out;
	__u32 size = cfg->frame_read_size, n = st->n;
	__u64 frame = st->frame, previous;
	__u8 owner = 0, flags = 0;

	if (frame == 0)
		return 1;
	if (n >= cfg->max_frames || n >= SMOLDER_PYTHON_MAX_FRAMES) {
		st->flags |= SMOLDER_PYWALK_TRUNCATED;
		return 1;
	}
	if (size == 0 || size > SMOLDER_PYTHON_FRAME_READ ||
	    python_read_frame(st, buf, frame + cfg->frame_read_offset, size)) {
		st->flags |= SMOLDER_PYWALK_READ_FAILED;
		return 1;
	}
	/* Offsets from the frame's start into the read, which began at frame_read_offset. */
	previous = python_field_u64(buf, cfg->frame_previous - cfg->frame_read_offset);
	st->frame = previous;
	if (cfg->frame_owner != SMOLDER_PY_NO_OFFSET)
		owner = buf->read[(cfg->frame_owner - cfg->frame_read_offset) &
				  (SMOLDER_PYTHON_FRAME_READ - 1)];
	if (cfg->owner_cstack != SMOLDER_PY_NO_OFFSET && owner == cfg->owner_cstack) {
		/* 3.12+: each _PyEval_EvalFrameDefault call pushes a shim frame on the C stack
		 * before its first frame; the frame emitted last was that call's entry frame. */
		if (n > 0 && n <= SMOLDER_PYTHON_MAX_FRAMES)
			buf->frames[n - 1].flags |= SMOLDER_PY_FRAME_ENTRY;
		return 0;
	}
	if (cfg->frame_is_entry != SMOLDER_PY_NO_OFFSET) {
		if (buf->read[(cfg->frame_is_entry - cfg->frame_read_offset) &
			      (SMOLDER_PYTHON_FRAME_READ - 1)])
			flags = SMOLDER_PY_FRAME_ENTRY;
	} else if (cfg->owner_cstack == SMOLDER_PY_NO_OFFSET) {
		flags = SMOLDER_PY_FRAME_ENTRY; /* before 3.11: one eval call per frame */
	}
	out = &buf->frames[n];
	out->code = python_field_u64(buf, cfg->frame_code - cfg->frame_read_offset);
	out->instr = python_field_u64(buf, cfg->frame_instr - cfg->frame_read_offset);
	if (!(cfg->flags & SMOLDER_PY_INSTR_POINTER))
		out->instr = (__u64)(__s64)(__s32)out->instr; /* int f_lasti, -1 before start */
	out->flags = flags;
	out->owner = owner;
	st->hash = python_hash_mix(python_hash_mix(st->hash, out->code),
				   out->instr ^ ((__u64)flags << 56));
	st->n = n + 1;
	return 0;
}

/* The sampled thread's PyThreadState, or 0. */
static __always_inline __u64 python_thread_state(struct task_struct *task,
						 const struct smolder_python_config *cfg)
{
	__u64 fsbase = BPF_CORE_READ(task, thread.fsbase), tss = 0, addr, tstate = 0;
	__u32 key;

	/* Py_tss_t {int _is_initialized; pthread_key_t _key}: tss_key_addr is &_key. */
	if (fsbase == 0 || cfg->tss_key_addr < 4 ||
	    bpf_probe_read_user(&tss, sizeof(tss), (void *)(cfg->tss_key_addr - 4)))
		return 0;
	if ((__u32)tss == 0)
		return 0;
	key = (__u32)(tss >> 32);
	/* glibc: keys below 32 live in struct pthread's specific_1stblock, {seq, data} pairs.
	 * Python creates its key at startup, among a process's first; a later key counts as no
	 * tstate. */
	if (key >= 32)
		return 0;
	addr = fsbase + cfg->pthread_specific_offset + key * 16 + 8;
	if (bpf_probe_read_user(&tstate, sizeof(tstate), (void *)addr))
		return 0;
	return tstate;
}

/* Walks the current thread's Python frames into the per-CPU buffer, with the config of process
 * tgid. Returns the buffer (frames in buf->frames[0..*n), innermost first) or NULL when there is
 * no walk: the process is not Python (a config of version 0), or it has no config yet (*flags
 * SMOLDER_PYWALK_NO_CONFIG, for the includer to count). *flags gets enum
 * smolder_python_walk_flags, *hash a hash of the frames. */
static __always_inline struct python_walk_buf *python_walk(struct task_struct *task, __u32 tgid,
							   __u32 *n, __u32 *flags, __u64 *hash)
{
	struct smolder_python_config *found, *cfg;
	struct python_walk_state st = {};
	__u32 zero = 0;
	__u64 frame = 0;

	*n = 0;
	*flags = 0;
	*hash = 0;
	found = bpf_map_lookup_elem(&python_configs, &tgid);
	if (!found) {
		*flags = SMOLDER_PYWALK_NO_CONFIG;
		return NULL;
	}
	if (found->version == 0)
		return NULL;
	st.buf = bpf_map_lookup_elem(&python_walk_scratch, &zero);
	if (!st.buf)
		return NULL;
	st.buf->cfg = *found;
	cfg = &st.buf->cfg;
	if (cfg->version == 0)
		return NULL; /* replaced while copied */
	st.frame = python_thread_state(task, cfg);
	if (st.frame == 0) {
		*flags = SMOLDER_PYWALK_NO_TSTATE;
		return st.buf;
	}
	if (bpf_probe_read_user(&frame, sizeof(frame), (void *)(st.frame + cfg->tstate_frame))) {
		*flags = SMOLDER_PYWALK_NO_TSTATE;
		return st.buf;
	}
	if (cfg->cframe_current_frame != SMOLDER_PY_NO_OFFSET && frame != 0 &&
	    bpf_probe_read_user(&frame, sizeof(frame),
				(void *)(frame + cfg->cframe_current_frame))) {
		*flags = SMOLDER_PYWALK_READ_FAILED | SMOLDER_PYWALK_DONE;
		return st.buf;
	}
	st.frame = frame;
	/* Room for a 3.12+ shim frame between every two frames. */
	bpf_loop(2 * SMOLDER_PYTHON_MAX_FRAMES + 2, python_walk_step, &st, 0);
	if (st.frame != 0 && !(st.flags & SMOLDER_PYWALK_READ_FAILED))
		st.flags |= SMOLDER_PYWALK_TRUNCATED;
	*n = st.n;
	*hash = st.hash;
	*flags = st.flags | SMOLDER_PYWALK_DONE;
	return st.buf;
}

/* A followed child was forked: it runs its parent's interpreter at the same addresses until it
 * execs, so it gets the parent's config (a fork in the middle of a user-space update copies
 * either the old or the new entry, both valid for the parent). Called by target_set.bpf.h. */
static __always_inline void python_config_fork(__u32 parent, __u32 child)
{
	struct smolder_python_config *cfg = bpf_map_lookup_elem(&python_configs, &parent);

	/* A full map leaves the child without a config: its samples count as not examined until
	 * user space writes one (which fails the same way, and says so). */
	if (cfg)
		bpf_map_update_elem(&python_configs, &child, cfg, BPF_ANY);
}

/* The process exec'd (a new program: user space examines it at its first sample) or exited
 * (its tgid may be reused). Called by target_set.bpf.h. */
static __always_inline void python_config_forget(__u32 tgid)
{
	bpf_map_delete_elem(&python_configs, &tgid);
}

#endif
