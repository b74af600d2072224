/* pprof_export.c: smolder's profiles as pprof: record's address-level CPU profile (mappings with
 * build ids, one location per address, inlined frames as lines of one location, kernel frames in
 * a [kernel.kallsyms] mapping) and the leak report's allocation sites. */
#include "smolder/alloc_tracker.h"
#include "smolder/frame.h"
#include "smolder/leak_report.h"
#include "smolder/pprof.h"
#include "smolder/profile_output.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KERNEL_MAPPING_START 0xffff800000000000ull

static uint64_t address_location(struct pprof_builder *b, const struct profile_address *a,
				 const struct profile_frame_info *frames, uint64_t kernel_map)
{
	struct pprof_line lines[64];
	uint64_t map = 0;
	size_t n = 0;

	if (a->kernel)
		map = kernel_map;
	else if (a->module_path)
		map = pprof_builder_mapping(b, a->map_start, a->map_end, a->map_offset,
					    a->module_path, a->build_id[0] ? a->build_id : NULL);
	if (!map && (a->kernel || a->module_path))
		return 0;
	for (uint32_t k = 0; k < a->n && n < sizeof(lines) / sizeof(lines[0]); k++) {
		const struct profile_frame_info *f = &frames[a->first + k];
		char *name = f->name;

		/* pprof marks kernel and inlined frames by mapping and line order, not by suffix.
		 */
		if (!f->function) {
			lines[n++] = (struct pprof_line){.function = name};
			continue;
		}
		lines[n++] = (struct pprof_line){
			.function = f->function, .file = f->file, .line = f->line};
	}
	/* Named frames (Python, JS, markers, process roots) are no address: located by name. */
	if (frame_is_named(a->addr))
		return pprof_builder_location(b, 0, 0, lines, n);
	return pprof_builder_location(
		b, map, frame_is_user(a->addr) ? frame_user_address(a->addr) : a->addr, lines, n);
}

static bool is_program(const struct profile_address *a, const char *command)
{
	const char *base = a->module_path ? strrchr(a->module_path, '/') : NULL;

	base = base ? base + 1 : a->module_path;
	return base && command && *command && !strncmp(base, command, strlen(command));
}

int pprof_write_cpu(const struct profile_folded *folded, const struct profile_output_options *opts,
		    const struct profile_output_meta *meta, FILE *fp)
{
	const struct profile_frame_info *frames;
	const struct profile_address *addrs;
	const struct profile_sample *samples;
	const uint32_t *indices;
	struct pprof_builder *b = pprof_builder_new();
	uint64_t *loc_ids = NULL, *stack = NULL, kernel_map = 0;
	size_t n_addrs, n_samples, cap = 0;
	int64_t period = meta->frequency_hz > 0 ? 1000000000LL / meta->frequency_hz : 1;
	char comment[256];
	int ret = -ENOMEM;

	if (!b)
		return -ENOMEM;
	addrs = profile_folded_addresses(folded, &n_addrs, &frames);
	samples = profile_folded_samples(folded, &n_samples, &indices);
	if (pprof_builder_sample_type(b, "samples", "count") ||
	    pprof_builder_sample_type(b, "cpu", "nanoseconds") ||
	    pprof_builder_default_type(b, "cpu") ||
	    pprof_builder_period(b, "cpu", "nanoseconds", period))
		goto out;
	pprof_builder_duration(b, (int64_t)time(NULL) * 1000000000LL,
			       (int64_t)(meta->duration_s * 1e9));
	snprintf(comment, sizeof(comment), "smolder record of %s (PID %d) at %d Hz",
		 meta->command ? meta->command : "?", (int)meta->pid, meta->frequency_hz);
	if (pprof_builder_comment(b, comment))
		goto out;
	loc_ids = calloc(n_addrs + 1, sizeof(*loc_ids));
	if (!loc_ids)
		goto out;
	/* pprof takes the first mapping for the main binary: the program's (its name starts with
	 * the command, which the kernel truncates to 15 bytes), other objects, the kernel last. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n_addrs; i++) {
			if (addrs[i].kernel || loc_ids[i] ||
			    (pass == 0 && !is_program(&addrs[i], meta->command)))
				continue;
			loc_ids[i] = address_location(b, &addrs[i], frames, 0);
			if (!loc_ids[i])
				goto out;
		}
	}
	for (size_t i = 0; i < n_addrs; i++) {
		if (!addrs[i].kernel)
			continue;
		if (!kernel_map)
			kernel_map = pprof_builder_mapping(b, KERNEL_MAPPING_START, UINT64_MAX, 0,
							   "[kernel.kallsyms]", NULL);
		loc_ids[i] = kernel_map ? address_location(b, &addrs[i], frames, kernel_map) : 0;
		if (!loc_ids[i])
			goto out;
	}
	for (size_t i = 0; i < n_samples; i++) {
		const struct profile_sample *s = &samples[i];
		int64_t values[2] = {(int64_t)s->weight, (int64_t)s->weight * period};
		size_t n = 0;

		if (cap < s->n + 2) {
			uint64_t *grown = realloc(stack, (s->n + 2) * sizeof(*stack));

			if (!grown)
				goto out;
			stack = grown;
			cap = s->n + 2;
		}
		for (uint32_t k = 0; k < s->n; k++)
			stack[n++] = loc_ids[indices[s->first + k]];
		if (opts->threads) {
			/* The --threads root frame, as folded output has it. */
			struct pprof_line line = {0};
			char name[96];

			profile_thread_frame(opts, s->tid, name, sizeof(name));
			line.function = name;
			stack[n] = pprof_builder_location(b, 0, 0, &line, 1);
			if (!stack[n++])
				goto out;
		}
		if (n == 0) {
			struct pprof_line line = {.function = "[unknown]"};

			stack[n] = pprof_builder_location(b, 0, 0, &line, 1);
			if (!stack[n++])
				goto out;
		}
		ret = pprof_builder_sample(b, stack, n, values);
		if (ret)
			goto out;
		ret = -ENOMEM;
	}
	ret = pprof_builder_write(b, fp);
out:
	free(stack);
	free(loc_ids);
	pprof_builder_free(b);
	return ret;
}

static bool is_inlined(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && !strcmp(name + n - 4, "_[i]");
}

/* One location from frames[lo..hi): a function and the calls inlined into it (root first, each
 * "_[i]"); lines innermost first, without the suffix, "file:line" from locations. */
static uint64_t site_location(struct pprof_builder *b, const struct leak_site *s, size_t lo,
			      size_t hi)
{
	struct pprof_line lines[32];
	char names[32][512], files[32][512];
	size_t n = 0;

	for (size_t k = hi; k-- > lo && n < 32;) {
		const char *loc = s->locations ? s->locations[k] : NULL;
		const char *colon = loc ? strrchr(loc, ':') : NULL;
		size_t len = strlen(s->frames[k]);

		if (is_inlined(s->frames[k]))
			len -= 4;
		snprintf(names[n], sizeof(names[n]), "%.*s", (int)len, s->frames[k]);
		lines[n] = (struct pprof_line){.function = names[n]};
		if (colon) {
			snprintf(files[n], sizeof(files[n]), "%.*s", (int)(colon - loc), loc);
			lines[n].file = files[n];
			lines[n].line = strtoll(colon + 1, NULL, 10);
		}
		n++;
	}
	return pprof_builder_location(b, 0, 0, lines, n);
}

int pprof_write_leaks(const struct leak_report *r, FILE *fp)
{
	struct pprof_builder *b = pprof_builder_new();
	uint64_t *stack = NULL;
	char comment[256];
	int ret = -ENOMEM;

	if (!b)
		return -ENOMEM;
	if (pprof_builder_sample_type(b, "inuse_space", "bytes") ||
	    pprof_builder_sample_type(b, "inuse_objects", "count") ||
	    pprof_builder_sample_type(b, "growth_space", "bytes") ||
	    pprof_builder_default_type(b, "inuse_space"))
		goto out;
	pprof_builder_duration(b, (int64_t)time(NULL) * 1000000000LL,
			       (int64_t)(r->duration_s * 1e9));
	snprintf(comment, sizeof(comment),
		 "smolder leaks of %s (PID %d): bytes outstanding at the end, and gained during "
		 "the run",
		 r->command, r->pid);
	if (pprof_builder_comment(b, comment))
		goto out;
	stack = calloc(SMOLDER_ALLOC_MAX_FRAMES * 4 + 2, sizeof(*stack));
	if (!stack)
		goto out;
	for (size_t i = 0; i < r->n_sites; i++) {
		const struct leak_site *s = &r->sites[i];
		int64_t values[3] = {(int64_t)s->outstanding_bytes, (int64_t)s->outstanding_allocs,
				     (int64_t)s->outstanding_bytes - (int64_t)s->first_bytes};
		struct pprof_line root = {.function = (s->flags & ALLOC_SITE_MMAP) ? "[anon mmap]"
										   : "[heap]"};
		size_t n = 0, hi = s->n_frames;

		if (s->n_frames == 0 || (values[0] == 0 && values[2] <= 0))
			continue;
		/* Leaf first: walk locations from the leaf end. */
		while (hi > 0 && n < SMOLDER_ALLOC_MAX_FRAMES * 4) {
			size_t lo = hi - 1;

			while (lo > 0 && is_inlined(s->frames[lo]))
				lo--;
			stack[n] = site_location(b, s, lo, hi);
			if (!stack[n++])
				goto out;
			hi = lo;
		}
		stack[n] = pprof_builder_location(b, 0, 0, &root, 1);
		if (!stack[n++])
			goto out;
		ret = pprof_builder_sample(b, stack, n, values);
		if (ret)
			goto out;
		ret = -ENOMEM;
	}
	ret = pprof_builder_write(b, fp);
out:
	free(stack);
	pprof_builder_free(b);
	return ret;
}
