/* cpu_profile.c: the aggregated CPU profile. Stacks are interned in a stack_table; counts live in a
 * dense array of (stack, thread) cells found through an open-addressing hash, so adding a sample
 * costs one stack intern and one probe. */
#include "smolder/cpu_profile.h"
#include "smolder/frame_names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Frames per stored stack: kernel (at most 64 from bpf_get_stack) plus a deep user stack. */
#define CPU_PROFILE_MAX_FRAMES 1024

struct cpu_profile_thread {
	int32_t tid;
	char *name;
};

struct cpu_profile {
	pid_t pid;
	struct stack_table *stacks;
	struct cpu_profile_entry *entries;
	size_t n_entries, cap_entries;
	uint32_t *slots; /* entry index + 1; 0 = empty */
	size_t n_slots;	 /* power of two */
	struct cpu_profile_thread *threads;
	size_t n_threads, cap_threads;
	struct cpu_profile_totals totals;
	struct frame_names *names; /* the [truncated] marker, interpreted frames */
	bool names_borrowed;	   /* names belong to another profile */
	uint64_t frames[CPU_PROFILE_MAX_FRAMES];
};

struct cpu_profile *cpu_profile_new(pid_t pid)
{
	return cpu_profile_new_with_names(pid, NULL);
}

struct cpu_profile *cpu_profile_new_with_names(pid_t pid, struct frame_names *names)
{
	struct cpu_profile *profile = calloc(1, sizeof(*profile));

	if (!profile)
		return NULL;
	profile->pid = pid;
	profile->stacks = stack_table_new();
	profile->names_borrowed = names != NULL;
	profile->names = names ? names : frame_names_new();
	if (!profile->stacks || !profile->names)
		goto fail;
	profile->n_slots = 1024;
	profile->slots = calloc(profile->n_slots, sizeof(*profile->slots));
	if (!profile->slots)
		goto fail;
	return profile;
fail:
	cpu_profile_free(profile);
	errno = ENOMEM;
	return NULL;
}

void cpu_profile_free(struct cpu_profile *profile)
{
	if (!profile)
		return;
	for (size_t i = 0; i < profile->n_threads; i++)
		free(profile->threads[i].name);
	free(profile->threads);
	free(profile->slots);
	free(profile->entries);
	stack_table_free(profile->stacks);
	if (!profile->names_borrowed)
		frame_names_free(profile->names);
	free(profile);
}

static uint64_t cpu_profile_hash(uint32_t stack_id, int32_t tid)
{
	uint64_t h = ((uint64_t)stack_id << 32) | (uint32_t)tid;

	/* splitmix64 finalizer: ids and tids are small and dense, the mixing spreads them. */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

static int cpu_profile_grow_slots(struct cpu_profile *profile)
{
	size_t n_slots = profile->n_slots * 2;
	uint32_t *slots = calloc(n_slots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < profile->n_entries; i++) {
		const struct cpu_profile_entry *e = &profile->entries[i];
		size_t s = cpu_profile_hash(e->stack_id, e->tid) & (n_slots - 1);

		while (slots[s])
			s = (s + 1) & (n_slots - 1);
		slots[s] = (uint32_t)i + 1;
	}
	free(profile->slots);
	profile->slots = slots;
	profile->n_slots = n_slots;
	return 0;
}

static int cpu_profile_count(struct cpu_profile *profile, uint32_t stack_id, int32_t tid,
			     uint64_t weight)
{
	size_t s;

	if ((profile->n_entries + 1) * 2 > profile->n_slots && cpu_profile_grow_slots(profile))
		return -ENOMEM;
	s = cpu_profile_hash(stack_id, tid) & (profile->n_slots - 1);
	while (profile->slots[s]) {
		struct cpu_profile_entry *e = &profile->entries[profile->slots[s] - 1];

		if (e->stack_id == stack_id && e->tid == tid) {
			e->count += weight;
			return 0;
		}
		s = (s + 1) & (profile->n_slots - 1);
	}
	if (profile->n_entries == profile->cap_entries) {
		size_t cap = profile->cap_entries ? profile->cap_entries * 2 : 256;
		struct cpu_profile_entry *grown =
			realloc(profile->entries, cap * sizeof(*profile->entries));

		if (!grown)
			return -ENOMEM;
		profile->entries = grown;
		profile->cap_entries = cap;
	}
	profile->entries[profile->n_entries] = (struct cpu_profile_entry){
		.stack_id = stack_id,
		.tid = tid,
		.count = weight,
	};
	profile->slots[s] = (uint32_t)++profile->n_entries;
	return 0;
}

static struct cpu_profile_thread *cpu_profile_find_thread(const struct cpu_profile *profile,
							  pid_t tid)
{
	/* Linear: a profile sees tens of threads, and names are looked up at output time only. */
	for (size_t i = 0; i < profile->n_threads; i++)
		if (profile->threads[i].tid == tid)
			return &profile->threads[i];
	return NULL;
}

static struct cpu_profile_thread *cpu_profile_add_thread(struct cpu_profile *profile, pid_t tid)
{
	struct cpu_profile_thread *t = cpu_profile_find_thread(profile, tid);

	if (t)
		return t;
	if (profile->n_threads == profile->cap_threads) {
		size_t cap = profile->cap_threads ? profile->cap_threads * 2 : 16;
		struct cpu_profile_thread *grown =
			realloc(profile->threads, cap * sizeof(*profile->threads));

		if (!grown)
			return NULL;
		profile->threads = grown;
		profile->cap_threads = cap;
	}
	t = &profile->threads[profile->n_threads++];
	t->tid = tid;
	t->name = NULL;
	return t;
}

int cpu_profile_add(struct cpu_profile *profile, pid_t tid, const uint64_t *user_ips,
		    uint32_t n_user, const uint64_t *kernel_ips, uint32_t n_kernel, uint32_t flags)
{
	return cpu_profile_add_rooted(profile, 0, tid, user_ips, n_user, kernel_ips, n_kernel,
				      flags);
}

int cpu_profile_add_rooted(struct cpu_profile *profile, uint64_t root, pid_t tid,
			   const uint64_t *user_ips, uint32_t n_user, const uint64_t *kernel_ips,
			   uint32_t n_kernel, uint32_t flags)
{
	return cpu_profile_add_weighted(profile, root, 0, tid, user_ips, n_user, kernel_ips,
					n_kernel, flags, 1);
}

int cpu_profile_add_weighted(struct cpu_profile *profile, uint64_t root, uint64_t group, pid_t tid,
			     const uint64_t *user_ips, uint32_t n_user, const uint64_t *kernel_ips,
			     uint32_t n_kernel, uint32_t flags, uint64_t weight)
{
	uint32_t n = 0, stack_id;
	int ret;

	/* Three slots stay free: the [truncated] marker, the group and the process root. */
	for (uint32_t i = 0; i < n_kernel && n < CPU_PROFILE_MAX_FRAMES - 3; i++)
		profile->frames[n++] = kernel_ips[i];
	for (uint32_t i = 0; i < n_user && n < CPU_PROFILE_MAX_FRAMES - 3; i++)
		profile->frames[n++] = user_ips[i];
	if (n < n_kernel + n_user)
		flags &= ~CPU_PROFILE_SAMPLE_COMPLETE;
	/* A user stack that did not reach its thread's root ends in the marker: outputs then root
	 * it at [truncated] instead of at whatever frame the walk stopped in. */
	if (n_user && !(flags & CPU_PROFILE_SAMPLE_COMPLETE)) {
		ret = frame_names_truncated(profile->names, &profile->frames[n]);
		if (ret)
			return ret;
		n++;
	}
	/* The group (off-CPU state) and the process root are outermost, above the marker:
	 * "COMMAND [PID];[sleep];[truncated];...". */
	if (group)
		profile->frames[n++] = group;
	if (root)
		profile->frames[n++] = root;
	ret = stack_table_add(profile->stacks, profile->frames, n, &stack_id);
	if (ret)
		return ret;
	ret = cpu_profile_count(profile, stack_id, tid, weight);
	if (ret)
		return ret;
	if (!cpu_profile_add_thread(profile, tid))
		return -ENOMEM;
	profile->totals.samples += weight;
	if (n_user == 0)
		profile->totals.kernel_only += weight;
	else if (flags & CPU_PROFILE_SAMPLE_COMPLETE)
		profile->totals.complete += weight;
	else
		profile->totals.truncated += weight;
	return 0;
}

struct frame_names *cpu_profile_names(struct cpu_profile *profile)
{
	return profile->names;
}

void cpu_profile_add_lost(struct cpu_profile *profile, uint64_t n)
{
	profile->totals.lost += n;
}

void cpu_profile_set_unknown_frames(struct cpu_profile *profile, uint64_t n)
{
	profile->totals.unknown_frames = n;
}

int cpu_profile_set_thread_name(struct cpu_profile *profile, pid_t tid, const char *name)
{
	struct cpu_profile_thread *t = cpu_profile_add_thread(profile, tid);
	char *copy;

	if (!t)
		return -ENOMEM;
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	free(t->name);
	t->name = copy;
	return 0;
}

const char *cpu_profile_thread_name(const struct cpu_profile *profile, pid_t tid)
{
	const struct cpu_profile_thread *t = cpu_profile_find_thread(profile, tid);

	return t ? t->name : NULL;
}

bool cpu_profile_has_thread(const struct cpu_profile *profile, pid_t tid)
{
	return cpu_profile_find_thread(profile, tid) != NULL;
}

pid_t cpu_profile_pid(const struct cpu_profile *profile)
{
	return profile->pid;
}

const struct stack_table *cpu_profile_stacks(const struct cpu_profile *profile)
{
	return profile->stacks;
}

const struct cpu_profile_entry *cpu_profile_entries(const struct cpu_profile *profile, size_t *n)
{
	*n = profile->n_entries;
	return profile->entries;
}

void cpu_profile_get_totals(const struct cpu_profile *profile, struct cpu_profile_totals *totals)
{
	*totals = profile->totals;
}

size_t cpu_profile_memory(const struct cpu_profile *profile)
{
	return sizeof(*profile) + stack_table_memory(profile->stacks) +
	       profile->cap_entries * sizeof(*profile->entries) +
	       profile->n_slots * sizeof(*profile->slots) +
	       profile->cap_threads * sizeof(*profile->threads);
}
