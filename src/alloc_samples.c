/* alloc_samples.c: the allocation tracker's readout (alloc_tracker_internal.h), once per interval:
 * the per-CPU site counters summed per interned stack (alloc_tracker_sample: exec and exit closings
 * counted as freed, young pending snapshot keys deferred), the live blocks older than an age
 * (alloc_tracker_live) and the kernel's statistics (alloc_tracker_stats). */
#include "alloc_tracker_internal.h"
#include "smolder/u64_map.h"

#include "memleak.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KEY_DEFERRED UINT32_MAX

/* The stack id of a kernel key. With defer, a pending snapshot's key younger than PENDING_MAX_NS
 * gives KEY_DEFERRED (left out of this sample: its full stack may still come, and a site must not
 * lose counts it has shown); otherwise a pending key is settled at its prefix for good. */
static uint32_t key_stack_defer(struct alloc_tracker *t, uint64_t key, bool defer)
{
	uint64_t id;

	for (size_t i = 0; i < t->n_pending; i++) {
		if (t->pending[i].key != key)
			continue;
		if (defer && alloc_stacks_now_ns() - t->pending[i].since_ns < PENDING_MAX_NS)
			return KEY_DEFERRED;
		t->pending[i] = t->pending[--t->n_pending];
		break;
	}
	if (u64_map_get(&t->key_to_stack, key, &id))
		return (uint32_t)id;
	/* Announcement lost or not consumed yet: drain the ring buffer once, then give up. Not
	 * when a read was just cut: one more per key would add up to minutes over many sites. */
	if (t->backlogged)
		return t->unavailable_id;
	alloc_tracker_consume(t, -1);
	if (u64_map_get(&t->key_to_stack, key, &id))
		return (uint32_t)id;
	return t->unavailable_id;
}

static uint32_t key_stack(struct alloc_tracker *t, uint64_t key)
{
	return key_stack_defer(t, key, false);
}

/* Accumulates into samples, merging entries with the same (stack, mmap). */
struct sample_acc {
	struct alloc_site_sample *items;
	size_t n, cap;
	struct u64_map index; /* (stack id << 1 | mmap) -> item index */
};

static struct alloc_site_sample *acc_get(struct sample_acc *acc, uint32_t stack_id, uint32_t flags)
{
	uint64_t k = (uint64_t)stack_id << 1 | ((flags & ALLOC_SITE_MMAP) ? 1 : 0), idx;

	if (u64_map_get(&acc->index, k, &idx))
		return &acc->items[idx];
	if (acc->n == acc->cap) {
		size_t cap = acc->cap ? acc->cap * 2 : 64;
		struct alloc_site_sample *grown = realloc(acc->items, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		acc->items = grown;
		acc->cap = cap;
	}
	if (u64_map_put(&acc->index, k, acc->n))
		return NULL;
	memset(&acc->items[acc->n], 0, sizeof(acc->items[0]));
	acc->items[acc->n].stack_id = stack_id;
	acc->items[acc->n].flags = flags;
	return &acc->items[acc->n++];
}

int alloc_tracker_sample(struct alloc_tracker *t, struct alloc_site_sample **samples, size_t *n)
{
	int fd = bpf_map__fd(t->skel->maps.sites);
	struct sample_acc acc = {0};
	uint64_t key, next, *prev = NULL;
	struct smolder_site_counters c;
	int err = 0;

	alloc_tracker_consume(t, -1);
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct alloc_site_sample *s;
		uint32_t id, flags;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, t->site_values))
			continue;
		memset(&c, 0, sizeof(c));
		for (int cpu = 0; cpu < t->ncpus; cpu++) {
			c.alloc_bytes += t->site_values[cpu].alloc_bytes;
			c.alloc_count += t->site_values[cpu].alloc_count;
			c.free_bytes += t->site_values[cpu].free_bytes;
			c.free_count += t->site_values[cpu].free_count;
		}
		if (t->closed_count.count) {
			uint64_t bytes, count;

			if (u64_map_get(&t->closed_bytes, key, &bytes))
				c.free_bytes += bytes;
			if (u64_map_get(&t->closed_count, key, &count))
				c.free_count += count;
		}
		id = key_stack_defer(t, key, true);
		if (id == KEY_DEFERRED)
			continue;
		flags = (key & MMAP_KEY_BIT) ? ALLOC_SITE_MMAP : 0;
		if (t->closed_flags.count) {
			uint64_t closed;

			if (u64_map_get(&t->closed_flags, key, &closed))
				flags |= (uint32_t)closed;
		}
		flags |= alloc_tracker_stack_flags(t, id);
		s = acc_get(&acc, id, flags);
		if (!s) {
			err = -ENOMEM;
			break;
		}
		/* Several kernel keys can make one stack (a snapshot's and the walker's; Python
		 * paths whose interpreter frames differ): a flag of any of them (closed by exec)
		 * is the site's, whichever key the map listed first. */
		s->flags |= flags;
		s->alloc_bytes += c.alloc_bytes;
		s->alloc_count += c.alloc_count;
		/* Frees of a site can be counted before its allocation on another CPU: clamp. */
		s->outstanding_bytes +=
			c.alloc_bytes > c.free_bytes ? c.alloc_bytes - c.free_bytes : 0;
		s->outstanding_allocs +=
			c.alloc_count > c.free_count ? c.alloc_count - c.free_count : 0;
	}
	u64_map_release(&acc.index);
	if (err) {
		free(acc.items);
		return err;
	}
	*samples = acc.items;
	*n = acc.n;
	return 0;
}

int alloc_samples_each_block(int fd, alloc_block_fn *fn, void *ctx)
{
	enum { BATCH = 4096 };
	struct smolder_alloc_key *keys = malloc(BATCH * sizeof(*keys));
	uint64_t in_batch = 0, out_batch; /* the hash map's bucket cursor */
	struct smolder_alloc_info *vals = malloc(BATCH * sizeof(*vals));
	bool first = true;
	int err = 0;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = BATCH;

		err = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch, keys, vals,
					   &count, &opts);
		if (err && errno != ENOENT) {
			err = -errno;
			break;
		}
		for (__u32 i = 0; i < count; i++)
			fn(ctx, &keys[i], &vals[i]);
		if (err) { /* ENOENT: that was the last batch */
			err = 0;
			break;
		}
		in_batch = out_batch;
		first = false;
	}
out:
	free(keys);
	free(vals);
	return err;
}

struct live_walk {
	struct alloc_tracker *t;
	bool mmap;
	uint64_t min_age_ns, now_ns;
	alloc_tracker_live_fn fn;
	void *ctx;
};

static void live_block(void *arg, const struct smolder_alloc_key *key,
		       const struct smolder_alloc_info *val)
{
	struct live_walk *w = arg;
	uint64_t age = w->now_ns > val->time_ns ? w->now_ns - val->time_ns : 0;
	uint32_t id;

	(void)key;
	if (age < w->min_age_ns)
		return;
	id = key_stack(w->t, val->stack_key);
	w->fn(w->ctx, id, (w->mmap ? ALLOC_SITE_MMAP : 0) | alloc_tracker_stack_flags(w->t, id),
	      val->size);
}

static int live_map(struct alloc_tracker *t, int fd, bool mmap, uint64_t min_age_ns,
		    uint64_t now_ns, alloc_tracker_live_fn fn, void *ctx)
{
	struct live_walk w = {.t = t,
			      .mmap = mmap,
			      .min_age_ns = min_age_ns,
			      .now_ns = now_ns,
			      .fn = fn,
			      .ctx = ctx};

	return alloc_samples_each_block(fd, live_block, &w);
}

int alloc_tracker_live(struct alloc_tracker *t, uint64_t min_age_ns, uint64_t now_ns,
		       alloc_tracker_live_fn fn, void *ctx)
{
	int err;

	alloc_tracker_consume(t, -1);
	err = live_map(t, bpf_map__fd(t->skel->maps.allocs), false, min_age_ns, now_ns, fn, ctx);
	if (err)
		return err;
	return live_map(t, bpf_map__fd(t->skel->maps.mmaps), true, min_age_ns, now_ns, fn, ctx);
}

int alloc_tracker_stats(struct alloc_tracker *t, uint64_t stats[SMOLDER_STAT_MAX])
{
	int fd = bpf_map__fd(t->skel->maps.stats);
	uint64_t *percpu = calloc((size_t)t->ncpus, sizeof(uint64_t));

	if (!percpu)
		return -ENOMEM;
	for (uint32_t i = 0; i < SMOLDER_STAT_MAX; i++) {
		stats[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, percpu))
			continue;
		for (int c = 0; c < t->ncpus; c++)
			stats[i] += percpu[c];
	}
	/* Queued but never read (the end of a backlogged run): lost like a full ring buffer's. */
	stats[SMOLDER_STAT_RINGBUF_FULL] += t->unread;
	free(percpu);
	return 0;
}
