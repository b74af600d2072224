/* profile_json.c: the profile JSON report of `smolder profile` (see profile_json.h): function
 * shares from the folded on-CPU stacks, memory totals and sites, per-operation figures, the
 * timeline, and findings (the hottest function, leaking sites, RSS growth). */
#include "smolder/profile_json.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "flamegraph.h"
#include "smolder/json_writer.h"
#include "smolder/leak_report.h"
#include "smolder/load_command.h"
#include "smolder/offcpu_collector.h"
#include "smolder/profile_output.h"
#include "smolder/session.h"
#include "smolder/timeline.h"
#include "smolder/u64_map.h"

#define PROFILE_TOP_FUNCS 50

struct func_share {
	char *name;
	uint64_t self, total, last_line;
};

struct func_table {
	struct func_share *items;
	size_t n, cap;
	struct u64_map index; /* name hash -> index (collisions fall back to a scan) */
};

static uint64_t name_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

static struct func_share *func_get(struct func_table *t, const char *name, size_t len)
{
	uint64_t h = name_hash(name, len), idx;

	if (u64_map_get(&t->index, h, &idx) && strlen(t->items[idx].name) == len &&
	    memcmp(t->items[idx].name, name, len) == 0)
		return &t->items[idx];
	for (size_t i = 0; i < t->n; i++) /* hash collision: rare */
		if (strlen(t->items[i].name) == len && memcmp(t->items[i].name, name, len) == 0)
			return &t->items[i];
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct func_share *grown = realloc(t->items, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		t->items = grown;
		t->cap = cap;
	}
	t->items[t->n] = (struct func_share){.name = strndup(name, len), .last_line = UINT64_MAX};
	if (!t->items[t->n].name || u64_map_put(&t->index, h, t->n))
		return NULL;
	return &t->items[t->n++];
}

static int func_cmp(const void *a, const void *b)
{
	const struct func_share *x = a, *y = b;

	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return x->self < y->self ? 1 : x->self > y->self ? -1 : 0;
}

/* Self and total weight per function over the folded lines: total once per stack holding it,
 * self as the leaf. 0 or -ENOMEM. */
static int func_table_fill(struct func_table *t, const struct profile_folded *folded, uint64_t *sum)
{
	const char *line;
	uint64_t w;

	*sum = 0;
	for (size_t i = 0; (line = profile_folded_line(folded, i, &w)); i++) {
		const char *p = line;

		*sum += w;
		while (*p) {
			const char *end = strchr(p, ';');
			size_t len = end ? (size_t)(end - p) : strlen(p);
			struct func_share *f = func_get(t, p, len);

			if (!f)
				return -ENOMEM;
			if (f->last_line != i) {
				f->total += w;
				f->last_line = i;
			}
			if (!end)
				f->self += w;
			p = end ? end + 1 : p + len;
		}
	}
	qsort(t->items, t->n, sizeof(*t->items), func_cmp);
	return 0;
}

static void func_table_release(struct func_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->items[i].name);
	free(t->items);
	u64_map_release(&t->index);
}

static bool is_marker(const char *name)
{
	return name[0] == '[' || strcmp(name, "_start") == 0 || strcmp(name, "main") == 0 ||
	       strcmp(name, "__libc_start_main") == 0 ||
	       strcmp(name, "__libc_start_call_main") == 0 || strcmp(name, "start_thread") == 0 ||
	       strcmp(name, "clone3") == 0 || strstr(name, "_[k]") != NULL;
}

/* A native object from the system's library directories or named lib*.so: glibc, libstdc++, ...
 * Findings name the program's own function that called into one, not the library's internals. */
static bool is_system_library(const char *path)
{
	static const char *const dirs[] = {"/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/",
					   "/usr/libexec/"};
	const char *base;

	if (!path)
		return false;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!strncmp(path, dirs[i], strlen(dirs[i])))
			return true;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return !strncmp(base, "lib", 3) && strstr(base, ".so") != NULL;
}

/* Index of the frame that names a memory site: the deepest frame of the program's own objects
 * (not the allocator, not a system library), a Python frame if the stack holds one; else the
 * allocator's caller. */
static bool is_allocator_wrapper(const char *name)
{
	static const char *const prefixes[] = {"mmap",	  "__mmap",	 "malloc",  "calloc",
					       "realloc", "_int_",	 "__libc_", "sysmalloc",
					       "tcache",  "operator new"};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

static size_t site_function(const struct leak_report *r, const struct leak_site *site)
{
	size_t fallback = site->n_frames >= 2 ? site->n_frames - 2 : 0;

	/* Without a frame of the program's own: the first caller outside the allocator. */
	while (fallback > 0 && is_allocator_wrapper(site->frames[fallback]))
		fallback--;

	for (size_t k = site->n_frames; k-- > 0;)
		if (flamegraph_frame_is_python(site->frames[k], strlen(site->frames[k])))
			return k;
	for (size_t k = site->n_frames >= 1 ? site->n_frames - 1 : 0; k-- > 0;) {
		uint32_t m = k < site->n_addresses && site->modules ? site->modules[k] : 0;

		if (m && m <= r->n_modules && !is_system_library(r->modules[m - 1].path))
			return k;
	}
	return fallback;
}

/* The frame responsible for one sample: the deepest interpreted (Python) frame if the stack has
 * one (the interpreter's own frames under it are not the user's code), else the deepest named
 * frame of a non-library native object, else NULL. */
static const struct profile_frame_info *sample_responsible(const struct profile_sample *smp,
							   const uint32_t *idx,
							   const struct profile_address *addrs,
							   const struct profile_frame_info *frames)
{
	const struct profile_frame_info *native = NULL;

	for (uint32_t j = 0; j < smp->n; j++) {
		const struct profile_address *a = &addrs[idx[smp->first + j]];

		for (uint32_t f = a->first; f < a->first + a->n; f++) {
			const struct profile_frame_info *fi = &frames[f];

			if (!fi->name || fi->name[0] == '[')
				continue;
			if (flamegraph_frame_is_python(fi->name, strlen(fi->name)))
				return fi;
			/* Named only: "module+0x1f" tells the reader nothing. */
			if (!native && !a->kernel && a->module_path && fi->function &&
			    !is_system_library(a->module_path))
				native = fi;
		}
	}
	return native;
}

/* True for a sample taken inside smolder's own uprobes (allocation tracking, --ops-probe): the
 * breakpoint trap, the uprobe and uretprobe paths. Their cost is the observer's, not the
 * program's: findings report it apart. */
static bool sample_in_probe(const struct profile_sample *smp, const uint32_t *idx,
			    const struct profile_address *addrs,
			    const struct profile_frame_info *frames)
{
	static const char *const probe_frames[] = {"asm_exc_int3", "uprobe_notify_resume",
						   "handle_swbp", "__do_sys_uretprobe",
						   "uretprobe_"};

	for (uint32_t j = 0; j < smp->n; j++) {
		const struct profile_address *a = &addrs[idx[smp->first + j]];

		if (!a->kernel)
			break; /* kernel frames come first (leaf first) */
		for (uint32_t f = a->first; f < a->first + a->n; f++)
			for (size_t k = 0;
			     frames[f].name && k < sizeof(probe_frames) / sizeof(probe_frames[0]);
			     k++)
				if (!strncmp(frames[f].name, probe_frames[k],
					     strlen(probe_frames[k])))
					return true;
	}
	return false;
}

/* CPU weight by responsible function (self = weight), and by function and source line
 * ("NAME\x1fFILE:LINE"); samples in smolder's probes go to *probe_weight instead. 0 or -ENOMEM. */
static int responsible_fill(struct func_table *by_func, struct func_table *by_line,
			    const struct profile_folded *folded, uint64_t *probe_weight)
{
	const struct profile_address *addrs;
	const struct profile_frame_info *frames;
	const uint32_t *idx;
	size_t n_samples, n_addrs;
	const struct profile_sample *smp = profile_folded_samples(folded, &n_samples, &idx);
	char key[1024];

	addrs = profile_folded_addresses(folded, &n_addrs, &frames);
	for (size_t i = 0; i < n_samples; i++) {
		const struct profile_frame_info *fi;
		struct func_share *f;
		int n;

		if (sample_in_probe(&smp[i], idx, addrs, frames)) {
			*probe_weight += smp[i].weight;
			continue;
		}
		fi = sample_responsible(&smp[i], idx, addrs, frames);
		if (!fi)
			continue;
		f = func_get(by_func, fi->name, strlen(fi->name));
		if (!f)
			return -ENOMEM;
		f->self += smp[i].weight;
		if (!fi->file || !fi->line)
			continue;
		n = snprintf(key, sizeof(key), "%s\x1f%s:%u", fi->name,
			     strrchr(fi->file, '/') ? strrchr(fi->file, '/') + 1 : fi->file,
			     fi->line);
		if (n <= 0 || (size_t)n >= sizeof(key))
			continue;
		f = func_get(by_line, key, (size_t)n);
		if (!f)
			return -ENOMEM;
		f->self += smp[i].weight;
	}
	return 0;
}

struct finding {
	const char *kind;
	char text[512];
	double impact; /* 0..1, the order of the list */
};

static int finding_cmp(const void *a, const void *b)
{
	const struct finding *x = a, *y = b;

	return x->impact < y->impact ? 1 : x->impact > y->impact ? -1 : 0;
}

/* The hottest function the program is responsible for: "61% of CPU in handle_sort
 * (demo_server.c:84)"; samples in libraries and the kernel count for the program's function that
 * called them. Falls back to the function with the most self time that is no marker. */
static void cpu_finding(struct finding *out, size_t *n, const struct func_table *ft, uint64_t sum,
			const struct profile_folded *folded)
{
	struct func_table by_func = {0}, by_line = {0};
	const struct func_share *hot = NULL, *line = NULL;
	uint64_t probe = 0, all = sum;

	if (!sum)
		return;
	if (responsible_fill(&by_func, &by_line, folded, &probe) == 0) {
		for (size_t i = 0; i < by_func.n; i++)
			if (!hot || by_func.items[i].self > hot->self)
				hot = &by_func.items[i];
	}
	/* The observer's share, said apart so that it is not read as the program's cost. */
	if ((double)probe / (double)sum >= 0.05) {
		out[*n].kind = "cpu";
		out[*n].impact = (double)probe / (double)sum;
		snprintf(out[*n].text, sizeof(out[*n].text),
			 "%.0f%% of the target's CPU samples were in smolder's own uprobes "
			 "(allocation tracking, --ops-probe): the other shares count the "
			 "rest",
			 100.0 * out[*n].impact);
		(*n)++;
		sum -= probe;
	}
	if (hot && sum && (double)hot->self / (double)sum >= 0.05) {
		size_t len = strlen(hot->name);

		for (size_t i = 0; i < by_line.n; i++)
			if (!strncmp(by_line.items[i].name, hot->name, len) &&
			    by_line.items[i].name[len] == '\x1f' &&
			    (!line || by_line.items[i].self > line->self))
				line = &by_line.items[i];
		out[*n].kind = "cpu";
		out[*n].impact = (double)hot->self / (double)sum;
		/* An inlined function is named as written (its _[i] suffix is the folded format's).
		 */
		int shown =
			len > 4 && !strcmp(hot->name + len - 4, "_[i]") ? (int)len - 4 : (int)len;

		if (line)
			snprintf(out[*n].text, sizeof(out[*n].text), "%.0f%% of CPU in %.*s (%s)",
				 100.0 * out[*n].impact, shown, hot->name, line->name + len + 1);
		else
			snprintf(out[*n].text, sizeof(out[*n].text), "%.0f%% of CPU in %.*s",
				 100.0 * out[*n].impact, shown, hot->name);
		(*n)++;
	} else {
		/* No frame of the program's own objects: the function with the most self time. */
		const struct func_share *self = NULL;

		for (size_t i = 0; i < ft->n; i++)
			if (!is_marker(ft->items[i].name) &&
			    (!self || ft->items[i].self > self->self))
				self = &ft->items[i];
		/* ft's shares count every sample, the probes' too: over all of them. Nothing is
		 * said when every sample was in the probes (sum is 0 then). */
		if (self && sum && (double)self->total / (double)all >= 0.05) {
			out[*n].kind = "cpu";
			out[*n].impact = (double)self->total / (double)all;
			snprintf(out[*n].text, sizeof(out[*n].text),
				 "%.0f%% of CPU in %s (%.0f%% in itself)",
				 100.0 * (double)self->total / (double)all, self->name,
				 100.0 * (double)self->self / (double)all);
			(*n)++;
		}
	}
	func_table_release(&by_func);
	func_table_release(&by_line);
}

/* Findings, ranked by impact: the hottest function (its CPU share), leaking sites (their growth
 * over the final RSS, at least 0.3: a leak is worth reading about), RSS growth (over the final
 * RSS). */
static void write_findings(struct json_writer *w, const struct func_table *ft, uint64_t sum,
			   const struct timeline *tl, const struct profile_figures *fig,
			   double duration, const struct profile_folded *folded)
{
	struct finding found[8];
	size_t n = 0;
	char a[64], b[64];
	double rss_end = tl->n_points ? (double)tl->points[tl->n_points - 1].rss_bytes : 0;

	cpu_finding(found, &n, ft, sum, folded);
	for (size_t i = 0; fig->mem && i < fig->mem->n_sites && i < 3; i++) {
		const struct leak_site *site = &fig->mem->sites[i];
		size_t k = site_function(fig->mem, site);
		/* The tracker sees allocations made since it attached: all of them are the run's.
		 */
		double grown = (double)site->outstanding_bytes;
		char where[300] = "";

		if (site->growth.verdict != GROWTH_LEAK)
			continue;
		if (k < site->n_frames && site->locations && site->locations[k])
			snprintf(where, sizeof(where), " (%s)", site->locations[k]);
		growth_format_rate(site->growth.rate, a, sizeof(a));
		found[n].kind = "memory";
		found[n].impact = fmax(0.3, rss_end > 0 ? fmin(grown / rss_end, 1) : 0.3);
		if (!isnan(fig->ops) && fig->ops > 0)
			snprintf(found[n].text, sizeof(found[n].text),
				 "%s%s leaks %s per operation (%s)",
				 k < site->n_frames ? site->frames[k] : "?", where,
				 growth_format_bytes((double)site->outstanding_bytes / fig->ops, b,
						     sizeof(b)),
				 a);
		else
			snprintf(found[n].text, sizeof(found[n].text), "%s%s leaks %s",
				 k < site->n_frames ? site->frames[k] : "?", where, a);
		n++;
	}
	if (tl->n_points >= 2 && duration > 0) {
		double grew = timeline_rss_growth(tl);

		if (grew > 1024 * 1024) {
			found[n].kind = "rss";
			found[n].impact = rss_end > 0 ? fmin(grew / rss_end, 1) : 0;
			snprintf(found[n].text, sizeof(found[n].text),
				 "RSS grew %s in %.0f s (%s/min)",
				 growth_format_bytes(grew, a, sizeof(a)), duration,
				 growth_format_bytes(grew / duration * 60, b, sizeof(b)));
			n++;
		}
	}
	if (fig->off_cpu && fig->off_cpu->finding[0] && n < sizeof(found) / sizeof(found[0])) {
		found[n].kind = "off_cpu";
		found[n].impact = fig->off_cpu->finding_share;
		snprintf(found[n].text, sizeof(found[n].text), "%s", fig->off_cpu->finding);
		n++;
	}
	qsort(found, n, sizeof(found[0]), finding_cmp);
	json_key(w, "findings");
	json_array_begin(w);
	for (size_t i = 0; i < n; i++) {
		json_object_begin(w);
		json_key(w, "kind");
		json_string(w, found[i].kind);
		json_key(w, "text");
		json_string(w, found[i].text);
		json_key(w, "impact");
		json_double(w, round(found[i].impact * 1000) / 1000);
		json_object_end(w);
	}
	json_array_end(w);
}

/* "off_cpu": exact seconds per state and per thread (from the BPF totals), and function shares
 * of the time-weighted stacks (blocks >= min_block_us kept, shorter ones sampled). */
static int write_off_cpu(struct json_writer *w, const struct offcpu_report *r)
{
	struct func_table ft = {0};
	uint64_t sum = 0;
	int err = r->folded ? func_table_fill(&ft, r->folded, &sum) : 0;

	if (err) {
		func_table_release(&ft);
		return err;
	}
	json_key(w, "off_cpu");
	json_object_begin(w);
	json_key(w, "seconds");
	json_double(w, r->seconds);
	json_key(w, "by_state");
	json_object_begin(w);
	for (uint32_t st = 0; st < SMOLDER_OFFCPU_STATE_COUNT; st++) {
		json_key(w, offcpu_state_name(st));
		json_double(w, r->state_seconds[st]);
	}
	json_object_end(w);
	json_key(w, "still_blocked_s");
	json_double(w, r->still_blocked_s);
	json_key(w, "blocks");
	json_uint(w, r->blocks);
	json_key(w, "stacks_min_block_us");
	json_double(w, (double)r->min_block_ns / 1e3);
	json_key(w, "records");
	json_uint(w, r->records);
	if (r->bpf_runs && r->bpf_run_ns) {
		/* Only with kernel.bpf_stats_enabled=1: what the programs cost, in the kernel. */
		json_key(w, "bpf_run_ns");
		json_uint(w, r->bpf_run_ns);
		json_key(w, "bpf_runs");
		json_uint(w, r->bpf_runs);
	}
	json_key(w, "threads");
	json_array_begin(w);
	for (size_t i = 0; i < r->n_threads && i < 100; i++) {
		const struct offcpu_thread_total *t = &r->threads[i];
		double total = 0;

		for (uint32_t st = 0; st < SMOLDER_OFFCPU_STATE_COUNT; st++)
			total += t->seconds[st];
		json_object_begin(w);
		json_key(w, "tid");
		json_int(w, t->tid);
		json_key(w, "name");
		json_string(w, t->name);
		json_key(w, "seconds");
		json_double(w, total);
		json_key(w, "by_state");
		json_object_begin(w);
		for (uint32_t st = 0; st < SMOLDER_OFFCPU_STATE_COUNT; st++) {
			json_key(w, offcpu_state_name(st));
			json_double(w, t->seconds[st]);
		}
		json_object_end(w);
		json_object_end(w);
	}
	json_array_end(w);
	json_key(w, "functions");
	json_array_begin(w);
	for (size_t i = 0; sum && i < ft.n && i < PROFILE_TOP_FUNCS; i++) {
		json_object_begin(w);
		json_key(w, "name");
		json_string(w, ft.items[i].name);
		json_key(w, "self");
		json_double(w, (double)ft.items[i].self / (double)sum);
		json_key(w, "total");
		json_double(w, (double)ft.items[i].total / (double)sum);
		json_key(w, "seconds");
		json_double(w, (double)ft.items[i].total / 1e6);
		json_object_end(w);
	}
	json_array_end(w);
	json_object_end(w);
	func_table_release(&ft);
	return 0;
}

static void write_timeline(struct json_writer *w, const struct timeline *tl)
{
	json_key(w, "timeline");
	json_array_begin(w);
	for (size_t i = 0; i < tl->n_points; i++) {
		const struct timeline_point *p = &tl->points[i];

		json_object_begin(w);
		json_key(w, "t");
		json_double(w, p->t);
		json_key(w, "cpu_user_pct");
		json_double(w, p->cpu_user_pct);
		json_key(w, "cpu_sys_pct");
		json_double(w, p->cpu_sys_pct);
		json_key(w, "rss_bytes");
		json_uint(w, p->rss_bytes);
		json_key(w, "rss_anon_bytes");
		json_uint(w, p->anon_bytes);
		json_key(w, "rss_file_bytes");
		json_uint(w, p->file_bytes);
		json_key(w, "heap_bytes");
		json_uint(w, p->heap_bytes);
		json_key(w, "threads");
		json_uint(w, p->threads);
		json_key(w, "fds");
		json_uint(w, p->fds);
		json_key(w, "read_bytes");
		json_uint(w, p->read_bytes);
		json_key(w, "write_bytes");
		json_uint(w, p->write_bytes);
		json_key(w, "net_rx_bytes");
		json_uint(w, p->net_rx_bytes);
		json_key(w, "net_tx_bytes");
		json_uint(w, p->net_tx_bytes);
		json_key(w, "ctx_voluntary");
		json_uint(w, p->ctx_voluntary);
		json_key(w, "ctx_involuntary");
		json_uint(w, p->ctx_involuntary);
		json_key(w, "minor_faults");
		json_uint(w, p->minor_faults);
		json_key(w, "major_faults");
		json_uint(w, p->major_faults);
		json_key(w, "host_cpu_pct");
		json_double(w, p->host_cpu_pct);
		json_key(w, "mem_available_bytes");
		json_uint(w, p->mem_available);
		json_object_end(w);
	}
	json_array_end(w);
}

/* The span per-operation CPU and RSS figures are measured over. */
struct profile_per_op {
	const char *window; /* "load": the load command's run; "run": the whole run */
	double window_s, cpu_s, rss_growth;
	uint64_t allocs; /* allocations made in the window */
};

/* The load window when the load command ran and the target could be read at both ends; else
 * the run (its CPU accounting, the timeline's RSS growth). */
static void profile_per_op_window(const struct profile_json_input *in, uint64_t run_allocs,
				  struct profile_per_op *po)
{
	const struct load_command *lc = in->load;

	po->window = "run";
	po->window_s = in->session->duration_s;
	po->cpu_s = in->fig->cpu_s;
	po->rss_growth = timeline_rss_growth(in->timeline);
	po->allocs = run_allocs;
	if (!lc || !lc->started || !isfinite(lc->at_start.cpu_s) || !isfinite(lc->at_end.cpu_s) ||
	    !lc->at_start.rss_valid || !lc->at_end.rss_valid)
		return;
	po->window = "load";
	po->window_s = (lc->done ? lc->end_s : in->session->duration_s) - lc->start_s;
	po->cpu_s = lc->at_end.cpu_s - lc->at_start.cpu_s;
	po->rss_growth = (double)lc->at_end.rss_bytes - (double)lc->at_start.rss_bytes;
	if (!load_command_count(lc, LOAD_COUNT_ALLOCS, &po->allocs))
		po->allocs = run_allocs;
}

int profile_json_write(FILE *fp, const struct profile_json_input *in)
{
	const struct session *s = in->session;
	const struct timeline *tl = in->timeline;
	const struct load_command *lc = in->load;
	const struct profile_figures *fig = in->fig;
	struct func_table ft = {0};
	struct json_writer w;
	uint64_t sum = 0, leaked = 0, allocs = 0, outstanding = 0, heap = 0;
	struct profile_per_op po;
	struct rusage self;
	int err = func_table_fill(&ft, in->folded, &sum);

	if (err) {
		func_table_release(&ft);
		return err;
	}
	if (fig->mem) {
		for (size_t i = 0; i < fig->mem->n_sites; i++) {
			const struct leak_site *site = &fig->mem->sites[i];

			outstanding += site->outstanding_bytes;
			allocs += site->alloc_count_last;
			/* The tracker sees only allocations made since it attached, so what is
			 * outstanding at the end was allocated during the run and not freed.
			 * Leaked: that, at sites judged `leak` (a cache that levelled off is not a
			 * leak). */
			if (!(site->flags & ALLOC_SITE_MMAP))
				heap += site->outstanding_bytes;
			if (site->growth.verdict == GROWTH_LEAK)
				leaked += site->outstanding_bytes;
		}
	}
	profile_per_op_window(in, allocs, &po);
	json_writer_init(&w, fp, true);
	json_object_begin(&w);
	json_key(&w, "pid");
	json_int(&w, s->pid);
	json_key(&w, "command");
	json_string(&w, s->comm);
	json_key(&w, "duration_s");
	json_double(&w, s->duration_s);
	json_key(&w, "interval_s");
	json_double(&w, (double)s->opts.interval_ns / 1e9);
	json_key(&w, "frequency_hz");
	json_int(&w, fig->frequency_hz);
	json_key(&w, "stop_reason");
	json_string(&w, s->stop_requested ? s->stop_requested : run_control_reason_name(s->stop));
	if (lc) {
		json_key(&w, "load");
		json_object_begin(&w);
		json_key(&w, "command");
		json_string(&w, lc->command);
		json_key(&w, "exit_status");
		if (lc->done && lc->started) /* a command held for $PORT never ran */
			json_int(&w, lc->status);
		else
			json_null(&w);
		json_key(&w, "start_s");
		json_double(&w, lc->start_s);
		json_key(&w, "end_s");
		json_double(&w, lc->done ? lc->end_s : s->duration_s);
		json_key(&w, "port");
		if (lc->port)
			json_uint(&w, lc->port);
		else
			json_null(&w);
		json_key(&w, "output_tail");
		json_string(&w, lc->tail);
		json_object_end(&w);
	}
	json_key(&w, "ops");
	if (isnan(fig->ops))
		json_null(&w);
	else
		json_double(&w, fig->ops);
	json_key(&w, "ops_source");
	if (fig->ops_source)
		json_string(&w, fig->ops_source);
	else
		json_null(&w);
	if (!isnan(fig->ops) && fig->ops > 0) {
		json_key(&w, "per_op");
		json_object_begin(&w);
		/* CPU, RSS and allocations over the load window when there is one (what the load
		 * tool's count covers); leaks over the run (the tracker's whole series). */
		json_key(&w, "window");
		json_string(&w, po.window);
		json_key(&w, "window_s");
		json_double(&w, po.window_s);
		json_key(&w, "cpu_s");
		json_double(&w, po.cpu_s / fig->ops);
		if (fig->mem) {
			json_key(&w, "allocations");
			json_double(&w, (double)po.allocs / fig->ops);
			json_key(&w, "leaked_bytes");
			json_double(&w, (double)leaked / fig->ops);
			json_key(&w, "leaked_bytes_per_100_ops");
			json_double(&w, (double)leaked / fig->ops * 100);
			json_key(&w, "heap_growth_bytes");
			json_double(&w, (double)heap / fig->ops);
		}
		json_key(&w, "rss_growth_bytes");
		json_double(&w, po.rss_growth / fig->ops);
		json_object_end(&w);
	}
	json_key(&w, "cpu");
	json_object_begin(&w);
	json_key(&w, "samples");
	json_uint(&w, fig->samples);
	json_key(&w, "cpu_s");
	json_double(&w, fig->cpu_s);
	/* true: the kernel's accounting of the target (no counting noise); false: samples / rate.
	 */
	json_key(&w, "cpu_s_measured");
	json_bool(&w, fig->cpu_measured);
	json_key(&w, "functions");
	json_array_begin(&w);
	for (size_t i = 0; sum && i < ft.n && i < PROFILE_TOP_FUNCS; i++) {
		json_object_begin(&w);
		json_key(&w, "name");
		json_string(&w, ft.items[i].name);
		json_key(&w, "self");
		json_double(&w, (double)ft.items[i].self / (double)sum);
		json_key(&w, "total");
		json_double(&w, (double)ft.items[i].total / (double)sum);
		json_object_end(&w);
	}
	json_array_end(&w);
	json_object_end(&w);
	if (fig->off_cpu) {
		err = write_off_cpu(&w, fig->off_cpu);
		if (err) {
			func_table_release(&ft);
			return err;
		}
	}
	if (fig->mem) {
		json_key(&w, "memory");
		json_object_begin(&w);
		json_key(&w, "totals");
		json_object_begin(&w);
		json_key(&w, "outstanding_bytes");
		json_uint(&w, outstanding);
		json_key(&w, "tracked_allocs");
		json_uint(&w, fig->mem->stats[SMOLDER_STAT_ALLOCS]);
		json_key(&w, "leaked_bytes");
		json_uint(&w, leaked);
		json_object_end(&w);
		json_key(&w, "sites");
		json_array_begin(&w);
		for (size_t i = 0; i < fig->mem->n_sites && i < 100; i++) {
			const struct leak_site *site = &fig->mem->sites[i];

			json_object_begin(&w);
			json_key(&w, "stack");
			json_array_begin(&w);
			/* Process trees: the site adds up its command's processes (leak_report.h).
			 */
			if (fig->mem->n_processes > 1)
				json_string(&w, site->command);
			for (size_t k = 0; k < site->n_frames; k++)
				json_string(&w, site->frames[k]);
			json_array_end(&w);
			size_t fn = site_function(fig->mem, site);

			json_key(&w, "locations");
			json_array_begin(&w);
			if (fig->mem->n_processes > 1)
				json_string(&w, NULL); /* the command */
			for (size_t k = 0; k < site->n_frames; k++)
				json_string(&w, site->locations ? site->locations[k] : NULL);
			json_array_end(&w);
			/* The frame the HTML report and the findings name the site by. */
			json_key(&w, "function");
			json_string(&w, fn < site->n_frames ? site->frames[fn] : NULL);
			json_key(&w, "location");
			json_string(&w, fn < site->n_frames && site->locations ? site->locations[fn]
									       : NULL);
			if (fig->mem->n_processes > 1) {
				json_key(&w, "command");
				json_string(&w, site->command);
				json_key(&w, "processes");
				leak_report_json_site_processes(&w, site);
			}
			json_key(&w, "outstanding_bytes");
			json_uint(&w, site->outstanding_bytes);
			json_key(&w, "allocations");
			json_uint(&w, site->alloc_count_last);
			json_key(&w, "growth_bytes");
			json_uint(&w, site->outstanding_bytes > site->first_bytes
					      ? site->outstanding_bytes - site->first_bytes
					      : 0);
			json_key(&w, "growth_bytes_per_s");
			json_double(&w, site->growth.rate);
			json_key(&w, "verdict");
			json_string(&w, growth_verdict_name(site->growth.verdict));
			json_key(&w, "confidence");
			json_double(&w, site->growth.confidence);
			json_key(&w, "series"); /* outstanding bytes, bounded by the leak series */
			json_array_begin(&w);
			for (size_t k = 0; k < site->series.n; k++) {
				json_object_begin(&w);
				json_key(&w, "t");
				json_double(&w, round(site->series.points[k].t * 1000) / 1000);
				json_key(&w, "bytes");
				json_uint(&w, (uint64_t)llround(site->series.points[k].v));
				json_object_end(&w);
			}
			json_array_end(&w);
			json_object_end(&w);
		}
		json_array_end(&w);
		json_object_end(&w);
	}
	write_timeline(&w, tl);
	write_findings(&w, &ft, sum, tl, fig, s->duration_s, in->folded);
	json_key(&w, "dropped");
	json_object_begin(&w);
	json_key(&w, "cpu_samples");
	json_uint(&w, fig->lost);
	if (fig->ops_probe) {
		json_key(&w, "ops_probe_calls");
		json_uint(&w, fig->ops_probe_dropped);
	}
	if (fig->off_cpu) {
		/* Records lost lose a stack, not time: the per-state seconds count every block. */
		json_key(&w, "off_cpu_records");
		json_uint(&w, fig->off_cpu->records_lost);
		json_key(&w, "off_cpu_no_user_stack");
		json_uint(&w, fig->off_cpu->no_user_stack);
		json_key(&w, "off_cpu_unmeasured_blocks");
		json_uint(&w, fig->off_cpu->no_switch_out + fig->off_cpu->threads_full);
		json_key(&w, "off_cpu_kernel_stacks");
		json_uint(&w, fig->off_cpu->kstack_failed);
	}
	if (fig->mem) {
		json_key(&w, "allocations");
		json_uint(&w, fig->mem->stats[SMOLDER_STAT_ALLOC_TABLE_FULL] +
				      fig->mem->stats[SMOLDER_STAT_THREAD_TABLE_FULL]);
		json_key(&w, "stacks");
		json_uint(&w, fig->mem->stats[SMOLDER_STAT_RINGBUF_FULL] +
				      fig->mem->stats[SMOLDER_STAT_STACK_TABLE_FULL] +
				      fig->mem->stats[SMOLDER_STAT_SNAPSHOT_THROTTLED]);
	}
	json_object_end(&w);
	/* How it was measured: smolder's own cost. */
	getrusage(RUSAGE_SELF, &self);
	json_key(&w, "smolder");
	json_object_begin(&w);
	json_key(&w, "cpu_s");
	json_double(&w, (double)self.ru_utime.tv_sec + (double)self.ru_utime.tv_usec / 1e6 +
				(double)self.ru_stime.tv_sec + (double)self.ru_stime.tv_usec / 1e6);
	json_key(&w, "max_rss_bytes");
	json_uint(&w, (uint64_t)self.ru_maxrss * 1024);
	json_object_end(&w);
	json_object_end(&w);
	func_table_release(&ft);
	return json_writer_finish(&w);
}
