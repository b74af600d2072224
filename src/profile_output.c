/* profile_output.c: weighted stacks -> folded stacks. Addresses are collected over all stacks
 * first and each unique one is symbolized once; folded lines are then assembled from the cached
 * names (root first, inlined frames expanded) and merged, since distinct address stacks often fold
 * to the same line. The files written from them are in report/record_outputs.c. */
#include "smolder/profile_output.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "folded.h"
#include "smolder/cpu_profile.h"
#include "smolder/frame.h"
#include "smolder/frame_names.h"
#include "smolder/mixed_stack.h"
#include "smolder/process_table.h"
#include "smolder/symbolizer.h"
#include "smolder/text_sanitize.h"

#define PROFILE_NAME_MAX 512

struct folded_line {
	char *text;
	uint64_t weight;
	bool truncated; /* the stack ends in the [truncated] marker (the same text always does) */
};

struct address_cache {
	struct profile_address *addrs;
	size_t n_addrs, cap_addrs;
	uint32_t *slots;
	size_t n_slots;
	struct profile_frame_info *names; /* frames of all addresses; addrs[i] owns a range */
	size_t n_names, cap_names;
};

struct profile_folded {
	struct folded_line *lines;
	size_t n_lines, cap_lines;
	uint32_t *slots; /* line index + 1; 0 = empty */
	size_t n_slots;
	/* The address-level profile the lines were folded from, for exporters that keep addresses,
	 * mappings and source lines (pprof). */
	struct address_cache cache;
	struct profile_sample *samples;
	size_t n_samples, cap_samples;
	uint32_t *sample_addrs; /* address indices, leaf first, samples[i].first.. */
	size_t n_sample_addrs, cap_sample_addrs;
};

static uint64_t profile_hash_u64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t profile_hash_string(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static int grow_array(void **array, size_t *cap, size_t need, size_t elem)
{
	size_t new_cap;
	void *grown;

	if (need <= *cap)
		return 0;
	new_cap = *cap ? *cap * 2 : 64;
	while (new_cap < need)
		new_cap *= 2;
	grown = realloc(*array, new_cap * elem);
	if (!grown)
		return -ENOMEM;
	*array = grown;
	*cap = new_cap;
	return 0;
}

/* Returns the index of addr in the cache, adding it (unresolved) when new; -ENOMEM. */
static uint64_t address_key(uint64_t addr, const struct symbolizer *sym)
{
	return profile_hash_u64(addr ^ profile_hash_u64((uint64_t)(uintptr_t)sym));
}

/* One address means one thing per process: the cache is keyed by (address, symbolizer). */
static long address_cache_intern(struct address_cache *cache, uint64_t addr, struct symbolizer *sym)
{
	size_t s;

	if ((cache->n_addrs + 1) * 2 > cache->n_slots) {
		size_t n_slots = cache->n_slots ? cache->n_slots * 2 : 4096;
		uint32_t *slots = calloc(n_slots, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		for (size_t i = 0; i < cache->n_addrs; i++) {
			s = address_key(cache->addrs[i].addr, cache->addrs[i].sym) & (n_slots - 1);
			while (slots[s])
				s = (s + 1) & (n_slots - 1);
			slots[s] = (uint32_t)i + 1;
		}
		free(cache->slots);
		cache->slots = slots;
		cache->n_slots = n_slots;
	}
	s = address_key(addr, sym) & (cache->n_slots - 1);
	while (cache->slots[s]) {
		uint32_t i = cache->slots[s] - 1;

		if (cache->addrs[i].addr == addr && cache->addrs[i].sym == sym)
			return i;
		s = (s + 1) & (cache->n_slots - 1);
	}
	if (grow_array((void **)&cache->addrs, &cache->cap_addrs, cache->n_addrs + 1,
		       sizeof(*cache->addrs)))
		return -ENOMEM;
	cache->addrs[cache->n_addrs] = (struct profile_address){.addr = addr, .sym = sym};
	cache->slots[s] = (uint32_t)++cache->n_addrs;
	return (long)cache->n_addrs - 1;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int address_cache_add_name(struct address_cache *cache, const char *name,
				  const struct symbol_frame *frame)
{
	struct profile_frame_info *info;

	if (grow_array((void **)&cache->names, &cache->cap_names, cache->n_names + 1,
		       sizeof(*cache->names)))
		return -ENOMEM;
	info = &cache->names[cache->n_names];
	memset(info, 0, sizeof(*info));
	info->name = strdup(name);
	if (frame) {
		info->function = dup_or_null(frame->function);
		info->file = dup_or_null(frame->file);
		info->line = frame->line;
		info->inlined = frame->flags & SYMBOL_FRAME_INLINED;
		if ((frame->function && !info->function) || (frame->file && !info->file)) {
			free(info->function);
			free(info->file);
			free(info->name);
			return -ENOMEM;
		}
	}
	if (!info->name) {
		free(info->function);
		free(info->file);
		return -ENOMEM;
	}
	cache->n_names++;
	return 0;
}

static void address_cache_release(struct address_cache *cache)
{
	for (size_t i = 0; i < cache->n_names; i++) {
		free(cache->names[i].name);
		free(cache->names[i].function);
		free(cache->names[i].file);
	}
	free(cache->names);
	for (size_t i = 0; i < cache->n_addrs; i++)
		free(cache->addrs[i].module_path);
	free(cache->addrs);
	free(cache->slots);
	memset(cache, 0, sizeof(*cache));
}

/* Resolves every address with its process's symbolizer: in a child process first, one batch per
 * symbolizer, so a crash in libdw must not lose the profile. */
static void address_cache_resolve_isolated(struct address_cache *cache)
{
	uint64_t *batch = malloc((cache->n_addrs ? cache->n_addrs : 1) * sizeof(*batch));
	bool *done = calloc(cache->n_addrs + 1, sizeof(*done));

	for (size_t i = 0; batch && done && i < cache->n_addrs; i++) {
		struct symbolizer *sym = cache->addrs[i].sym;
		size_t n = 0;

		if (done[i] || !sym)
			continue;
		for (size_t j = i; j < cache->n_addrs; j++)
			if (!done[j] && cache->addrs[j].sym == sym) {
				batch[n++] = cache->addrs[j].addr;
				done[j] = true;
			}
		symbolizer_resolve_isolated(sym, batch, n);
	}
	free(done);
	free(batch);
}

static int address_cache_resolve(struct address_cache *cache, const struct frame_names *names)
{
	char buf[PROFILE_NAME_MAX];

	address_cache_resolve_isolated(cache);
	for (size_t i = 0; i < cache->n_addrs; i++) {
		struct profile_address *a = &cache->addrs[i];
		struct symbolizer *sym = a->sym;
		const struct symbol_frame *frames = NULL;
		struct symbol_module_info mi;
		size_t n = 0;
		int ret;

		a->first = (uint32_t)cache->n_names;
		a->kernel = cpu_profile_is_kernel_address(a->addr);
		if (sym && frame_is_user(a->addr) && symbolizer_module_at(sym, a->addr, &mi) == 0 &&
		    mi.path) {
			a->module_path = strdup(mi.path);
			if (!a->module_path)
				return -ENOMEM;
			memcpy(a->build_id, mi.build_id, sizeof(a->build_id));
			a->map_start = mi.start;
			a->map_end = mi.end;
			a->map_offset = mi.file_offset;
		}
		if (frame_is_named(a->addr)) {
			/* Python functions and markers: named by their registry, not by
			 * address. */
			if (!names || frame_names_format(names, a->addr, buf, sizeof(buf)) == 0) {
				snprintf(buf, sizeof(buf), "[unknown]");
				a->unknown = 1;
			}
			ret = address_cache_add_name(cache, buf, NULL);
			if (ret)
				return ret;
			a->n = 1;
			continue;
		}
		if (sym)
			n = symbolizer_resolve(sym, a->addr, &frames);
		if (n == 0) {
			snprintf(buf, sizeof(buf), "0x%" PRIx64 "%s",
				 frame_is_user(a->addr) ? frame_user_address(a->addr) : a->addr,
				 cpu_profile_is_kernel_address(a->addr) ? "_[k]" : "");
			ret = address_cache_add_name(cache, buf, NULL);
			if (ret)
				return ret;
			a->n = 1;
			a->unknown = 1;
			continue;
		}
		for (size_t f = 0; f < n; f++) {
			symbol_frame_format(&frames[f], buf, sizeof(buf));
			if (!buf[0])
				snprintf(buf, sizeof(buf), "[unknown]");
			ret = address_cache_add_name(cache, buf, &frames[f]);
			if (ret)
				return ret;
			if (!frames[f].function)
				a->unknown++;
		}
		a->n = (uint32_t)n;
	}
	return 0;
}

static int folded_add(struct profile_folded *folded, const char *text, uint64_t weight,
		      bool truncated)
{
	uint64_t h = profile_hash_string(text);
	size_t s;

	if ((folded->n_lines + 1) * 2 > folded->n_slots) {
		size_t n_slots = folded->n_slots ? folded->n_slots * 2 : 1024;
		uint32_t *slots = calloc(n_slots, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		for (size_t i = 0; i < folded->n_lines; i++) {
			s = profile_hash_string(folded->lines[i].text) & (n_slots - 1);
			while (slots[s])
				s = (s + 1) & (n_slots - 1);
			slots[s] = (uint32_t)i + 1;
		}
		free(folded->slots);
		folded->slots = slots;
		folded->n_slots = n_slots;
	}
	s = h & (folded->n_slots - 1);
	while (folded->slots[s]) {
		struct folded_line *line = &folded->lines[folded->slots[s] - 1];

		if (strcmp(line->text, text) == 0) {
			line->weight += weight;
			line->truncated |= truncated;
			return 0;
		}
		s = (s + 1) & (folded->n_slots - 1);
	}
	if (grow_array((void **)&folded->lines, &folded->cap_lines, folded->n_lines + 1,
		       sizeof(*folded->lines)))
		return -ENOMEM;
	folded->lines[folded->n_lines].text = strdup(text);
	if (!folded->lines[folded->n_lines].text)
		return -ENOMEM;
	folded->lines[folded->n_lines].weight = weight;
	folded->lines[folded->n_lines].truncated = truncated;
	folded->slots[s] = (uint32_t)++folded->n_lines;
	return 0;
}

void profile_folded_free(struct profile_folded *folded)
{
	if (!folded)
		return;
	address_cache_release(&folded->cache);
	free(folded->samples);
	free(folded->sample_addrs);
	for (size_t i = 0; i < folded->n_lines; i++)
		free(folded->lines[i].text);
	free(folded->lines);
	free(folded->slots);
	free(folded);
}

static void thread_frame(const struct profile_output_options *opts, int32_t tid, char *buf,
			 size_t len);
static void process_frame(const struct profile_output_options *opts,
			  const struct process_model *model, char *buf, size_t len);

/* Keeps one weighted address stack (indices into the cache, leaf first). */
static int sample_add(struct profile_folded *folded, const uint32_t *indices, uint32_t n,
		      int32_t tid, const struct process_model *process, uint64_t weight)
{
	if (grow_array((void **)&folded->sample_addrs, &folded->cap_sample_addrs,
		       folded->n_sample_addrs + n, sizeof(*folded->sample_addrs)) ||
	    grow_array((void **)&folded->samples, &folded->cap_samples, folded->n_samples + 1,
		       sizeof(*folded->samples)))
		return -ENOMEM;
	memcpy(folded->sample_addrs + folded->n_sample_addrs, indices, n * sizeof(*indices));
	folded->samples[folded->n_samples++] =
		(struct profile_sample){.first = (uint32_t)folded->n_sample_addrs,
					.n = n,
					.tid = tid,
					.process = process,
					.weight = weight};
	folded->n_sample_addrs += n;
	return 0;
}

const struct profile_sample *profile_folded_samples(const struct profile_folded *folded, size_t *n,
						    const uint32_t **addr_indices)
{
	*n = folded->n_samples;
	*addr_indices = folded->sample_addrs;
	return folded->samples;
}

const struct profile_address *profile_folded_addresses(const struct profile_folded *folded,
						       size_t *n,
						       const struct profile_frame_info **frames)
{
	*n = folded->cache.n_addrs;
	*frames = folded->cache.names;
	return folded->cache.addrs;
}

void profile_thread_frame(const struct profile_output_options *opts, int32_t tid, char *buf,
			  size_t len)
{
	thread_frame(opts, tid, buf, len);
}

void profile_process_frame(const struct profile_output_options *opts,
			   const struct process_model *model, char *buf, size_t len)
{
	process_frame(opts, model, buf, len);
}

const char *profile_folded_line(const struct profile_folded *folded, size_t i, uint64_t *weight)
{
	if (i >= folded->n_lines)
		return NULL;
	*weight = folded->lines[i].weight;
	return folded->lines[i].text;
}

/* Appends s (and a ';' before it unless first) to the growing line. */
static int line_append(char **line, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);

	if (grow_array((void **)line, cap, *len + n + 2, 1))
		return -ENOMEM;
	if (*len)
		(*line)[(*len)++] = ';';
	memcpy(*line + *len, s, n);
	*len += n;
	(*line)[*len] = '\0';
	return 0;
}

static void thread_frame(const struct profile_output_options *opts, int32_t tid, char *buf,
			 size_t len)
{
	const char *name = opts->thread_name ? opts->thread_name(opts->thread_name_ctx, tid) : NULL;

	if (name && *name)
		snprintf(buf, len, "%s-%d", name, tid);
	else
		snprintf(buf, len, "%d", tid);
	/* Thread names are set by the target: keep them from breaking the format. */
	text_sanitize_inplace(buf, TEXT_SANITIZE_FOLDED);
}

/* The process a stack belongs to: its outermost frame is a process root of opts->processes.
 * *depth is then reduced to the frames below the root. */
static const struct process_model *stack_process(const struct profile_output_options *opts,
						 const uint64_t *frames, uint32_t *depth)
{
	const struct process_model *model;

	if (!frames || *depth == 0 || !opts->processes)
		return NULL;
	model = process_table_find_root(opts->processes, frames[*depth - 1]);
	if (model)
		(*depth)--;
	return model;
}

/* "COMMAND [PID]", or "COMMAND" when same-command processes are merged. */
static void process_frame(const struct profile_output_options *opts,
			  const struct process_model *model, char *buf, size_t len)
{
	if (opts->merge_processes)
		snprintf(buf, len, "%s", model->comm);
	else
		snprintf(buf, len, "%s [%d]", model->comm, (int)model->pid);
	/* Process names are set by the target: keep them from breaking the format. */
	text_sanitize_inplace(buf, TEXT_SANITIZE_FOLDED);
}

static double profile_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct profile_folded *profile_output_fold(const struct stack_table *stacks,
					   const struct profile_weight *weights, size_t n,
					   struct symbolizer *sym,
					   const struct profile_output_options *opts,
					   struct profile_output_stats *stats)
{
	struct profile_folded *folded;
	struct address_cache *cache;
	uint32_t *indices = NULL;
	size_t cap_indices = 0, line_cap = 0;
	char *line = NULL;
	double start;
	int ret = -ENOMEM;

	memset(stats, 0, sizeof(*stats));
	folded = calloc(1, sizeof(*folded));
	if (!folded)
		return NULL;
	cache = &folded->cache;

	/* Pass 1: every unique address, then one symbolizer call each. */
	for (size_t i = 0; i < n; i++) {
		uint32_t depth;
		const uint64_t *frames = stack_table_get(stacks, weights[i].stack_id, &depth);
		const struct process_model *model = stack_process(opts, frames, &depth);
		struct symbolizer *stack_sym = model ? model->symbolizer : sym;

		for (uint32_t f = 0; frames && f < depth; f++) {
			if (opts->no_kernel && cpu_profile_is_kernel_address(frames[f]))
				continue;
			if (address_cache_intern(cache, frames[f], stack_sym) < 0)
				goto fail;
		}
	}
	start = profile_now();
	ret = address_cache_resolve(cache, opts->names);
	stats->symbolize_seconds = profile_now() - start;
	if (ret)
		goto fail;
	stats->unique_addresses = cache->n_addrs;
	for (size_t i = 0; i < cache->n_addrs; i++)
		if (cache->addrs[i].unknown)
			stats->unknown_addresses++;

	/* Pass 2: lines root first. */
	for (size_t i = 0; i < n; i++) {
		uint32_t depth, n_idx = 0;
		const uint64_t *frames = stack_table_get(stacks, weights[i].stack_id, &depth);
		const struct process_model *model = stack_process(opts, frames, &depth);
		struct symbolizer *stack_sym = model ? model->symbolizer : sym;
		size_t line_len = 0;
		uint64_t unknown = 0;
		char tbuf[96];

		if (!frames || weights[i].weight == 0)
			continue;
		if (grow_array((void **)&indices, &cap_indices, depth + 1, sizeof(*indices)))
			goto fail;
		for (uint32_t f = 0; f < depth; f++) {
			long idx;

			if (opts->no_kernel && cpu_profile_is_kernel_address(frames[f]))
				continue;
			idx = address_cache_intern(cache, frames[f], stack_sym);
			if (idx < 0)
				goto fail;
			indices[n_idx++] = (uint32_t)idx;
		}
		if (model && opts->process_roots) {
			process_frame(opts, model, tbuf, sizeof(tbuf));
			if (line_append(&line, &line_len, &line_cap, tbuf))
				goto fail;
		}
		if (opts->threads) {
			thread_frame(opts, weights[i].tid, tbuf, sizeof(tbuf));
			if (line_append(&line, &line_len, &line_cap, tbuf))
				goto fail;
		}
		for (uint32_t k = n_idx; k-- > 0;) {
			const struct profile_address *a = &cache->addrs[indices[k]];

			/* Names are innermost first: the containing function comes last. */
			for (uint32_t j = a->n; j-- > 0;)
				if (line_append(&line, &line_len, &line_cap,
						cache->names[a->first + j].name))
					goto fail;
			unknown += a->unknown;
		}
		if (line_len == 0 && line_append(&line, &line_len, &line_cap, "[unknown]"))
			goto fail;
		/* The outermost frame says whether the stack reached its root. */
		if (folded_add(folded, line, weights[i].weight,
			       depth && frame_names_is_truncated(opts->names, frames[depth - 1])))
			goto fail;
		if (sample_add(folded, indices, n_idx, weights[i].tid,
			       model && opts->process_roots ? model : NULL, weights[i].weight))
			goto fail;
		stats->unknown_frames += unknown * weights[i].weight;
		stats->total_weight += (double)weights[i].weight;
	}
	stats->folded_stacks = folded->n_lines;
	free(line);
	free(indices);
	return folded;

fail:
	free(line);
	free(indices);
	profile_folded_free(folded);
	errno = -ret > 0 ? -ret : ENOMEM;
	return NULL;
}

static int folded_line_cmp_text(const void *a, const void *b)
{
	return strcmp((*(const struct folded_line *const *)a)->text,
		      (*(const struct folded_line *const *)b)->text);
}

static int folded_line_cmp_weight(const void *a, const void *b)
{
	const struct folded_line *x = *(const struct folded_line *const *)a;
	const struct folded_line *y = *(const struct folded_line *const *)b;

	if (x->weight != y->weight)
		return x->weight < y->weight ? 1 : -1;
	return strcmp(x->text, y->text);
}

static const struct folded_line **folded_sorted(const struct profile_folded *folded,
						int (*cmp)(const void *, const void *))
{
	const struct folded_line **order = malloc((folded->n_lines + 1) * sizeof(*order));

	if (!order)
		return NULL;
	for (size_t i = 0; i < folded->n_lines; i++)
		order[i] = &folded->lines[i];
	if (folded->n_lines > 1) /* qsort(NULL, 0) is undefined */
		qsort(order, folded->n_lines, sizeof(*order), cmp);
	return order;
}

int profile_folded_write(const struct profile_folded *folded, FILE *fp)
{
	const struct folded_line **order = folded_sorted(folded, folded_line_cmp_text);

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < folded->n_lines; i++)
		fprintf(fp, "%s %" PRIu64 "\n", order[i]->text, order[i]->weight);
	free(order);
	return ferror(fp) ? -EIO : 0;
}

struct folded_profile *profile_folded_to_graph(const struct profile_folded *folded)
{
	struct folded_profile *p = folded_profile_new();
	const char **frames = NULL;
	size_t cap = 0;

	if (!p)
		return NULL;
	for (size_t i = 0; i < folded->n_lines; i++) {
		char *copy = strdup(folded->lines[i].text), *frame, *save = NULL;
		size_t n = 0;
		int ret = 0;

		if (!copy)
			goto fail;
		for (frame = strtok_r(copy, ";", &save); frame;
		     frame = strtok_r(NULL, ";", &save)) {
			if (grow_array((void **)&frames, &cap, n + 1, sizeof(*frames))) {
				ret = -ENOMEM;
				break;
			}
			frames[n++] = frame;
		}
		if (!ret && n)
			ret = folded_profile_add(p, frames, n, (double)folded->lines[i].weight);
		free(copy);
		if (ret)
			goto fail;
	}
	free(frames);
	return p;
fail:
	free(frames);
	folded_profile_free(p);
	errno = ENOMEM;
	return NULL;
}

size_t *profile_folded_by_weight(const struct profile_folded *folded, size_t *n)
{
	const struct folded_line **order = folded_sorted(folded, folded_line_cmp_weight);
	size_t *idx;

	*n = 0;
	if (!order) {
		errno = ENOMEM;
		return NULL;
	}
	idx = malloc((folded->n_lines + 1) * sizeof(*idx));
	if (idx) {
		for (size_t i = 0; i < folded->n_lines; i++)
			idx[i] = (size_t)(order[i] - folded->lines);
		*n = folded->n_lines;
	} else {
		errno = ENOMEM;
	}
	free(order);
	return idx;
}

bool profile_folded_line_truncated(const struct profile_folded *folded, size_t i)
{
	return i < folded->n_lines && folded->lines[i].truncated;
}
