/* leak_report.c: the sites of `smolder leaks` and their verdicts. Sites are (stack, heap|mmap)
 * pairs, with a per-process breakdown for trees; analysis gives each a growth rate and verdict,
 * symbolization names their frames once. The outputs (text, JSON, flame graphs) are in
 * report/leak_outputs.c. */
#include "smolder/leak_report.h"
#include "smolder/alloc_tracker.h"
#include "smolder/frame.h"
#include "smolder/frame_names.h"
#include "smolder/process_table.h"
#include "smolder/stack_table.h"
#include "smolder/symbolizer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SERIES_CAP 240

struct leak_site *leak_report_site(struct leak_report *r, uint32_t stack_id, uint32_t flags)
{
	uint32_t mmap = flags & ALLOC_SITE_MMAP;
	struct leak_site *site;

	/* Linear scan is fine for the hundreds of sites a run has; cmd_leaks caches indexes. */
	for (size_t i = 0; i < r->n_sites; i++) {
		if (r->sites[i].stack_id == stack_id &&
		    (r->sites[i].flags & ALLOC_SITE_MMAP) == mmap)
			return &r->sites[i];
	}
	if (r->n_sites == r->cap_sites) {
		size_t cap = r->cap_sites ? r->cap_sites * 2 : 64;
		struct leak_site *grown = realloc(r->sites, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		r->sites = grown;
		r->cap_sites = cap;
	}
	site = &r->sites[r->n_sites];
	memset(site, 0, sizeof(*site));
	if (growth_series_init(&site->series, SERIES_CAP))
		return NULL;
	site->stack_id = stack_id;
	site->flags = flags;
	r->n_sites++;
	return site;
}

struct leak_site_process *leak_site_process(struct leak_site *site, int pid, uint32_t stack_id)
{
	struct leak_site_process *grown, *p;

	for (size_t i = 0; i < site->n_procs; i++) {
		if (site->procs[i].pid == pid && site->procs[i].stack_id == stack_id)
			return &site->procs[i];
	}
	grown = realloc(site->procs, (site->n_procs + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	site->procs = grown;
	p = &site->procs[site->n_procs];
	memset(p, 0, sizeof(*p));
	if (growth_series_init(&p->series, SERIES_CAP))
		return NULL;
	p->pid = pid;
	p->stack_id = stack_id;
	site->n_procs++;
	return p;
}

static int site_compare(const void *a, const void *b)
{
	const struct leak_site *x = a, *y = b;

	if (x->growth.rate != y->growth.rate)
		return x->growth.rate < y->growth.rate ? 1 : -1;
	if (x->outstanding_bytes != y->outstanding_bytes)
		return x->outstanding_bytes < y->outstanding_bytes ? 1 : -1;
	return x->stack_id < y->stack_id ? -1 : (x->stack_id > y->stack_id);
}

static void site_release(struct leak_site *s)
{
	for (size_t k = 0; k < s->n_frames; k++) {
		free(s->frames[k]);
		free(s->locations[k]);
	}
	free(s->frames);
	free(s->locations);
	for (size_t k = 0; s->source_files && k < s->n_addresses; k++)
		free(s->source_files[k]);
	free(s->addresses);
	free(s->modules);
	free(s->source_files);
	growth_series_release(&s->series);
	for (size_t k = 0; k < s->n_procs; k++)
		growth_series_release(&s->procs[k].series);
	free(s->procs);
}

static int process_compare(const void *a, const void *b)
{
	const struct leak_site_process *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->stack_id < y->stack_id ? -1 : (x->stack_id > y->stack_id);
}

/* Blocks closed by an exec died with the old image: allocated and released, whatever the curve
 * looked like before; never a leak or a plateau once nothing of them is left. (An exit keeps what
 * the process held at its exit: its series ends there and is judged as it was.) */
static void closed_verdict(uint32_t flags, uint64_t outstanding, struct growth_result *g)
{
	if ((flags & ALLOC_SITE_EXEC_CLOSED) && outstanding == 0) {
		g->verdict = GROWTH_CHURN;
		g->rate = 0;
	}
}

/* Drops sites nothing was ever allocated at during the run: the "[stack unavailable]" site exists
 * from the start (created before attach) and frees of untracked memory land there. */
static void drop_empty_sites(struct leak_report *r)
{
	size_t kept = 0;

	for (size_t i = 0; i < r->n_sites; i++) {
		struct leak_site *s = &r->sites[i];

		if (s->alloc_count_last == 0 && s->outstanding_bytes == 0 && s->first_bytes == 0)
			site_release(s);
		else
			r->sites[kept++] = *s;
	}
	r->n_sites = kept;
}

void leak_report_analyse(struct leak_report *r)
{
	/* The transient after attach: a tenth of the run, at least two intervals, at most a
	 * minute. Longer refills are told apart by the plateau test, not by the warmup. */
	double warmup = fmin(fmax(0.1 * r->duration_s, 2 * r->interval_s), 60.0);
	struct growth_params params = {.warmup_s = warmup, .min_growth_bytes = 16384};

	drop_empty_sites(r);
	for (size_t i = 0; i < r->n_sites; i++) {
		struct leak_site *s = &r->sites[i];

		params.turnover_bytes = (double)(s->alloc_bytes_last - s->alloc_bytes_first);
		growth_analyze(&s->series, &params, &s->growth);
		closed_verdict(s->flags, s->outstanding_bytes, &s->growth);
		for (size_t k = 0; k < s->n_procs; k++) {
			struct leak_site_process *p = &s->procs[k];

			params.turnover_bytes =
				(double)(p->alloc_bytes_last - p->alloc_bytes_first);
			growth_analyze(&p->series, &params, &p->growth);
			closed_verdict(p->flags, p->outstanding_bytes, &p->growth);
		}
		if (s->n_procs > 1)
			qsort(s->procs, s->n_procs, sizeof(*s->procs), process_compare);
	}
	params.turnover_bytes = 0;
	params.min_growth_bytes = 1 << 20;
	growth_analyze(&r->rss, &params, &r->rss_growth);
	if (r->n_sites > 1) /* qsort(NULL, 0) is undefined */
		qsort(r->sites, r->n_sites, sizeof(*r->sites), site_compare);
	r->complete = r->stats[SMOLDER_STAT_ALLOC_TABLE_FULL] == 0 &&
		      r->stats[SMOLDER_STAT_SITE_TABLE_FULL] == 0 &&
		      r->stats[SMOLDER_STAT_STACK_TABLE_FULL] == 0 &&
		      r->stats[SMOLDER_STAT_THREAD_TABLE_FULL] == 0 &&
		      r->stats[SMOLDER_STAT_MMAP_TABLE_FULL] == 0;
}

static char *frame_name(const struct symbol_frame *f, char *buf, size_t len)
{
	symbol_frame_format(f, buf, len);
	return strdup(buf);
}

/* Appends a frame (name and location owned by the site from here on). False when out of memory. */
static bool site_push(struct leak_site *s, size_t *cap, char *name, char *location)
{
	if (!name)
		goto fail;
	if (s->n_frames == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		char **a = realloc(s->frames, ncap * sizeof(char *)), **b;

		if (!a)
			goto fail;
		s->frames = a;
		b = realloc(s->locations, ncap * sizeof(char *));
		if (!b)
			goto fail;
		s->locations = b;
		*cap = ncap;
	}
	s->frames[s->n_frames] = name;
	s->locations[s->n_frames] = location;
	s->n_frames++;
	return true;
fail:
	free(name);
	free(location);
	return false;
}

/* Index + 1 of the object holding frame in r->modules, added when new; 0 when none or no memory. */
static uint32_t report_module(struct leak_report *r, struct symbolizer *sym, uint64_t frame)
{
	struct symbol_module_info mi;
	struct leak_module *m;

	if (!sym || symbolizer_module_at(sym, frame, &mi) != 0 || !mi.path)
		return 0;
	for (size_t i = 0; i < r->n_modules; i++)
		if (r->modules[i].start == mi.start && !strcmp(r->modules[i].path, mi.path))
			return (uint32_t)i + 1;
	m = realloc(r->modules, (r->n_modules + 1) * sizeof(*m));
	if (!m)
		return 0;
	r->modules = m;
	m = &r->modules[r->n_modules];
	memset(m, 0, sizeof(*m));
	m->path = strdup(mi.path);
	if (!m->path)
		return 0;
	memcpy(m->build_id, mi.build_id, sizeof(m->build_id));
	m->start = mi.start;
	m->end = mi.end;
	m->offset = mi.file_offset;
	return (uint32_t)++r->n_modules;
}

/* Frames [first, n_frames) of s were named from the lookup address frame, frames[nf - 1] the
 * first of them (pprof keeps the address, its object and full source paths). Best effort:
 * without memory the site simply has no addresses. */
static void site_set_address(struct leak_report *r, struct leak_site *s, size_t first,
			     uint64_t frame, struct symbolizer *sym,
			     const struct symbol_frame *frames, size_t nf)
{
	uint64_t *a = realloc(s->addresses, s->n_frames * sizeof(*a));
	uint32_t *m, module;
	char **files;

	if (!a)
		return;
	s->addresses = a;
	m = realloc(s->modules, s->n_frames * sizeof(*m));
	if (!m)
		return;
	s->modules = m;
	files = realloc(s->source_files, s->n_frames * sizeof(*files));
	if (!files)
		return;
	s->source_files = files;
	module = report_module(r, sym, frame);
	for (size_t k = s->n_addresses; k < s->n_frames; k++) {
		bool mine = k >= first && k - first < nf;
		const char *file = mine ? frames[nf - 1 - (k - first)].file : NULL;

		a[k] = mine ? frame_user_address(frame) : 0;
		m[k] = mine ? module : 0;
		files[k] = file ? strdup(file) : NULL;
	}
	s->n_addresses = s->n_frames;
}

/* The symbolizer of the process a stack is rooted at (its model's), else fallback. */
static struct symbolizer *stack_symbolizer(const struct stack_table *stacks, uint32_t stack_id,
					   struct symbolizer *fallback,
					   const struct process_table *processes)
{
	uint32_t n;
	const uint64_t *ips = stack_table_get(stacks, stack_id, &n);
	const struct process_model *m =
		ips && n && processes ? process_table_find_root(processes, ips[n - 1]) : NULL;

	return m ? m->symbolizer : fallback;
}

/* Resolves every caller frame of the sites symbolized by sym in a child process first: a crash in
 * libdw names one address module+0xOFFSET instead of losing the report
 * (symbolizer_resolve_isolated). */
static void resolve_isolated(const struct leak_report *r, const struct alloc_tracker *tracker,
			     struct symbolizer *sym, struct symbolizer *fallback,
			     const struct process_table *processes)
{
	const struct stack_table *stacks = alloc_tracker_stacks(tracker);
	uint64_t *all = NULL;
	size_t n_all = 0, cap_all = 0;

	for (size_t i = 0; sym && i < r->n_sites; i++) {
		uint32_t n;
		const uint64_t *ips = stack_table_get(stacks, r->sites[i].stack_id, &n);

		if (stack_symbolizer(stacks, r->sites[i].stack_id, fallback, processes) != sym)
			continue;
		for (uint32_t k = 0; ips && k < n; k++) {
			if (frame_is_named(ips[k]) || alloc_tracker_frame_name(tracker, ips[k]))
				continue;
			if (n_all == cap_all) {
				uint64_t *v =
					realloc(all, (cap_all ? cap_all * 2 : 256) * sizeof(*v));

				if (!v)
					break;
				all = v;
				cap_all = cap_all ? cap_all * 2 : 256;
			}
			all[n_all++] = ips[k] - 1;
		}
	}
	if (n_all)
		symbolizer_resolve_isolated(sym, all, n_all);
	free(all);
}

void leak_report_symbolize(struct leak_report *r, const struct alloc_tracker *tracker,
			   struct symbolizer *fallback, const struct process_table *processes)
{
	const struct stack_table *stacks = alloc_tracker_stacks(tracker);
	struct symbolizer **done = calloc(r->n_sites + 1, sizeof(*done));
	size_t n_done = 0;
	char buf[512];

	/* Once per distinct symbolizer (one per process model of the tree). */
	for (size_t i = 0; done && i < r->n_sites; i++) {
		struct symbolizer *sym =
			stack_symbolizer(stacks, r->sites[i].stack_id, fallback, processes);
		size_t k = 0;

		while (k < n_done && done[k] != sym)
			k++;
		if (k < n_done || !sym)
			continue;
		done[n_done++] = sym;
		resolve_isolated(r, tracker, sym, fallback, processes);
	}
	free(done);
	for (size_t i = 0; i < r->n_sites; i++) {
		struct leak_site *s = &r->sites[i];
		uint32_t n;
		const uint64_t *ips = stack_table_get(stacks, s->stack_id, &n);
		struct symbolizer *sym = stack_symbolizer(stacks, s->stack_id, fallback, processes);
		size_t cap = 0, first;

		if (!ips || n == 0) {
			s->frames = calloc(1, sizeof(char *));
			s->locations = calloc(1, sizeof(char *));
			if (s->frames && s->locations) {
				s->frames[0] = strdup("[stack unavailable]");
				s->n_frames = 1;
			}
			continue;
		}
		/* Outermost first. A caller frame's return address - 1 lies in the call; the
		 * allocator pseudo frame (the leaf of heap sites) is named by the tracker. */
		for (uint32_t k = n; k-- > 0;) {
			const char *allocator = alloc_tracker_frame_name(tracker, ips[k]);
			const struct symbol_frame *frames;
			size_t nf;

			if (allocator) {
				if (!site_push(s, &cap, strdup(allocator), NULL))
					return;
				continue;
			}
			/* The process root: the site's command and members say it. */
			if (frame_kind(ips[k]) == FRAME_KIND_PROCESS)
				continue;
			if (frame_is_named(ips[k])) {
				/* Python functions and markers, written as everywhere else:
				 * "qualname (file.py:LINE)", the location inside the name. */
				const struct frame_names *names =
					alloc_tracker_frame_names(tracker);

				if (!names ||
				    frame_names_format(names, ips[k], buf, sizeof(buf)) == 0)
					snprintf(buf, sizeof(buf), "[unknown]");
				if (!site_push(s, &cap, strdup(buf), NULL))
					return;
				continue;
			}
			nf = sym ? symbolizer_resolve(sym, ips[k] - 1, &frames) : 0;
			if (nf == 0) {
				/* No symbolizer: the address, never a silently missing frame. */
				snprintf(buf, sizeof(buf), "0x%llx",
					 (unsigned long long)frame_user_address(ips[k] - 1));
				s->unknown_frames++;
				if (!site_push(s, &cap, strdup(buf), NULL))
					return;
				continue;
			}
			/* A frame in no known object (code mapped after the last look at the maps,
			 * or not code at all) is counted: such a stack is not shown as complete. */
			if (!frames[nf - 1].function && !frames[nf - 1].module)
				s->unknown_frames++;
			first = s->n_frames;
			for (size_t j = nf; j-- > 0;) {
				char *name = frame_name(&frames[j], buf, sizeof(buf)),
				     *location = NULL;

				/* A JIT frame's name holds its location ("fn (file.js:LINE)", as
				 * symbol_frame_format writes it everywhere): a second one would
				 * print it twice, as for Python's named frames. */
				if (frames[j].file && !(frames[j].flags & SYMBOL_FRAME_JIT)) {
					const char *base = strrchr(frames[j].file, '/');

					snprintf(buf, sizeof(buf), "%s:%u",
						 base ? base + 1 : frames[j].file, frames[j].line);
					location = strdup(buf);
				}
				if (!site_push(s, &cap, name, location))
					return;
			}
			site_set_address(r, s, first, ips[k] - 1, sym, frames, nf);
		}
	}
}

void leak_report_release(struct leak_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_sites; i++)
		site_release(&r->sites[i]);
	free(r->sites);
	r->sites = NULL;
	r->n_sites = r->cap_sites = 0;
	for (size_t i = 0; i < r->n_modules; i++)
		free(r->modules[i].path);
	free(r->modules);
	r->modules = NULL;
	r->n_modules = 0;
	growth_series_release(&r->rss);
	growth_series_release(&r->anon);
}
