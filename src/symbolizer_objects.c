/* symbolizer_objects.c: the symbolizer's objects and placements: opening each mapped object file
 * once (through /proc/PID/map_files while the target lives; the vdso from its memory), its PT_LOAD
 * segments, reporting it to libdwfl under a unique name at its load bias, and the table of
 * placements in force. Resolution, the cache and generations stay in symbolizer.c. */
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
#include <unistd.h>

#include "smolder/log.h"
#include "smolder/proc_maps.h"
#include "symbolizer_internal.h"

void symbolizer_object_free(struct sym_object *obj)
{
	if (!obj)
		return;
	module_index_free(obj->index);
	free(obj->segs);
	free(obj->path);
	free(obj->name);
	free(obj);
}

void symbolizer_module_free(struct sym_module *mod)
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
uint64_t symbolizer_object_address(const struct sym_object *obj, uint64_t off)
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
	symbolizer_object_free(obj);
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
	symbolizer_module_free(mod);
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
int symbolizer_add_objects(struct symbolizer *sym, const struct proc_maps *maps)
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
