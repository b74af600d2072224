/* stack_walk.bpf.h: the allocation tracker's in-kernel user-stack walker, part of memleak.bpf.c.
 * It walks with the unwind rules user space installs per return address (the shared unwinder's
 * compact CFI rules, src/alloc_tracker.c), caches each thread's last walk, announces new stacks and
 * sends a rate-limited stack snapshot when it meets an address without a rule. The includer
 * defines stat_inc(), the events ring buffer and MMAP_KEY_BIT first. */
#ifndef SMOLDER_STACK_WALK_BPF_H
#define SMOLDER_STACK_WALK_BPF_H

/* Set by user space before load. */
const volatile __u64 snapshot_rate = 2000; /* snapshots per second per CPU */
const volatile __u64 snapshot_burst = 256;

__u64 snapshot_seq = 0;

/* A walk is a function of its start (ip, sp, and bp when an rbp-based rule used it), the stack
 * words it read and the rules. A thread allocating in a loop repeats the same walk: checking the
 * remembered words with one copy of the stack window replaces the per-frame rule lookups and
 * reads. Words must lie within WALK_CACHE_SPAN bytes above sp. */
#define WALK_CACHE_WORDS 32
#define WALK_CACHE_SPAN	 4096

struct walk_cache {
	__u64 ip, sp, bp, key;
	__u32 n;		     /* words in off/val; 0: no cached walk */
	__u32 span;		     /* bytes from sp covering every word */
	__u32 use_bp;		     /* the walk used the entry bp */
	__u32 alloc_id;		     /* the allocator it was for (part of the key) */
	__u32 off[WALK_CACHE_WORDS]; /* word offsets from sp */
	__u64 val[WALK_CACHE_WORDS];
};

struct walk_scratch {
	struct smolder_stack_record rec;
	/* The walk in progress, kept in memory rather than registers: the verifier then need not
	 * tell apart every combination of these flags in the frame loop. */
	__u32 wn, span, bad, use_bp, bp_from_entry, pad0;
	__u32 off[WALK_CACHE_WORDS];
	__u64 val[WALK_CACHE_WORDS];
	__u8 window[WALK_CACHE_SPAN]; /* stack bytes from sp, to check a cached walk */
};

struct throttle {
	__u64 tokens_x1000;
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 16);
	__type(key, __u64);
	__type(value, __u8);
} known_stacks SEC(".maps");

/* Rules per (return address, layout): processes of a tree running different programs (an exec'd
 * child) have different code at the same address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 18);
	__type(key, struct smolder_rule_key);
	__type(value, struct smolder_unwind_rule);
} rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk_scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct throttle);
} throttles SEC(".maps");

static __always_inline __u64 hash_mix(__u64 h, __u64 v)
{
	h ^= v;
	h *= 0x9E3779B97F4A7C15ULL;
	h ^= h >> 29;
	return h;
}

/* Token bucket: snapshots are big (8 KiB of stack); a burst of new call sites must not flood the
 * ring buffer or the tool. */
static __always_inline int snapshot_allowed(void)
{
	__u32 zero = 0;
	struct throttle *t = bpf_map_lookup_elem(&throttles, &zero);
	__u64 now, add;

	if (!t)
		return 0;
	now = bpf_ktime_get_ns();
	if (t->last_ns == 0) {
		t->tokens_x1000 = snapshot_burst * 1000;
	} else {
		add = (now - t->last_ns) * snapshot_rate / 1000000ULL;
		t->tokens_x1000 += add;
		if (t->tokens_x1000 > snapshot_burst * 1000)
			t->tokens_x1000 = snapshot_burst * 1000;
	}
	t->last_ns = now;
	if (t->tokens_x1000 < 1000)
		return 0;
	t->tokens_x1000 -= 1000;
	return 1;
}

/* Sends registers and a stack copy from sp for user space to unwind. Returns the snapshot key, or
 * SMOLDER_STACK_KEY_NONE when throttled or the ring buffer is full. */
static __always_inline __u64 send_snapshot(struct smolder_stack_record *walked, __u64 ip, __u64 sp,
					   __u64 bp, __u32 flags, __u32 alloc_id, __u32 tgid,
					   __u32 layout)
{
	struct smolder_snapshot_record *snap;
	__u32 copied = 0;
	__u64 seq;

	if (!snapshot_allowed()) {
		stat_inc(SMOLDER_STAT_SNAPSHOT_THROTTLED);
		return SMOLDER_STACK_KEY_NONE;
	}
	snap = bpf_ringbuf_reserve(&events, sizeof(*snap), 0);
	if (!snap) {
		stat_inc(SMOLDER_STAT_RINGBUF_FULL);
		return SMOLDER_STACK_KEY_NONE;
	}
	seq = __sync_fetch_and_add(&snapshot_seq, 1);
	snap->kind = SMOLDER_REC_SNAPSHOT;
	snap->nr = walked->nr;
	snap->key =
		SMOLDER_STACK_KEY_SNAPSHOT | (seq & ~(SMOLDER_STACK_KEY_SNAPSHOT | MMAP_KEY_BIT));
	if (flags & SMOLDER_STACK_F_MMAP)
		snap->key |= MMAP_KEY_BIT;
	snap->ip = ip;
	snap->sp = sp;
	snap->bp = bp;
	snap->flags = flags;
	snap->alloc_id = alloc_id;
	snap->tgid = tgid;
	snap->layout = layout;
	snap->pad0 = 0;
	__builtin_memcpy(snap->ips, walked->ips, sizeof(snap->ips));
	/* Copy in chunks that end on 1 KiB boundaries, so none spans two pages: a read that would
	 * fault fails as a whole, and the main thread's stack may end less than a chunk above sp
	 * (in a constructor, exec's random gap is all that lies above). The first unreadable chunk
	 * is the end of the stack; running out of room is a clip, which the walk must not take
	 * for the end. */
	for (int i = 0; i < SMOLDER_ALLOC_SNAPSHOT_BYTES / 1024 + 1; i++) {
		__u32 chunk = 1024 - ((sp + copied) & 1023);

		if (copied > SMOLDER_ALLOC_SNAPSHOT_BYTES - 1024) {
			snap->flags |= SMOLDER_STACK_F_CLIPPED;
			break;
		}
		if (bpf_probe_read_user(&snap->stack[copied], chunk, (void *)(sp + copied)))
			break;
		copied += chunk;
	}
	snap->stack_len = copied;
	__u64 key = snap->key;
	bpf_ringbuf_submit(snap, 0);
	stat_inc(SMOLDER_STAT_SNAPSHOTS);
	return key;
}

/* Remembers a stack word the walk read, for walk_cached; a word outside the cacheable span makes
 * the walk uncacheable. */
static __always_inline void walk_note(struct walk_scratch *ws, __u64 sp0, __u64 addr, __u64 val)
{
	__u64 off = addr - sp0;
	__u32 i = ws->wn;

	if (addr < sp0 || off > WALK_CACHE_SPAN - 8 || i >= WALK_CACHE_WORDS) {
		ws->bad = 1;
		return;
	}
	ws->off[i] = (__u32)off;
	ws->val[i] = val;
	ws->wn = i + 1;
	if (off + 8 > ws->span)
		ws->span = off + 8;
}

/* The thread's last walk, when it started at the same (ip, sp[, bp]) and every stack word it read
 * still holds the same value: then this walk would end identically. One copy of the stack window
 * instead of a rule lookup and reads per frame. Returns 1 and sets *key on a hit. */
static __always_inline int walk_cached(struct walk_cache *wc, __u64 ip, __u64 sp, __u64 bp,
				       __u32 alloc_id, __u64 *key)
{
	__u32 zero = 0, span = wc->span, n = wc->n, off;
	struct walk_scratch *ws;

	if (n == 0 || wc->ip != ip || wc->sp != sp || wc->alloc_id != alloc_id ||
	    (wc->use_bp && wc->bp != bp))
		return 0;
	ws = bpf_map_lookup_elem(&scratch, &zero);
	if (!ws || span > WALK_CACHE_SPAN)
		return 0;
	if (bpf_probe_read_user(ws->window, span, (void *)sp))
		return 0;
	for (__u32 i = 0; i < WALK_CACHE_WORDS; i++) {
		if (i >= n)
			break;
		off = wc->off[i];
		if (off > WALK_CACHE_SPAN - 8)
			return 0;
		if (*(__u64 *)(ws->window + off) != wc->val[i])
			return 0;
	}
	*key = wc->key;
	stat_inc(SMOLDER_STAT_WALKS_CACHED);
	return 1;
}

/* Walks the user stack from (ip, sp, bp) with the rules installed for layout; exact marks ip as an
 * interrupted instruction (syscall leaf) rather than a return address. Returns the stack key, which
 * mixes in the process and its layout: the same addresses in two processes (forked workers) are
 * two keys, each process's sites its own, and an exec makes new keys for the new image. */
static __always_inline __u64 walk_stack(__u64 ip, __u64 sp, __u64 bp, __u32 exact, __u32 flags,
					__u32 alloc_id, struct walk_cache *wc, __u32 tgid,
					__u32 layout)
{
	__u64 ip0 = ip, sp0 = sp, bp0 = bp, word;
	__u32 zero = 0;
	struct walk_scratch *ws = bpf_map_lookup_elem(&scratch, &zero);
	struct smolder_stack_record *rec;
	struct smolder_unwind_rule *rule;
	__u64 h = 0xcbf29ce484222325ULL, cfa, key, slot;
	struct smolder_rule_key rule_key = {.layout = layout};
	__u32 n = 0, truncated = 1, bp_known = 1;
	__u8 one = 1;
	long err;

	if (!ws)
		return SMOLDER_STACK_KEY_NONE;
	if (wc)
		wc->n = 0;
	ws->wn = 0;
	ws->span = 0;
	ws->bad = 0;
	ws->use_bp = 0;
	ws->bp_from_entry = 1;
	rec = &ws->rec;
	for (int i = 0; i < SMOLDER_ALLOC_MAX_FRAMES; i++) {
		if (ip == 0) {
			truncated = 0;
			break;
		}
		rec->ips[i] = ip;
		n = i + 1;
		rec->nr = n;
		h = hash_mix(h, ip);
		rule_key.addr = ip;
		if (exact)
			rule_key.addr |= SMOLDER_RULE_KEY_EXACT;
		rule = bpf_map_lookup_elem(&rules, &rule_key);
		if (!rule)
			return send_snapshot(rec, ip, sp, bp,
					     flags | (exact ? SMOLDER_STACK_F_EXACT : 0), alloc_id,
					     tgid, layout);
		exact = 0;
		if (rule->kind == SMOLDER_RULE_END) {
			truncated = 0;
			break;
		}
		if (rule->kind == SMOLDER_RULE_SIGRETURN) {
			/* rt_sigframe: the ucontext's sigcontext (at +40) saves rbp at +80, rsp at
			 * +120, rip at +128; the interrupted frame resumes at its exact ip. */
			if (bpf_probe_read_user(&bp, sizeof(bp), (void *)(sp + 40 + 80)) ||
			    bpf_probe_read_user(&ip, sizeof(ip), (void *)(sp + 40 + 128)) ||
			    bpf_probe_read_user(&word, sizeof(word), (void *)(sp + 40 + 120))) {
				ws->bad = 1;
				break;
			}
			walk_note(ws, sp0, sp + 40 + 80, bp);
			walk_note(ws, sp0, sp + 40 + 128, ip);
			walk_note(ws, sp0, sp + 40 + 120, word);
			sp = word;
			bp_known = 1;
			ws->bp_from_entry = 0;
			exact = 1;
			continue;
		}
		if (rule->kind != SMOLDER_RULE_NORMAL)
			break;
		if (rule->cfa_reg == SMOLDER_CFA_BP && !bp_known)
			break;
		if (rule->cfa_reg == SMOLDER_CFA_BP && ws->bp_from_entry)
			ws->use_bp = 1;
		cfa = (rule->cfa_reg == SMOLDER_CFA_BP ? bp : sp) + (__s64)rule->cfa_offset;
		if (cfa <= sp)
			break; /* a caller's frame is always above its callee's */
		if (rule->bp_rule == SMOLDER_BP_AT_CFA) {
			/* Below sp (an epilogue after pop %rbp) the slot is stale: rbp unknown. */
			slot = cfa + (__s64)rule->bp_offset;
			bp_known = 0;
			if (slot >= sp) {
				if (bpf_probe_read_user(&bp, sizeof(bp), (void *)slot))
					ws->bad = 1;
				else
					bp_known = 1;
				walk_note(ws, sp0, slot, bp);
			}
			ws->bp_from_entry = 0;
		} else if (rule->bp_rule == SMOLDER_BP_UNDEFINED) {
			bp_known = 0;
			ws->bp_from_entry = 0;
		}
		slot = cfa + (__s64)rule->ra_offset;
		if (bpf_probe_read_user(&ip, sizeof(ip), (void *)slot)) {
			ws->bad = 1;
			break;
		}
		walk_note(ws, sp0, slot, ip);
		sp = cfa;
	}
	if (truncated) {
		stat_inc(SMOLDER_STAT_STACK_TRUNCATED);
		flags |= SMOLDER_STACK_F_TRUNCATED;
	}
	key = hash_mix(hash_mix(h, n + ((__u64)flags << 32)), alloc_id);
	key = hash_mix(key, ((__u64)layout << 32) | tgid);
	key &= ~(SMOLDER_STACK_KEY_SNAPSHOT | MMAP_KEY_BIT);
	if (key == 0)
		key = 1;
	if (flags & SMOLDER_STACK_F_MMAP)
		key |= MMAP_KEY_BIT;
	if (bpf_map_lookup_elem(&known_stacks, &key))
		goto known;
	err = bpf_map_update_elem(&known_stacks, &key, &one, BPF_NOEXIST);
	if (err == -17 /* EEXIST: another CPU announced it */)
		goto known;
	if (err) {
		stat_inc(SMOLDER_STAT_STACK_TABLE_FULL);
		return SMOLDER_STACK_KEY_NONE;
	}
	rec->kind = SMOLDER_REC_STACK;
	rec->key = key;
	rec->flags = flags;
	rec->alloc_id = alloc_id;
	rec->tgid = tgid;
	rec->layout = layout;
	if (bpf_ringbuf_output(&events, rec, sizeof(*rec), 0)) {
		/* Forget it so the next allocation on this stack announces it again. */
		bpf_map_delete_elem(&known_stacks, &key);
		stat_inc(SMOLDER_STAT_RINGBUF_FULL);
		return key;
	}
known:
	/* Only walks user space knows the stack of are cached: a lost announcement retries. */
	if (wc && !ws->bad) {
		__u32 wn = ws->wn;

		for (__u32 i = 0; i < WALK_CACHE_WORDS; i++) {
			if (i >= wn)
				break;
			wc->off[i] = ws->off[i];
			wc->val[i] = ws->val[i];
		}
		wc->ip = ip0;
		wc->sp = sp0;
		wc->bp = bp0;
		wc->key = key;
		wc->span = ws->span;
		wc->use_bp = ws->use_bp;
		wc->alloc_id = alloc_id;
		wc->n = wn;
	}
	return key;
}

#endif
