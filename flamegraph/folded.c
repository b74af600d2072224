/* folded.c: folded-stack profiles. Owns the interned name table, the call tree that merges
 * identical stacks, the add API and the deterministic writer (the line parser is folded_parse.c).
 * Memory grows with unique call paths, not with input size: big arrays come from mmap, totals
 * are computed on demand, and the merge index can be dropped once all stacks are in. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "folded_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define BIG_USE_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BIG_USE_MALLOC 1
#endif
#endif

void *big_alloc(size_t size)
{
#ifdef BIG_USE_MALLOC
	return calloc(1, size ? size : 1);
#else
	void *p = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
#endif
}

void *big_realloc(void *p, size_t old_size, size_t new_size)
{
#ifdef BIG_USE_MALLOC
	char *q = realloc(p, new_size ? new_size : 1);

	if (q && new_size > old_size)
		memset(q + old_size, 0, new_size - old_size);
	return q;
#else
	void *q;

	if (!p)
		return big_alloc(new_size);
	q = mremap(p, old_size ? old_size : 1, new_size ? new_size : 1, MREMAP_MAYMOVE);
	return q == MAP_FAILED ? NULL : q;
#endif
}

void big_free(void *p, size_t size)
{
	if (!p)
		return;
#ifdef BIG_USE_MALLOC
	(void)size;
	free(p);
#else
	munmap(p, size ? size : 1);
#endif
}

void name_table_init(struct name_table *t)
{
	memset(t, 0, sizeof(*t));
}

void name_table_release(struct name_table *t)
{
	free(t->arena);
	free(t->entries);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static int name_table_grow_slots(struct name_table *t)
{
	uint32_t cap = t->slots ? (t->slots_mask + 1) * 2 : 1024;
	uint32_t *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (uint32_t id = 0; id < t->count; id++) {
		uint32_t i = t->entries[id].hash & (cap - 1);

		while (slots[i])
			i = (i + 1) & (cap - 1);
		slots[i] = id + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->slots_mask = cap - 1;
	return 0;
}

static int64_t name_table_lookup(const struct name_table *t, const char *s, size_t len,
				 uint32_t hash, uint32_t *slot)
{
	uint32_t i = hash & t->slots_mask;

	for (;; i = (i + 1) & t->slots_mask) {
		uint32_t v = t->slots[i];
		const struct name_entry *e;

		if (!v) {
			*slot = i;
			return -1;
		}
		e = &t->entries[v - 1];
		if (e->hash == hash && e->len == len && !memcmp(t->arena + e->offset, s, len))
			return v - 1;
	}
}

int64_t name_table_find(const struct name_table *t, const char *s, size_t len)
{
	uint32_t slot;

	if (!t->slots)
		return -1;
	return name_table_lookup(t, s, len, folded_hash_bytes(s, len), &slot);
}

static int64_t name_table_intern_hashed(struct name_table *t, const char *s, size_t len,
					uint32_t hash)
{
	uint32_t slot;
	int64_t id;

	if (len > UINT32_MAX || t->count == UINT32_MAX - 1)
		return -ENOMEM;
	if (!t->slots || (uint64_t)(t->count + 1) * 4 > (uint64_t)(t->slots_mask + 1) * 3) {
		if (name_table_grow_slots(t))
			return -ENOMEM;
	}
	id = name_table_lookup(t, s, len, hash, &slot);
	if (id >= 0)
		return id;
	if (t->arena_len + len > t->arena_cap) {
		size_t cap = t->arena_cap ? t->arena_cap * 2 : 64 * 1024;
		char *arena;

		while (cap < t->arena_len + len)
			cap *= 2;
		arena = realloc(t->arena, cap);
		if (!arena)
			return -ENOMEM;
		t->arena = arena;
		t->arena_cap = cap;
	}
	if (t->count == t->entries_cap) {
		uint32_t cap = t->entries_cap ? t->entries_cap * 2 : 1024;
		struct name_entry *entries = realloc(t->entries, cap * sizeof(*entries));

		if (!entries)
			return -ENOMEM;
		t->entries = entries;
		t->entries_cap = cap;
	}
	memcpy(t->arena + t->arena_len, s, len);
	t->entries[t->count] = (struct name_entry){t->arena_len, (uint32_t)len, hash};
	t->arena_len += len;
	t->slots[slot] = t->count + 1;
	return t->count++;
}

int64_t name_table_intern(struct name_table *t, const char *s, size_t len)
{
	return name_table_intern_hashed(t, s, len, folded_hash_bytes(s, len));
}

struct rank_item {
	const char *s;
	uint32_t len;
	uint32_t id;
};

static int rank_item_cmp(const void *a, const void *b)
{
	const struct rank_item *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);

	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

uint32_t *name_table_ranks(const struct name_table *t)
{
	struct rank_item *items = malloc((t->count + 1) * sizeof(*items));
	uint32_t *ranks = malloc((t->count + 1) * sizeof(*ranks));

	if (!items || !ranks) {
		free(items);
		free(ranks);
		errno = ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < t->count; i++)
		items[i] =
			(struct rank_item){t->arena + t->entries[i].offset, t->entries[i].len, i};
	if (t->count > 1) /* qsort(NULL, 0) is undefined */
		qsort(items, t->count, sizeof(*items), rank_item_cmp);
	for (uint32_t i = 0; i < t->count; i++)
		ranks[items[i].id] = i;
	free(items);
	return ranks;
}

struct folded_profile *folded_profile_new(void)
{
	struct folded_profile *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	name_table_init(&p->names);
	p->node_cap = 1024;
	p->nodes = big_alloc(p->node_cap * sizeof(*p->nodes));
	p->slots = big_alloc(2048 * sizeof(*p->slots));
	p->slots_mask = 2047;
	if (!p->nodes || !p->slots) {
		folded_profile_free(p);
		errno = ENOMEM;
		return NULL;
	}
	p->nodes[0] = (struct folded_node){0, FOLDED_NO_NODE, 0};
	p->node_count = 1;
	return p;
}

void folded_profile_free(struct folded_profile *p)
{
	if (!p)
		return;
	name_table_release(&p->names);
	big_free(p->nodes, (size_t)p->node_cap * sizeof(*p->nodes));
	big_free(p->totals, (size_t)p->totals_n * sizeof(*p->totals));
	if (p->slots)
		big_free(p->slots, ((size_t)p->slots_mask + 1) * sizeof(*p->slots));
	free(p);
}

double folded_profile_total(const struct folded_profile *p)
{
	return p->total;
}

int folded_profile_totals(const struct folded_profile *cp)
{
	struct folded_profile *p = (struct folded_profile *)cp;

	if (p->totals && !p->totals_stale && p->totals_n == p->node_count)
		return 0;
	big_free(p->totals, (size_t)p->totals_n * sizeof(*p->totals));
	p->totals_n = p->node_count;
	p->totals = big_alloc((size_t)p->node_count * sizeof(*p->totals));
	if (!p->totals) {
		p->totals_n = 0;
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < p->node_count; i++)
		p->totals[i] = p->nodes[i].self;
	for (uint32_t i = p->node_count - 1; i > 0; i--)
		p->totals[p->nodes[i].parent] += p->totals[i];
	p->totals_stale = false;
	return 0;
}

size_t folded_profile_stack_count(const struct folded_profile *p)
{
	return p->stacks;
}

static int profile_grow_slots(struct folded_profile *p)
{
	uint32_t cap = (p->slots_mask + 1) * 2;
	struct folded_slot *slots = big_alloc((size_t)cap * sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; i <= p->slots_mask; i++) {
		const struct folded_slot *old = &p->slots[i];
		uint32_t j;

		if (!old->node_plus_one)
			continue;
		for (j = old->hash & (cap - 1); slots[j].node_plus_one; j = (j + 1) & (cap - 1))
			;
		slots[j] = *old;
	}
	big_free(p->slots, ((size_t)p->slots_mask + 1) * sizeof(*p->slots));
	p->slots = slots;
	p->slots_mask = cap - 1;
	return 0;
}

/* Recreates the index dropped by folded_profile_compact from the nodes: parents come before
 * children, so path hashes can be recomputed in id order. */
int folded_profile_rebuild_index(struct folded_profile *p)
{
	uint32_t cap = 2048, *hash;

	while ((uint64_t)p->node_count * 2 > cap)
		cap *= 2;
	p->slots = big_alloc((size_t)cap * sizeof(*p->slots));
	hash = big_alloc((size_t)p->node_count * sizeof(*hash));
	if (!p->slots || !hash) {
		big_free(p->slots, (size_t)cap * sizeof(*p->slots));
		big_free(hash, (size_t)p->node_count * sizeof(*hash));
		p->slots = NULL;
		return -ENOMEM;
	}
	p->slots_mask = cap - 1;
	hash[0] = FOLDED_ROOT_PATH_HASH;
	for (uint32_t id = 1; id < p->node_count; id++) {
		const struct folded_node *n = &p->nodes[id];
		uint32_t j;

		hash[id] = folded_hash_chain(hash[n->parent], p->names.entries[n->name].hash);
		for (j = hash[id] & p->slots_mask; p->slots[j].node_plus_one;
		     j = (j + 1) & p->slots_mask)
			;
		p->slots[j] = (struct folded_slot){n->parent, n->name, id + 1, hash[id]};
	}
	big_free(hash, (size_t)p->node_count * sizeof(*hash));
	return 0;
}

void folded_profile_compact(struct folded_profile *p)
{
	if (!p || !p->slots)
		return;
	big_free(p->slots, ((size_t)p->slots_mask + 1) * sizeof(*p->slots));
	p->slots = NULL;
	p->slots_mask = 0;
}

/* Returns the child of PARENT (whose path hash is PARENT_HASH) named by the bytes S, creating it;
 * or a negative errno. NAME_HASH is folded_hash_bytes(S); the child's path hash goes to
 * *CHILD_HASH. */
int64_t folded_profile_descend(struct folded_profile *p, uint32_t parent, uint32_t parent_hash,
			       const char *s, size_t len, uint32_t name_hash, uint32_t *child_hash)
{
	uint32_t hash = folded_hash_chain(parent_hash, name_hash), i;
	int64_t name;

	*child_hash = hash;
	if ((uint64_t)(p->node_count + 1) * 4 > (uint64_t)(p->slots_mask + 1) * 3 &&
	    profile_grow_slots(p))
		return -ENOMEM;
	for (i = hash & p->slots_mask;; i = (i + 1) & p->slots_mask) {
		const struct folded_slot *sl = &p->slots[i];
		const struct name_entry *e;

		if (!sl->node_plus_one)
			break;
		if (sl->hash != hash || sl->parent != parent)
			continue;
		e = &p->names.entries[sl->name];
		if (e->len == len && !memcmp(p->names.arena + e->offset, s, len))
			return sl->node_plus_one - 1;
	}
	name = name_table_intern_hashed(&p->names, s, len, name_hash);
	if (name < 0)
		return name;
	if (p->node_count == p->node_cap) {
		uint32_t cap;
		struct folded_node *nodes;

		if (p->node_cap >= UINT32_MAX / 2)
			return -ENOMEM;
		cap = p->node_cap * 2;
		nodes = big_realloc(p->nodes, (size_t)p->node_cap * sizeof(*nodes),
				    (size_t)cap * sizeof(*nodes));
		if (!nodes)
			return -ENOMEM;
		p->nodes = nodes;
		p->node_cap = cap;
	}
	p->nodes[p->node_count] = (struct folded_node){(uint32_t)name, parent, 0};
	p->slots[i] = (struct folded_slot){parent, (uint32_t)name, p->node_count + 1, hash};
	return p->node_count++;
}

/* Adds COUNT to LEAF's self count; node totals are brought up to date lazily. */
void folded_profile_commit(struct folded_profile *p, uint32_t leaf, double count)
{
	if (p->nodes[leaf].self == 0)
		p->stacks++;
	p->nodes[leaf].self += count;
	p->total += count;
	p->totals_stale = true;
}

int folded_profile_add(struct folded_profile *p, const char *const *frames, size_t n, double count)
{
	uint32_t node = 0, path_hash = FOLDED_ROOT_PATH_HASH;
	char *scratch = NULL;
	size_t scratch_cap = 0;
	int err = 0;

	if (!p || !frames || n == 0 || !(count >= 0) || !isfinite(count))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!frames[i])
			return -EINVAL;
	}
	if (count == 0)
		return 0;
	if (!p->slots && folded_profile_rebuild_index(p))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *s = frames[i];
		size_t len = strlen(s);
		int64_t child;

		if (strpbrk(s, ";\n\r")) {
			if (len + 1 > scratch_cap) {
				char *tmp = realloc(scratch, len + 1);

				if (!tmp) {
					err = -ENOMEM;
					goto out;
				}
				scratch = tmp;
				scratch_cap = len + 1;
			}
			for (size_t j = 0; j < len; j++)
				scratch[j] = s[j] == ';'		      ? ':'
					     : (s[j] == '\n' || s[j] == '\r') ? ' '
									      : s[j];
			s = scratch;
		}
		if (len == 0) {
			s = FOLDED_UNKNOWN_FRAME;
			len = strlen(FOLDED_UNKNOWN_FRAME);
		}
		child = folded_profile_descend(p, node, path_hash, s, len,
					       folded_hash_bytes(s, len), &path_hash);
		if (child < 0) {
			err = (int)child;
			goto out;
		}
		node = (uint32_t)child;
	}
	folded_profile_commit(p, node, count);
out:
	free(scratch);
	return err;
}

void folded_children_release(struct folded_children *c)
{
	big_free(c->start, ((size_t)c->n + 1) * sizeof(*c->start));
	big_free(c->child, ((size_t)c->n + 1) * sizeof(*c->child));
	c->start = NULL;
	c->child = NULL;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

int folded_children_build(const struct folded_profile *p, struct folded_children *c)
{
	uint32_t n = p->node_count;
	uint32_t *ranks = NULL, *fill = NULL;
	uint64_t *keys = NULL;
	size_t keys_cap = 0;
	int err = -ENOMEM;

	c->n = n;
	c->start = big_alloc(((size_t)n + 1) * sizeof(*c->start));
	c->child = big_alloc(((size_t)n + 1) * sizeof(*c->child));
	ranks = name_table_ranks(&p->names);
	if (!c->start || !c->child || !ranks)
		goto out;
	for (uint32_t i = 1; i < n; i++)
		c->start[p->nodes[i].parent + 1]++;
	for (uint32_t i = 0; i < n; i++)
		c->start[i + 1] += c->start[i];
	/* Counting sort by parent: children of one parent end up contiguous. */
	fill = big_alloc((size_t)n * sizeof(*fill));
	if (!fill)
		goto out;
	memcpy(fill, c->start, (size_t)n * sizeof(*fill));
	for (uint32_t i = 1; i < n; i++)
		c->child[fill[p->nodes[i].parent]++] = i;
	big_free(fill, (size_t)n * sizeof(*fill));
	fill = NULL;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t a = c->start[i], b = c->start[i + 1], m = b - a;

		if (m < 2)
			continue;
		if (m > keys_cap) {
			uint64_t *k = realloc(keys, m * sizeof(*k));

			if (!k)
				goto out;
			keys = k;
			keys_cap = m;
		}
		for (uint32_t j = 0; j < m; j++) {
			uint32_t id = c->child[a + j];

			keys[j] = (uint64_t)ranks[p->nodes[id].name] << 32 | id;
		}
		if (m < 16) {
			for (uint32_t j = 1; j < m; j++) {
				uint64_t k = keys[j];
				uint32_t x = j;

				for (; x > 0 && keys[x - 1] > k; x--)
					keys[x] = keys[x - 1];
				keys[x] = k;
			}
		} else {
			if (m > 1) /* qsort(NULL, 0) is undefined */
				qsort(keys, m, sizeof(*keys), u64_cmp);
		}
		for (uint32_t j = 0; j < m; j++)
			c->child[a + j] = (uint32_t)keys[j];
	}
	err = 0;
out:
	free(keys);
	free(ranks);
	if (err)
		folded_children_release(c);
	return err;
}

/* Formats a count: integral values without decimals, others with the fewest significant digits
 * (15 to 17) that read back as the same double, so written profiles parse back unchanged. */
size_t folded_format_count(double v, char *buf, size_t size)
{
	int n = 0;

	if (v == floor(v) && fabs(v) < 9e15)
		n = snprintf(buf, size, "%lld", (long long)v);
	else
		for (int digits = 15; digits <= 17; digits++) {
			n = snprintf(buf, size, "%.*g", digits, v);
			if (n < 0 || (size_t)n >= size || strtod(buf, NULL) == v)
				break;
		}
	return n < 0 ? 0 : (size_t)n;
}

int folded_profile_write(const struct folded_profile *p, FILE *out)
{
	struct folded_children c;
	struct frame_pos {
		uint32_t node, next; /* next: index into c.child */
		size_t path_len;     /* length of the path up to and including this node */
	} *stack = NULL;
	size_t stack_cap = 64, depth = 0, path_cap = 256;
	char *path = malloc(path_cap);
	int err = -ENOMEM;

	if (!path)
		return -ENOMEM;
	if (folded_children_build(p, &c)) {
		free(path);
		return -ENOMEM;
	}
	stack = malloc(stack_cap * sizeof(*stack));
	if (!stack)
		goto out;
	stack[depth++] = (struct frame_pos){0, c.start[0], 0};
	while (depth > 0) {
		struct frame_pos *top = &stack[depth - 1];
		size_t prefix = top->path_len, nlen;
		uint32_t child;
		const char *name;

		if (top->next == c.start[top->node + 1]) {
			depth--;
			continue;
		}
		child = c.child[top->next++];
		name = name_table_get(&p->names, p->nodes[child].name, &nlen);
		if (prefix + nlen + 40 > path_cap) {
			char *tmp;

			while (prefix + nlen + 40 > path_cap)
				path_cap *= 2;
			tmp = realloc(path, path_cap);
			if (!tmp)
				goto out;
			path = tmp;
		}
		if (top->node != 0)
			path[prefix++] = ';';
		memcpy(path + prefix, name, nlen);
		prefix += nlen;
		if (p->nodes[child].self > 0) {
			size_t n = prefix;

			path[n++] = ' ';
			n += folded_format_count(p->nodes[child].self, path + n, 32);
			path[n++] = '\n';
			if (fwrite(path, 1, n, out) != n) {
				err = -EIO;
				goto out;
			}
		}
		if (c.start[child] != c.start[child + 1]) {
			if (depth == stack_cap) {
				struct frame_pos *tmp =
					realloc(stack, stack_cap * 2 * sizeof(*stack));

				if (!tmp)
					goto out;
				stack = tmp;
				stack_cap *= 2;
			}
			stack[depth++] = (struct frame_pos){child, c.start[child], prefix};
		}
	}
	err = ferror(out) ? -EIO : 0;
out:
	free(stack);
	free(path);
	folded_children_release(&c);
	return err;
}
