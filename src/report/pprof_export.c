/* pprof_export.c: smolder's profiles as pprof. One writer for every command: the parts of a run
 * (on-CPU samples and off-CPU time as address-level folded profiles, memory as a leak report) are
 * added to one profile whose sample types are those of the parts present, each sample carrying
 * its own part's values and zero for the others (as Go's heap profile mixes its four types).
 * Addresses keep their mapping (file, range, offset, build id); inlined calls are extra lines of
 * one location; kernel frames sit in a [kernel.kallsyms] mapping; process roots ("COMMAND [PID]",
 * as folded output has them) are root locations, and the sample is labelled pid and command. */
#include "smolder/alloc_tracker.h"
#include "smolder/frame.h"
#include "smolder/leak_report.h"
#include "smolder/pprof.h"
#include "smolder/process_table.h"
#include "smolder/profile_output.h"
#include "smolder/report_parts.h"

#include "pprof_table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KERNEL_MAPPING_START 0xffff800000000000ull
#define MAX_VALUES	     8

/* Where a part's values go in the sample's value vector. */
struct value_slots {
	size_t n_types;
	int cpu_count, cpu_ns, off_cpu_ns, inuse_space, inuse_objects, growth_space; /* -1: none */
};

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

		/* pprof marks kernel and inlined frames by mapping and line order, not by suffix.
		 */
		if (!f->function) {
			lines[n++] = (struct pprof_line){.function = f->name};
			continue;
		}
		lines[n++] = (struct pprof_line){
			.function = f->function, .file = f->file, .line = f->line};
	}
	/* Named frames (Python, JS, markers) are no address: located by name. */
	if (frame_is_named(a->addr))
		return pprof_builder_location(b, 0, 0, lines, n);
	return pprof_builder_location(
		b, map, frame_is_user(a->addr) ? frame_user_address(a->addr) : a->addr, lines, n);
}

static bool is_program(const char *path, const char *command)
{
	const char *base = path ? strrchr(path, '/') : NULL;

	base = base ? base + 1 : path;
	return base && command && *command && !strncmp(base, command, strlen(command));
}

static uint64_t named_location(struct pprof_builder *b, const char *name)
{
	struct pprof_line line = {.function = name};

	return pprof_builder_location(b, 0, 0, &line, 1);
}

/* One folded part (on-CPU or off-CPU) with its location ids, one per address. */
struct folded_part {
	const struct profile_folded *folded;
	const struct profile_output_options *opts;
	uint64_t *loc_ids;
};

/* Interns the part's locations, one pass at a time: 0 user addresses in the program, 1 the other
 * user addresses (and named frames), 2 kernel addresses (in *kernel_map, made when first needed).
 */
static int part_locations(struct pprof_builder *b, struct folded_part *p, const char *command,
			  int pass, uint64_t *kernel_map)
{
	const struct profile_frame_info *frames;
	const struct profile_address *addrs;
	size_t n;

	if (!p->folded)
		return 0;
	addrs = profile_folded_addresses(p->folded, &n, &frames);
	if (!p->loc_ids && !(p->loc_ids = calloc(n + 1, sizeof(*p->loc_ids))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (p->loc_ids[i] || addrs[i].kernel != (pass == 2) ||
		    (pass == 0 && !is_program(addrs[i].module_path, command)))
			continue;
		if (pass == 2 && !*kernel_map)
			*kernel_map = pprof_builder_mapping(b, KERNEL_MAPPING_START, UINT64_MAX, 0,
							    "[kernel.kallsyms]", NULL);
		if (pass == 2 && !*kernel_map)
			return -ENOMEM;
		p->loc_ids[i] = address_location(b, &addrs[i], frames, *kernel_map);
		if (!p->loc_ids[i])
			return -ENOMEM;
	}
	return 0;
}

/* The pid and command labels of a sample of a process-tree run. */
static int process_labels(struct pprof_builder *b, const struct process_model *model)
{
	if (!model)
		return 0;
	if (pprof_builder_label(b, "pid", NULL, model->pid) ||
	    pprof_builder_label(b, "command", model->comm, 0))
		return -ENOMEM;
	return 0;
}

/* Adds the part's samples: weight * scale[j] into values[slot[j]] (slot -1: none). */
static int part_samples(struct pprof_builder *b, const struct folded_part *p, const int slot[2],
			const int64_t scale[2])
{
	const struct profile_sample *samples;
	const uint32_t *indices;
	uint64_t *stack = NULL;
	size_t n_samples, cap = 0;
	int ret = 0;

	if (!p->folded)
		return 0;
	samples = profile_folded_samples(p->folded, &n_samples, &indices);
	for (size_t i = 0; i < n_samples && !ret; i++) {
		const struct profile_sample *s = &samples[i];
		int64_t values[MAX_VALUES] = {0};
		char name[160];
		size_t n = 0;

		for (int j = 0; j < 2; j++)
			if (slot[j] >= 0)
				values[slot[j]] = (int64_t)s->weight * scale[j];
		if (pprof_grow((void **)&stack, &cap, s->n + 3, sizeof(*stack))) {
			ret = -ENOMEM;
			break;
		}
		for (uint32_t k = 0; k < s->n; k++)
			stack[n++] = p->loc_ids[indices[s->first + k]];
		/* Root frames in folded order (process, then thread), here leaf first. */
		if (p->opts && p->opts->threads) {
			profile_thread_frame(p->opts, s->tid, name, sizeof(name));
			if (!(stack[n++] = named_location(b, name)))
				ret = -ENOMEM;
		}
		if (s->process) {
			profile_process_frame(p->opts, s->process, name, sizeof(name));
			if (!(stack[n++] = named_location(b, name)))
				ret = -ENOMEM;
		}
		if (n == 0 && !(stack[n++] = named_location(b, "[unknown]")))
			ret = -ENOMEM;
		if (!ret)
			ret = pprof_builder_sample(b, stack, n, values);
		if (!ret)
			ret = process_labels(b, s->process);
	}
	free(stack);
	return ret;
}

static bool is_inlined(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && !strcmp(name + n - 4, "_[i]");
}

/* One location from frames[lo..hi) of a site: a function and the calls inlined into it (root
 * first); lines innermost first, without the "_[i]" suffix, file:line from locations. With an
 * address (all frames of one address), the location is that address in its object's mapping. */
static uint64_t site_location(struct pprof_builder *b, const struct leak_report *r,
			      const struct leak_site *s, size_t lo, size_t hi, bool with_address)
{
	struct pprof_line lines[32];
	char names[32][512], files[32][512];
	uint64_t address = with_address && lo < s->n_addresses ? s->addresses[lo] : 0, map = 0;
	uint32_t module = address ? s->modules[lo] : 0;
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
			/* The full path when kept (as on-CPU locations have it), else the base
			 * name of the location. */
			if (k < s->n_addresses && s->source_files[k])
				snprintf(files[n], sizeof(files[n]), "%s", s->source_files[k]);
			else
				snprintf(files[n], sizeof(files[n]), "%.*s", (int)(colon - loc),
					 loc);
			lines[n].file = files[n];
			lines[n].line = strtoll(colon + 1, NULL, 10);
		}
		n++;
	}
	if (module && module <= r->n_modules) {
		const struct leak_module *m = &r->modules[module - 1];

		map = pprof_builder_mapping(b, m->start, m->end, m->offset, m->path,
					    m->build_id[0] ? m->build_id : NULL);
		if (!map)
			return 0;
	}
	return pprof_builder_location(b, map, map ? address : 0, lines, n);
}

/* The frames [lo, hi) of the location ending at hi: those of one address when the site keeps
 * addresses, else a function and the "_[i]" frames inlined into it. */
static size_t site_location_start(const struct leak_site *s, size_t hi)
{
	size_t lo = hi - 1;
	uint64_t address = lo < s->n_addresses ? s->addresses[lo] : 0;

	if (address) {
		while (lo > 0 && lo - 1 < s->n_addresses && s->addresses[lo - 1] == address)
			lo--;
		return lo;
	}
	while (lo > 0 && is_inlined(s->frames[lo]) &&
	       !(lo - 1 < s->n_addresses && s->addresses[lo - 1]))
		lo--;
	return lo;
}

/* Interns the mappings of the program's objects first (pprof's main binary is the first). */
static int memory_program_mappings(struct pprof_builder *b, const struct leak_report *r)
{
	for (size_t i = 0; i < r->n_modules; i++) {
		const struct leak_module *m = &r->modules[i];

		if (is_program(m->path, r->command) &&
		    !pprof_builder_mapping(b, m->start, m->end, m->offset, m->path,
					   m->build_id[0] ? m->build_id : NULL))
			return -ENOMEM;
	}
	return 0;
}

/* One sample per graph stack (a site, or a process's share of it): the stacks, roots and values
 * of the memory flame graphs. Addresses are kept where the stack that named the site's frames is
 * the sample's (other processes of a command may map their objects elsewhere). */
static int memory_samples(struct pprof_builder *b, const struct leak_report *r,
			  const struct value_slots *v)
{
	uint64_t *stack = NULL;
	size_t cap = 0;
	int ret = 0;

	for (size_t i = 0; i < r->n_sites && !ret; i++) {
		const struct leak_site *s = &r->sites[i];

		for (size_t m = 0; m < leak_report_graph_stacks(r, s) && !ret; m++) {
			int64_t values[MAX_VALUES] = {0};
			struct leak_graph_stack g;
			int64_t growth;
			size_t n = 0, hi = s->n_frames;
			bool addresses;

			leak_report_graph_stack(r, s, m, &g);
			growth = (int64_t)g.outstanding_bytes - (int64_t)g.first_bytes;
			if (s->n_frames == 0 || (g.outstanding_bytes == 0 && growth <= 0))
				continue;
			values[v->inuse_space] = (int64_t)g.outstanding_bytes;
			values[v->inuse_objects] = (int64_t)g.outstanding_allocs;
			values[v->growth_space] = growth;
			addresses = r->n_processes <= 1 ||
				    (g.member && g.member->stack_id == s->stack_id);
			if (pprof_grow((void **)&stack, &cap, s->n_frames + 2, sizeof(*stack))) {
				ret = -ENOMEM;
				break;
			}
			/* Leaf first: walk locations from the leaf end. */
			while (hi > 0 && !ret) {
				size_t lo = site_location_start(s, hi);

				if (!(stack[n++] = site_location(b, r, s, lo, hi, addresses)))
					ret = -ENOMEM;
				hi = lo;
			}
			/* Rooted like the memory flame graphs: [heap] / [anon mmap], then the
			 * process. */
			if (!ret &&
			    !(stack[n++] = named_location(
				      b, (s->flags & ALLOC_SITE_MMAP) ? "[anon mmap]" : "[heap]")))
				ret = -ENOMEM;
			if (!ret && g.root[0] && !(stack[n++] = named_location(b, g.root)))
				ret = -ENOMEM;
			if (!ret)
				ret = pprof_builder_sample(b, stack, n, values);
			if (!ret && g.member &&
			    (pprof_builder_label(b, "pid", NULL, g.member->pid) ||
			     pprof_builder_label(b, "command", s->command, 0)))
				ret = -ENOMEM;
		}
	}
	free(stack);
	return ret;
}

static int declare_types(struct pprof_builder *b, const struct report_parts *parts,
			 struct value_slots *v)
{
	int ret = 0;

	memset(v, 0, sizeof(*v));
	v->cpu_count = v->cpu_ns = v->off_cpu_ns = -1;
	v->inuse_space = v->inuse_objects = v->growth_space = -1;
#define DECLARE(slot, type, unit)                                                                  \
	do {                                                                                       \
		if (!ret) {                                                                        \
			ret = pprof_builder_sample_type(b, type, unit);                            \
			v->slot = (int)v->n_types++;                                               \
		}                                                                                  \
	} while (0)
	if (parts->cpu) {
		DECLARE(cpu_count, "samples", "count");
		DECLARE(cpu_ns, "cpu", "nanoseconds");
	}
	if (parts->off_cpu)
		DECLARE(off_cpu_ns, "off_cpu", "nanoseconds");
	if (parts->memory) {
		DECLARE(inuse_space, "inuse_space", "bytes");
		DECLARE(inuse_objects, "inuse_objects", "count");
		DECLARE(growth_space, "growth_space", "bytes");
	}
#undef DECLARE
	if (ret)
		return ret;
	if (v->n_types == 0)
		return -EINVAL;
	/* What pprof shows without -sample_index: on-CPU time, else off-CPU, else memory. */
	return pprof_builder_default_type(b, parts->cpu	      ? "cpu"
					     : parts->off_cpu ? "off_cpu"
							      : "inuse_space");
}

int pprof_write_parts(const struct report_parts *parts, FILE *fp)
{
	struct pprof_builder *b = pprof_builder_new();
	struct folded_part cpu = {.folded = parts->cpu, .opts = parts->cpu_opts};
	struct folded_part off = {.folded = parts->off_cpu, .opts = parts->off_cpu_opts};
	const struct profile_output_meta *meta = parts->meta;
	const char *command = meta && meta->command ? meta->command
			      : parts->memory	    ? parts->memory->command
						    : "?";
	int freq = meta ? meta->frequency_hz : 0;
	int64_t period = freq > 0 ? 1000000000LL / freq : 1;
	double duration = meta ? meta->duration_s : parts->memory ? parts->memory->duration_s : 0;
	int pid = meta ? (int)meta->pid : parts->memory ? parts->memory->pid : 0;
	struct value_slots v;
	uint64_t kernel_map = 0;
	char comment[320];
	int ret = -ENOMEM;

	if (!b)
		return -ENOMEM;
	ret = declare_types(b, parts, &v);
	if (ret)
		goto out;
	ret = -ENOMEM;
	if (parts->cpu && pprof_builder_period(b, "cpu", "nanoseconds", period))
		goto out;
	pprof_builder_duration(b, (int64_t)time(NULL) * 1000000000LL, (int64_t)(duration * 1e9));
	snprintf(comment, sizeof(comment), "smolder %s of %s (PID %d)%s%s%s",
		 parts->tool ? parts->tool : "profile", command, pid,
		 parts->cpu ? ": on-CPU samples" : "", parts->off_cpu ? ", off-CPU time" : "",
		 parts->memory ? ", heap bytes outstanding at the end and gained during the run"
			       : "");
	if (pprof_builder_comment(b, comment))
		goto out;
	/* pprof takes the first mapping for the main binary: the program's (its name starts with
	 * the command, which the kernel truncates to 15 bytes), other objects, the kernel last. */
	if (part_locations(b, &cpu, command, 0, &kernel_map) ||
	    part_locations(b, &off, command, 0, &kernel_map) ||
	    (parts->memory && memory_program_mappings(b, parts->memory)))
		goto out;
	for (int pass = 1; pass <= 2; pass++)
		if (part_locations(b, &cpu, command, pass, &kernel_map) ||
		    part_locations(b, &off, command, pass, &kernel_map))
			goto out;
	ret = part_samples(b, &cpu, (const int[2]){v.cpu_count, v.cpu_ns},
			   (const int64_t[2]){1, period});
	if (!ret)
		ret = part_samples(
			b, &off, (const int[2]){v.off_cpu_ns, -1},
			(const int64_t[2]){parts->off_cpu_unit_ns > 0 ? parts->off_cpu_unit_ns : 1,
					   0});
	if (!ret && parts->memory)
		ret = memory_samples(b, parts->memory, &v);
	if (!ret)
		ret = pprof_builder_write(b, fp);
out:
	free(cpu.loc_ids);
	free(off.loc_ids);
	pprof_builder_free(b);
	return ret;
}

int pprof_write_cpu(const struct profile_folded *folded, const struct profile_output_options *opts,
		    const struct profile_output_meta *meta, FILE *fp)
{
	struct report_parts parts = {
		.tool = "record", .cpu = folded, .cpu_opts = opts, .meta = meta};

	return pprof_write_parts(&parts, fp);
}

int pprof_write_leaks(const struct leak_report *report, FILE *fp)
{
	struct report_parts parts = {.tool = "leaks", .memory = report};

	return pprof_write_parts(&parts, fp);
}
