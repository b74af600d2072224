/* symbolizer.c: owns address-to-frames resolution for one target: its mapped objects (opened
 * through /proc/PID/map_files while it lives and reported to libdwfl at their load bias), the
 * per-address cache, kernel symbols and the folded-stack formatting of frames. The lookup indexes
 * live in symbolizer_index.c, the kernel symbol table in kallsyms.c. */
#include "smolder/symbolizer.h"
#include "smolder/text_sanitize.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

static void object_free(struct sym_object *obj)
{
	if (!obj)
		return;
	module_index_free(obj->index);
	free(obj->segs);
	free(obj->path);
	free(obj->name);
	free(obj);
}

static void module_free(struct sym_module *mod)
{
	if (!mod)
		return;
	free(mod->maps);
	free(mod);
}

/* ---- opening objects ---- */

/* Reads the PT_LOAD segments of the ELF in fd into obj and its load bias given one of its
 * mappings: the mapping's file offset falls in a segment, whose p_vaddr - p_offset relates file
 * offsets to link-time addresses. ET_EXEC objects are never relocated (bias 0), whichever of
 * their mappings is given. */
static int read_segments(struct sym_object *obj, int fd, uint64_t map_start, uint64_t map_offset)
{
	bool found = false;
	GElf_Ehdr ehdr;
	size_t phnum, i;
	Elf *elf;
	int err = -ENOEXEC;

	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -ENOEXEC;
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr) ||
	    elf_getphdrnum(elf, &phnum) != 0 || phnum == 0)
		goto out;
	obj->segs = calloc(phnum, sizeof(*obj->segs));
	if (!obj->segs) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < phnum; i++) {
		GElf_Phdr phdr;

		if (!gelf_getphdr(elf, (int)i, &phdr) || phdr.p_type != PT_LOAD)
			continue;
		obj->segs[obj->nsegs++] = (struct sym_segment){
			.offset = phdr.p_offset,
			.filesz = phdr.p_filesz ? phdr.p_filesz : 1,
			.vaddr = phdr.p_vaddr,
		};
		if (!found && map_offset >= (phdr.p_offset & PAGE_MASK_4K) &&
		    map_offset < phdr.p_offset + (phdr.p_filesz ? phdr.p_filesz : 1)) {
			obj->bias =
				ehdr.e_type == ET_EXEC
					? 0
					: map_start - (phdr.p_vaddr - phdr.p_offset + map_offset);
			found = true;
		}
	}
	err = found ? 0 : -ENOEXEC;
out:
	elf_end(elf);
	return err;
}

/* The libdwfl address of file offset off in obj, or 0 when no segment holds it. */
static uint64_t object_address(const struct sym_object *obj, uint64_t off)
{
	size_t i;

	for (i = 0; i < obj->nsegs; i++) {
		const struct sym_segment *s = &obj->segs[i];

		if (off >= (s->offset & PAGE_MASK_4K) && off < s->offset + s->filesz)
			return off - s->offset + s->vaddr + obj->bias;
	}
	return 0;
}

/* Copies the target's vdso (it has no file) into a memfd that libdwfl can read like a file. */
static int open_vdso(pid_t pid, const struct proc_map *map)
{
	size_t len = map->end - map->start;
	char path[64];
	void *buf;
	int mem, fd = -1;

	if (len == 0 || len > (64u << 20))
		return -EINVAL;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	if (mem < 0) {
		fd = -errno;
		goto out;
	}
	if (pread(mem, buf, len, (off_t)map->start) != (ssize_t)len) {
		fd = -EIO;
		goto out_close;
	}
	fd = memfd_create("smolder-vdso", MFD_CLOEXEC);
	if (fd < 0) {
		fd = -errno;
		goto out_close;
	}
	if (write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		fd = -EIO;
	}
out_close:
	close(mem);
out:
	free(buf);
	return fd;
}

/* Opens a mapped object: /proc/PID/map_files works across mount namespaces and for deleted files;
 * /proc/PID/root/PATH is the fallback where map_files is refused. Returns an fd or -errno. */
static int open_object(struct symbolizer *sym, const struct proc_map *map, const char *path)
{
	char buf[4096];
	int fd;

	if (!strcmp(map->path, "[vdso]"))
		return sym->offline ? -ENOENT : open_vdso(sym->pid, map);
	if (sym->offline) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		return fd >= 0 ? fd : -errno;
	}
	if (proc_maps_file_path(sym->pid, map, buf, sizeof(buf)) == 0) {
		fd = open(buf, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	if (snprintf(buf, sizeof(buf), "/proc/%d/root%s", (int)sym->pid, path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	fd = open(buf, O_RDONLY | O_CLOEXEC);
	return fd >= 0 ? fd : -errno;
}

static char *clean_path(const char *path)
{
	static const char deleted[] = " (deleted)";
	size_t len = strlen(path), dlen = sizeof(deleted) - 1;

	if (len > dlen && !strcmp(path + len - dlen, deleted))
		len -= dlen;
	return strndup(path, len);
}

static int push_module(struct sym_module ***v, size_t *n, size_t *cap, struct sym_module *mod)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		struct sym_module **p = realloc(*v, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = ncap;
	}
	(*v)[(*n)++] = mod;
	return 0;
}

static int push_object(struct symbolizer *sym, struct sym_object *obj)
{
	if (sym->nobjects == sym->objects_cap) {
		size_t ncap = sym->objects_cap ? sym->objects_cap * 2 : 32;
		struct sym_object **p = realloc(sym->objects, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		sym->objects = p;
		sym->objects_cap = ncap;
	}
	sym->objects[sym->nobjects++] = obj;
	return 0;
}

/* The object already opened for map's file (same device, inode and path), or NULL. */
static struct sym_object *find_object(const struct symbolizer *sym, const struct proc_map *map,
				      const char *path)
{
	size_t i;

	for (i = 0; i < sym->nobjects; i++) {
		struct sym_object *obj = sym->objects[i];

		if (obj->inode == map->inode && obj->dev_major == map->dev_major &&
		    obj->dev_minor == map->dev_minor && !strcmp(obj->path, path))
			return obj;
	}
	return NULL;
}

/* Opens the object behind maps[0] and reports it to libdwfl. An object that cannot be opened is
 * still created (without a libdwfl module): it names its frames module+0xOFFSET and is not tried
 * again. Must run between dwfl_report_begin_add and dwfl_report_end. */
static int open_sym_object(struct symbolizer *sym, const struct proc_map *map, char *path,
			   struct sym_object **out)
{
	struct sym_object *obj;
	const char *base;
	char dwfl_name[64];
	int fd, err = -ENOMEM;

	obj = calloc(1, sizeof(*obj));
	if (!obj) {
		free(path);
		return -ENOMEM;
	}
	obj->path = path;
	base = strrchr(obj->path, '/');
	obj->name = strdup(base ? base + 1 : obj->path);
	if (!obj->name)
		goto err_free;
	obj->inode = map->inode;
	obj->dev_major = map->dev_major;
	obj->dev_minor = map->dev_minor;

	fd = open_object(sym, map, obj->path);
	if (fd < 0) {
		log_debug("symbolizer: cannot open %s: %s", obj->path, strerror(-fd));
	} else if (read_segments(obj, fd, map->start, map->offset) != 0) {
		log_debug("symbolizer: %s is not an ELF object with a matching segment", obj->path);
		close(fd);
	} else {
		/* Every report gets a name of its own. libdwfl takes a report with the name, start
		 * and end of an existing module but another fd as an overlap: it marks the existing
		 * module for removal and dwfl_report_end frees it while our index still uses it
		 * (the crash on node, whose ET_EXEC text is mapped twice and so was reported twice
		 * at bias 0). Objects are opened once each (find_object), so nothing else can make
		 * libdwfl drop a module. */
		snprintf(dwfl_name, sizeof(dwfl_name), "%.40s#%" PRIu64, obj->name,
			 sym->dwfl_names++);
		/* On success libdwfl owns fd and keeps it open: resolution outlives the target. */
		obj->dwfl_mod =
			dwfl_report_elf(sym->dwfl, dwfl_name, obj->path, fd, obj->bias, true);
		if (!obj->dwfl_mod) {
			log_debug("symbolizer: libdwfl rejected %s: %s", obj->path,
				  dwfl_errmsg(-1));
			close(fd);
		}
	}
	if (obj->dwfl_mod) {
		const unsigned char *bits;
		GElf_Addr vaddr;
		int n = dwfl_module_build_id(obj->dwfl_mod, &bits, &vaddr);

		for (int i = 0; i < n && i < 64; i++)
			snprintf(obj->build_id + 2 * i, 3, "%02x", bits[i]);
		obj->index = module_index_new(obj->dwfl_mod);
		if (!obj->index)
			goto err_free;
		sym->stats.modules++;
	}
	err = push_object(sym, obj);
	if (err)
		goto err_free;
	*out = obj;
	return 0;

err_free:
	/* A reported module stays in libdwfl (it cannot be withdrawn) and is freed by dwfl_end. */
	object_free(obj);
	return err;
}

/* Creates the placement for maps[0..n) (one object's consecutive mappings), opening the object
 * unless it is open already. Must run between dwfl_report_begin_add and dwfl_report_end. */
static int add_object(struct symbolizer *sym, const struct proc_map *maps, size_t n,
		      struct sym_module **out)
{
	struct sym_module *mod;
	char *path;
	size_t i;
	int err = -ENOMEM;

	*out = NULL;
	mod = calloc(1, sizeof(*mod));
	if (!mod)
		return -ENOMEM;
	mod->maps = calloc(n, sizeof(*mod->maps));
	path = clean_path(maps[0].path);
	if (!mod->maps || !path) {
		free(path);
		goto err_free;
	}
	mod->start = maps[0].start;
	mod->end = maps[n - 1].end;
	for (i = 0; i < n; i++)
		mod->maps[i] = (struct sym_mapping){maps[i].start, maps[i].end, maps[i].offset};
	mod->nmaps = n;
	mod->obj = find_object(sym, &maps[0], path);
	if (mod->obj) {
		free(path);
	} else {
		err = open_sym_object(sym, &maps[0], path, &mod->obj);
		if (err)
			goto err_free;
	}
	err = push_module(&sym->modules, &sym->nmodules, &sym->modules_cap, mod);
	if (err)
		goto err_free;
	*out = mod;
	return 0;

err_free:
	module_free(mod);
	return err;
}

static int module_cmp(const void *a, const void *b)
{
	const struct sym_module *x = *(struct sym_module *const *)a;
	const struct sym_module *y = *(struct sym_module *const *)b;

	return (x->start > y->start) - (x->start < y->start);
}

static bool same_object(const struct proc_map *a, const struct proc_map *b)
{
	return a->inode == b->inode && a->dev_major == b->dev_major &&
	       a->dev_minor == b->dev_minor && !strcmp(a->path, b->path) && b->offset > a->offset;
}

/* Whether the current table already holds this object at this place. Drops overlapping modules
 * that are not it (an object unmapped and something else mapped there) from the table. */
static bool table_has(struct symbolizer *sym, const struct proc_map *first, uint64_t end)
{
	size_t i, out = 0;
	bool found = false;

	for (i = 0; i < sym->ntable; i++) {
		struct sym_module *m = sym->table[i];
		const struct sym_object *o = m->obj;

		if (m->start == first->start && o->inode == first->inode &&
		    o->dev_major == first->dev_major && o->dev_minor == first->dev_minor &&
		    !strncmp(o->path, first->path, strlen(o->path)))
			found = true;
		else if (m->start < end && first->start < m->end)
			continue; /* replaced: stays owned by sym->modules, leaves the table */
		sym->table[out++] = m;
	}
	sym->ntable = out;
	return found;
}

/* Reports every object with executable code in maps that the table does not hold yet. */
static int add_objects(struct symbolizer *sym, const struct proc_maps *maps)
{
	size_t i = 0, j;
	int err = 0;

	dwfl_report_begin_add(sym->dwfl);
	while (i < maps->n && !err) {
		const struct proc_map *m = &maps->maps[i];
		bool exec = m->perms & PROC_MAP_EXEC;
		struct sym_module *mod;

		j = i + 1;
		if (m->path[0] != '/' && strcmp(m->path, "[vdso]") != 0) {
			/* JIT code: anonymous ("" or "[anon:NAME]") and executable. */
			if (exec && (!m->path[0] || !strncmp(m->path, "[anon:", 6)))
				err = symbolizer_jit_note_anon_exec(sym, m->start, m->end);
			i = j;
			continue;
		}
		while (j < maps->n && same_object(&maps->maps[j - 1], &maps->maps[j])) {
			exec |= maps->maps[j].perms & PROC_MAP_EXEC;
			j++;
		}
		if (exec && !table_has(sym, m, maps->maps[j - 1].end)) {
			err = add_object(sym, m, j - i, &mod);
			if (!err)
				err = push_module(&sym->table, &sym->ntable, &sym->table_cap, mod);
		}
		i = j;
	}
	if (dwfl_report_end(sym->dwfl, NULL, NULL) != 0 && !err)
		err = -EINVAL;
	if (sym->ntable > 1) /* qsort(NULL, 0) is undefined */
		qsort(sym->table, sym->ntable, sizeof(*sym->table), module_cmp);
	return err;
}

/* ---- construction ---- */

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
		err = add_objects(sym, &maps);
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
	err = add_objects(sym, maps);
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
		module_free(sym->modules[i]);
	free(sym->modules);
	/* The indexes point into libdw data: free them before libdwfl closes it. */
	for (i = 0; i < sym->nobjects; i++)
		object_free(sym->objects[i]);
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
		err = add_objects(sym, &maps);
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
	err = add_objects(sym, maps);
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
	dwfl_addr = obj->index ? object_address(obj, offset) : 0;
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
