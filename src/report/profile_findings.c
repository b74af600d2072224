/* profile_findings.c: the findings of the profile JSON report, in plain words and ranked by
 * impact: the function the program is responsible for (library and kernel time counted for its
 * caller, the hottest source line), smolder's own uprobe cost apart, leaking sites named by the
 * program's own function, RSS growth, the off-CPU finding; and the per-function share table they
 * and the JSON's function lists are built from. */
#include "profile_findings.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flamegraph.h"
#include "smolder/json_writer.h"
#include "smolder/leak_report.h"
#include "smolder/offcpu_collector.h"
#include "smolder/profile_json.h"
#include "smolder/profile_output.h"
#include "smolder/timeline.h"

static uint64_t name_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

struct func_share *func_get(struct func_table *t, const char *name, size_t len)
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
/* True when the lines start with their process's root frame ("COMMAND [PID]": a process tree),
 * which is not a function. */
static bool folded_rooted(const struct profile_folded *folded)
{
	const uint32_t *indices;
	size_t n;
	const struct profile_sample *s = profile_folded_samples(folded, &n, &indices);

	return s && n && s[0].process;
}

int func_table_fill(struct func_table *t, const struct profile_folded *folded, uint64_t *sum)
{
	bool rooted = folded_rooted(folded);
	const char *line;
	uint64_t w;

	*sum = 0;
	for (size_t i = 0; (line = profile_folded_line(folded, i, &w)); i++) {
		const char *p = line;

		*sum += w;
		if (rooted && strchr(p, ';'))
			p = strchr(p, ';') + 1;
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

void func_table_release(struct func_table *t)
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

size_t profile_site_function(const struct leak_report *r, const struct leak_site *site)
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
void profile_findings_write(struct json_writer *w, const struct func_table *ft, uint64_t sum,
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
		size_t k = profile_site_function(fig->mem, site);
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
