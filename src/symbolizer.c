/* symbolizer.c: owns address-to-frames resolution for one target: its lifetime, the maps
 * generations, the per-address cache, kernel symbols and the folded-stack formatting of frames.
 * Its mapped objects are opened in symbolizer_objects.c, the lookup indexes live in
 * symbolizer_index.c, the kernel symbol table in kallsyms.c. */
#include "smolder/symbolizer.h"
#include "smolder/text_sanitize.h"

#include <errno.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smolder/frame.h"
#include "smolder/kallsyms.h"
#include "smolder/log.h"
#include "smolder/perf_map.h"
#include "smolder/proc_maps.h"
#include "symbolizer_internal.h"

/* Returned when memory runs out: still one frame, as promised. */
static const struct symbol_frame unknown_frame;

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct symbolizer *symbolizer_alloc(pid_t pid, bool offline)
{
	struct symbolizer *sym;

	elf_version(EV_CURRENT);
	sym = calloc(1, sizeof(*sym));
	if (!sym)
		return NULL;
	sym->pid = pid;
	sym->offline = offline;
	sym->callbacks.find_elf = dwfl_build_id_find_elf;
	/* Separate debug files: by build-id under /usr/lib/debug/.build-id (Debian's -dbg and
	 * -dbgsym packages), then by .gnu_debuglink next to the object and under /usr/lib/debug. */
	sym->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	sym->callbacks.section_address = dwfl_offline_section_address;
	sym->callbacks.debuginfo_path = &sym->debuginfo_path;
	sym->dwfl = dwfl_begin(&sym->callbacks);
	if (!sym->dwfl) {
		free(sym);
		errno = ENOMEM;
		return NULL;
	}
	return sym;
}

struct symbolizer *symbolizer_new(pid_t pid)
{
	struct proc_maps maps = {0};
	struct symbolizer *sym;
	int err;

	if (pid < 0) {
		errno = EINVAL;
		return NULL;
	}
	sym = symbolizer_alloc(pid, false);
	if (!sym)
		return NULL;
	if (pid == 0)
		return sym;
	err = proc_maps_read(pid, &maps);
	if (!err)
		err = symbolizer_add_objects(sym, &maps);
	proc_maps_release(&maps);
	if (err) {
		symbolizer_free(sym);
		errno = -err;
		return NULL;
	}
	symbolizer_jit_load_perf_map(sym);
	return sym;
}

struct symbolizer *symbolizer_new_from_maps(const struct proc_maps *maps)
{
	struct symbolizer *sym = symbolizer_alloc(0, true);
	int err;

	if (!sym)
		return NULL;
	err = symbolizer_add_objects(sym, maps);
	if (err) {
		symbolizer_free(sym);
		errno = -err;
		return NULL;
	}
	return sym;
}

void symbolizer_free(struct symbolizer *sym)
{
	size_t i;

	if (!sym)
		return;
	for (i = 0; i < sym->cache_cap; i++)
		free(sym->cache[i].frames);
	free(sym->cache);
	for (i = 0; i < sym->nmodules; i++)
		symbolizer_module_free(sym->modules[i]);
	free(sym->modules);
	/* The indexes point into libdw data: free them before libdwfl closes it. */
	for (i = 0; i < sym->nobjects; i++)
		symbolizer_object_free(sym->objects[i]);
	free(sym->objects);
	free(sym->table);
	for (i = 0; i < sym->ngens; i++)
		free(sym->gens[i].table);
	free(sym->gens);
	dwfl_end(sym->dwfl);
	kallsyms_free(sym->kallsyms);
	perf_map_free(sym->perf_map);
	free(sym->anon_exec);
	free(sym->scratch.v);
	for (i = 0; i < sym->nbatch_strings; i++)
		free(sym->batch_strings[i]);
	free(sym->batch_strings);
	free(sym);
}

int symbolizer_refresh(struct symbolizer *sym)
{
	struct proc_maps maps = {0};
	int err;

	if (!sym || sym->pid <= 0)
		return 0;
	err = proc_maps_read(sym->pid, &maps);
	if (err == -ESRCH || err == -ENOENT)
		return 0; /* exited: nothing new can be mapped */
	if (!err)
		err = symbolizer_add_objects(sym, &maps);
	proc_maps_release(&maps);
	symbolizer_jit_load_perf_map(sym);
	return err;
}

int symbolizer_add_maps(struct symbolizer *sym, uint32_t gen, const struct proc_maps *maps)
{
	struct sym_generation *g;
	struct sym_module **table;
	size_t i, n = 0;
	int err;

	if (!sym || !maps)
		return -EINVAL;
	err = symbolizer_add_objects(sym, maps);
	if (err)
		return err;
	/* The generation's own table: the current placements these maps still hold (one
	 * unloaded without a replacement stays in the current table, not in this one). */
	table = malloc((sym->ntable ? sym->ntable : 1) * sizeof(*table));
	if (!table)
		return -ENOMEM;
	for (i = 0; i < sym->ntable; i++) {
		const struct sym_module *m = sym->table[i];
		const struct proc_map *pm = proc_maps_find(maps, m->start);

		if (pm && pm->start == m->start && pm->inode == m->obj->inode)
			table[n++] = sym->table[i];
	}
	if (sym->ngens && sym->gens[sym->ngens - 1].gen >= gen) {
		/* The same generation again (or an unwinder starting over): replace it. */
		while (sym->ngens && sym->gens[sym->ngens - 1].gen >= gen)
			free(sym->gens[--sym->ngens].table);
	}
	g = realloc(sym->gens, (sym->ngens + 1) * sizeof(*g));
	if (!g) {
		free(table);
		return -ENOMEM;
	}
	sym->gens = g;
	sym->gens[sym->ngens++] = (struct sym_generation){gen, table, n};
	symbolizer_jit_load_perf_map(sym);
	return 0;
}

/* ---- cache ---- */

static size_t cache_slot(const struct symbolizer *sym, uint64_t addr)
{
	uint64_t h = addr * 0x9e3779b97f4a7c15ull;

	return (size_t)(h ^ (h >> 29)) & (sym->cache_cap - 1);
}

struct cache_entry *symbolizer_cache_find(struct symbolizer *sym, uint64_t addr)
{
	size_t i;

	if (!sym->cache_cap)
		return NULL;
	for (i = cache_slot(sym, addr);; i = (i + 1) & (sym->cache_cap - 1)) {
		if (!sym->cache[i].frames)
			return NULL;
		if (sym->cache[i].addr == addr)
			return &sym->cache[i];
	}
}

int symbolizer_cache_insert(struct symbolizer *sym, uint64_t addr, struct symbol_frame *frames,
			    size_t n)
{
	size_t i;

	if ((sym->cache_used + 1) * 2 > sym->cache_cap) {
		size_t old_cap = sym->cache_cap, ncap = old_cap ? old_cap * 2 : 1024;
		struct cache_entry *old = sym->cache, *nc = calloc(ncap, sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		sym->cache = nc;
		sym->cache_cap = ncap;
		for (i = 0; i < old_cap; i++) {
			size_t s;

			if (!old[i].frames)
				continue;
			for (s = cache_slot(sym, old[i].addr); nc[s].frames;
			     s = (s + 1) & (ncap - 1))
				;
			nc[s] = old[i];
		}
		free(old);
	}
	for (i = cache_slot(sym, addr); sym->cache[i].frames; i = (i + 1) & (sym->cache_cap - 1))
		;
	sym->cache[i] = (struct cache_entry){addr, frames, n};
	sym->cache_used++;
	return 0;
}

/* ---- resolution ---- */

static const struct sym_module *find_in(struct sym_module *const *table, size_t n, uint64_t addr,
					uint64_t *file_offset)
{
	size_t lo = 0, hi = n, i;
	const struct sym_module *mod;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (table[mid]->start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	mod = table[lo - 1];
	for (i = 0; i < mod->nmaps; i++) {
		if (addr >= mod->maps[i].start && addr < mod->maps[i].end) {
			*file_offset = addr - mod->maps[i].start + mod->maps[i].offset;
			return mod;
		}
	}
	return NULL;
}

/* The placement holding addr in maps generation gen: that generation's own table when one was
 * recorded (the latest at or before gen), else (and when it has nothing there) the current one. */
const struct sym_module *symbolizer_find_module(const struct symbolizer *sym, uint64_t addr,
						uint32_t gen, uint64_t *file_offset)
{
	const struct sym_module *mod = NULL;
	size_t k = sym->ngens;

	while (k > 0 && sym->gens[k - 1].gen > gen)
		k--;
	if (k > 0)
		mod = find_in(sym->gens[k - 1].table, sym->gens[k - 1].n, addr, file_offset);
	return mod ? mod : find_in(sym->table, sym->ntable, addr, file_offset);
}
int symbolizer_module_at(const struct symbolizer *sym, uint64_t frame,
			 struct symbol_module_info *info)
{
	const struct sym_module *mod;
	uint64_t addr;
	uint64_t offset;

	memset(info, 0, sizeof(*info));
	if (!sym || !frame_is_user(frame))
		return -ENOENT;
	addr = frame_user_address(frame);
	mod = symbolizer_find_module(sym, addr, frame_user_generation(frame), &offset);
	if (!mod)
		return -ENOENT;
	info->path = mod->obj->path;
	for (size_t i = 0; i < mod->nmaps; i++) {
		if (addr >= mod->maps[i].start && addr < mod->maps[i].end) {
			info->start = mod->maps[i].start;
			info->end = mod->maps[i].end;
			info->file_offset = mod->maps[i].offset;
		}
	}
	memcpy(info->build_id, mod->obj->build_id, sizeof(info->build_id));
	return 0;
}

int symbolizer_push_frame(struct frame_vec *out, const struct symbol_frame *frame)
{
	if (out->n == out->cap) {
		size_t ncap = out->cap ? out->cap * 2 : 16;
		struct symbol_frame *p = realloc(out->v, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		out->v = p;
		out->cap = ncap;
	}
	out->v[out->n++] = *frame;
	return 0;
}

static int resolve_kernel(struct symbolizer *sym, uint64_t addr, struct frame_vec *out)
{
	struct symbol_frame frame = {
		.flags = SYMBOL_FRAME_KERNEL,
		.module = "[kernel]",
		.module_offset = addr,
	};

	if (!sym->kallsyms_tried) {
		sym->kallsyms_tried = true;
		sym->kallsyms = kallsyms_load("/proc/kallsyms");
		if (!sym->kallsyms)
			log_warn("kernel symbols unavailable (/proc/kallsyms: %s%s): kernel frames "
				 "stay unnamed",
				 strerror(errno),
				 errno == EPERM ? "; needs CAP_SYSLOG or kernel.kptr_restrict=0"
						: "");
	}
	frame.function = kallsyms_find(sym->kallsyms, addr, NULL);
	return symbolizer_push_frame(out, &frame);
}

static int resolve_user(struct symbolizer *sym, uint64_t addr, uint32_t gen, struct frame_vec *out)
{
	struct symbol_frame frame = {.module_offset = addr};
	const struct sym_module *mod;
	const struct sym_object *obj;
	uint64_t offset = 0, dwfl_addr;
	size_t i;
	int err;

	mod = symbolizer_find_module(sym, addr, gen, &offset);
	if (!mod)
		return symbolizer_jit_resolve(sym, addr, out);
	obj = mod->obj;
	/* Through the file offset, so that a second mapping of the same file (at another place,
	 * or of only part of it) resolves like the first. */
	dwfl_addr = obj->index ? symbolizer_object_address(obj, offset) : 0;
	if (dwfl_addr) {
		err = module_index_resolve(obj->index, dwfl_addr, out);
		if (err)
			return err;
	}
	if (!out->n) {
		err = symbolizer_push_frame(out, &frame);
		if (err)
			return err;
	}
	for (i = 0; i < out->n; i++) {
		out->v[i].module = obj->name;
		out->v[i].module_offset = offset;
	}
	return 0;
}

size_t symbolizer_resolve(struct symbolizer *sym, uint64_t addr, const struct symbol_frame **frames)
{
	struct cache_entry *hit;
	struct symbol_frame *copy;
	double start;
	int err;

	*frames = &unknown_frame;
	if (!sym)
		return 1;
	hit = symbolizer_cache_find(sym, addr);
	if (hit) {
		*frames = hit->frames;
		return hit->n;
	}
	if (frame_is_named(addr))
		return 1; /* not an address: frame_names' */
	start = now_seconds();
	sym->scratch.n = 0;
	if (frame_is_kernel(addr))
		err = resolve_kernel(sym, addr, &sym->scratch);
	else
		err = resolve_user(sym, frame_user_address(addr), frame_user_generation(addr),
				   &sym->scratch);
	if (err || !sym->scratch.n)
		goto out;
	copy = malloc(sym->scratch.n * sizeof(*copy));
	if (!copy)
		goto out;
	memcpy(copy, sym->scratch.v, sym->scratch.n * sizeof(*copy));
	if (symbolizer_cache_insert(sym, addr, copy, sym->scratch.n) != 0) {
		free(copy);
		goto out;
	}
	sym->stats.addresses++;
	if (!copy[0].function)
		sym->stats.unknown++;
	*frames = copy;
	sym->stats.seconds += now_seconds() - start;
	return sym->scratch.n;
out:
	sym->stats.seconds += now_seconds() - start;
	return 1;
}

void symbolizer_get_stats(const struct symbolizer *sym, struct symbolizer_stats *stats)
{
	if (!sym) {
		memset(stats, 0, sizeof(*stats));
		return;
	}
	*stats = sym->stats;
}

/* ---- formatting ---- */

/* Appends s by the one text convention (text_sanitize.h), folded flavour: frames go into folded
 * stacks, where ';' separates them. */
static size_t append_sanitized(char *buf, size_t len, size_t n, const char *s)
{
	return text_sanitize_append(buf, len, n, s, TEXT_SANITIZE_FOLDED);
}

size_t symbol_frame_format(const struct symbol_frame *frame, char *buf, size_t len)
{
	char offset[32];
	size_t n = 0;

	if (!buf || !len)
		return 0;
	buf[0] = '\0';
	if (frame->function && frame->function[0]) {
		n = append_sanitized(buf, len, n, frame->function);
		if (frame->flags & SYMBOL_FRAME_JIT) {
			/* "name (file.js:LINE)": a path's base name, as py-spy shortens paths;
			 * node's own modules ("node:internal/timers") as they are. */
			const char *file = frame->file, *slash = file ? strrchr(file, '/') : NULL;

			if (slash && slash[1] && (file[0] == '/' || !strncmp(file, "file://", 7)))
				file = slash + 1;
			if (file && file[0]) {
				n = append_sanitized(buf, len, n, " (");
				n = append_sanitized(buf, len, n, file);
				if (frame->line) {
					snprintf(offset, sizeof(offset), ":%" PRIu32, frame->line);
					n = append_sanitized(buf, len, n, offset);
				}
				n = append_sanitized(buf, len, n, ")");
			}
		}
	} else if (frame->module && !strcmp(frame->module, "[jit]")) {
		/* Unnamed JIT code: one frame for all of it, not one per address. */
		n = append_sanitized(buf, len, n, "[jit]");
	} else if (frame->module && frame->module[0]) {
		n = append_sanitized(buf, len, n, frame->module);
		snprintf(offset, sizeof(offset), "+0x%" PRIx64, frame->module_offset);
		n = append_sanitized(buf, len, n, offset);
	} else {
		n = append_sanitized(buf, len, n, "[unknown]");
	}
	if (frame->flags & SYMBOL_FRAME_KERNEL)
		n = append_sanitized(buf, len, n, "_[k]");
	else if (frame->flags & SYMBOL_FRAME_INLINED)
		n = append_sanitized(buf, len, n, "_[i]");
	else if (frame->flags & SYMBOL_FRAME_JIT)
		n = append_sanitized(buf, len, n, "_[j]");
	return n;
}
