/* unwinder_maps.c: the unwinder's model of its target's address space (unwinder.c steps the
 * frames): the target's mappings, re-read on demand at a limited rate, and the ELF objects behind
 * them (and the vdso), opened eagerly, cached by device and inode and kept after the target exits.
 * A change to the code mapped from files starts a new maps generation and is reported to the maps
 * listener. */
#include "smolder/frame.h"
#include "smolder/log.h"
#include "smolder/proc_maps.h"
#include "unwind_elf.h"
#include "unwinder_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>
#include <unistd.h>

/* The maps are re-read on demand (an ip outside every known mapping, a walk that stopped short
 * with its leaf in a known one) at most this often: a burst of samples in freshly mapped code costs
 * one re-read, a stream of garbage ips or of stacks that never complete twenty per second. */
#define REFRESH_MIN_INTERVAL_NS 50000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

const struct uw_map *unwinder_find_map(const struct unwinder *uw, uint64_t addr)
{
	const struct proc_map *p = proc_maps_find(&uw->pm, addr);

	return p ? &uw->maps[p - uw->pm.maps] : NULL;
}

bool unwinder_refresh_allowed(const struct unwinder *uw)
{
	return now_ns() - uw->last_refresh_ns >= REFRESH_MIN_INTERVAL_NS;
}

/* unwinder_find_map, re-reading the maps (rate-limited) when addr is in none of them: new code was
 * mapped (dlopen, exec) since the last read. */
const struct uw_map *unwinder_find_map_refresh(struct unwinder *uw, uint64_t addr)
{
	const struct uw_map *m = unwinder_find_map(uw, addr);

	if (!m && unwinder_refresh_allowed(uw) && unwinder_refresh_maps(uw) == 0)
		m = unwinder_find_map(uw, addr);
	return m;
}

/* ---- objects ---------------------------------------------------------------------------- */

static int add_object(struct unwinder *uw, struct uw_object *obj)
{
	struct uw_object **grown = realloc(uw->objects, (uw->n_objects + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	uw->objects = grown;
	uw->objects[uw->n_objects++] = obj;
	return 0;
}

static struct uw_object *lookup_object(const struct unwinder *uw, const struct proc_map *pm)
{
	for (size_t i = 0; i < uw->n_objects; i++) {
		struct uw_object *obj = uw->objects[i];

		if (!obj->vdso && obj->inode == pm->inode && obj->dev_major == pm->dev_major &&
		    obj->dev_minor == pm->dev_minor)
			return obj;
	}
	return NULL;
}

/* Opens the file behind pm through /proc/PID/map_files (works for deleted files and other mount
 * namespaces), falling back to /proc/PID/root/PATH. A file that cannot be used is remembered as
 * such (elf NULL) so it is not retried at every refresh. */
static struct uw_object *open_object(struct unwinder *uw, const struct proc_map *pm)
{
	struct uw_object *obj = calloc(1, sizeof(*obj));
	char path[PATH_MAX];

	if (!obj)
		return NULL;
	obj->dev_major = pm->dev_major;
	obj->dev_minor = pm->dev_minor;
	obj->inode = pm->inode;
	if (proc_maps_file_path(uw->pid, pm, path, sizeof(path)) == 0)
		obj->elf = unwind_elf_open(path);
	if (!obj->elf && pm->path[0] == '/' && !strstr(pm->path, " (deleted)") &&
	    snprintf(path, sizeof(path), "/proc/%d/root%s", (int)uw->pid, pm->path) <
		    (int)sizeof(path))
		obj->elf = unwind_elf_open(path);
	if (!obj->elf)
		log_debug("unwinder: no unwind info from %s: %s", pm->path, strerror(errno));
	if (add_object(uw, obj) < 0) {
		unwind_elf_free(obj->elf);
		free(obj);
		return NULL;
	}
	return obj;
}

/* Copies the vdso image: from the target's memory, or from our own vdso when that fails (same
 * kernel, same image) and the sizes agree. */
static uint8_t *read_vdso(pid_t pid, const struct proc_map *pm)
{
	size_t size = pm->end - pm->start;
	uint8_t *image = malloc(size);
	char path[64];
	int fd;

	if (!image)
		return NULL;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = pread(fd, image, size, (off_t)pm->start);

		close(fd);
		if (n == (ssize_t)size)
			return image;
	}
	struct proc_maps self = {0};
	unsigned long own = getauxval(AT_SYSINFO_EHDR);

	if (own && proc_maps_read(getpid(), &self) == 0) {
		const struct proc_map *mine = proc_maps_find(&self, own);
		bool same = mine && mine->end - mine->start == size;

		proc_maps_release(&self);
		if (same) {
			memcpy(image, (const void *)own, size);
			return image;
		}
	}
	free(image);
	return NULL;
}

static struct uw_object *vdso_object(struct unwinder *uw, const struct proc_map *pm)
{
	uint64_t size = pm->end - pm->start;
	struct uw_object *obj;
	uint8_t *image;

	for (size_t i = 0; i < uw->n_objects; i++)
		if (uw->objects[i]->vdso && uw->objects[i]->vdso_size == size)
			return uw->objects[i];
	obj = calloc(1, sizeof(*obj));
	if (!obj)
		return NULL;
	obj->vdso = true;
	obj->vdso_size = size;
	image = read_vdso(uw->pid, pm);
	if (image)
		obj->elf = unwind_elf_from_image(image, size);
	if (!obj->elf)
		log_debug("unwinder: no unwind info for the vdso of %d", (int)uw->pid);
	if (add_object(uw, obj) < 0) {
		unwind_elf_free(obj->elf);
		free(obj);
		return NULL;
	}
	return obj;
}

/* ---- maps ------------------------------------------------------------------------------- */

static bool maps_equal(const struct uw_map *a, size_t na, const struct uw_map *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].pm->start != b[i].pm->start || a[i].pm->end != b[i].pm->end ||
		    a[i].pm->offset != b[i].pm->offset || a[i].obj != b[i].obj ||
		    a[i].bias != b[i].bias)
			return false;
	return true;
}

static bool is_code(const struct uw_map *m)
{
	return m->obj && (m->pm->perms & PROC_MAP_EXEC);
}

/* Whether a and b map the same code from the same files at the same places (anonymous memory,
 * data and heap mappings change all the time and do not matter to names). */
static bool code_maps_equal(const struct uw_map *a, size_t na, const struct uw_map *b, size_t nb)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < na && !is_code(&a[i]))
			i++;
		while (j < nb && !is_code(&b[j]))
			j++;
		if (i == na || j == nb)
			return i == na && j == nb;
		if (a[i].pm->start != b[j].pm->start || a[i].pm->end != b[j].pm->end ||
		    a[i].pm->offset != b[j].pm->offset || a[i].obj != b[j].obj)
			return false;
		i++;
		j++;
	}
}

int unwinder_refresh_maps(struct unwinder *uw)
{
	bool new_generation;
	struct proc_maps pm = {0};
	struct uw_map *maps = NULL;
	int err;

	uw->last_refresh_ns = now_ns();
	uw->stats.map_refreshes++;
	err = proc_maps_read(uw->pid, &pm);
	if (err)
		return err; /* keep the last known maps: samples already taken still unwind */
	if (pm.n == 0) {
		/* A zombie's (or an exiting process's) maps read as empty, successfully. Its
		 * samples still queued must unwind with the maps it had, not with none. */
		err = -ESRCH;
		goto out;
	}
	maps = calloc(pm.n, sizeof(*maps));
	if (!maps) {
		err = -ENOMEM;
		goto out;
	}
	/* Open every object with code mapped first: its read-only mappings (headers, .eh_frame_hdr,
	 * .eh_frame) usually come before its executable one. Eagerly, so the objects are still
	 * there when the target has exited before its last samples are unwound. */
	for (size_t i = 0; i < pm.n; i++) {
		const struct proc_map *p = &pm.maps[i];

		if ((p->perms & PROC_MAP_EXEC) && p->inode && p->path[0] != '[' &&
		    !lookup_object(uw, p) && !open_object(uw, p)) {
			err = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < pm.n; i++) {
		const struct proc_map *p = &pm.maps[i];
		struct uw_map *m = &maps[i];
		int64_t delta;

		m->pm = p;
		if (strcmp(p->path, "[vdso]") == 0)
			m->obj = vdso_object(uw, p);
		else if (p->inode && p->path[0] != '[')
			m->obj = lookup_object(uw, p);
		if (m->obj && m->obj->elf &&
		    unwind_elf_load_delta(m->obj->elf, p->offset, &delta) == 0)
			m->bias = (int64_t)(p->start - p->offset - (uint64_t)delta);
		else
			m->obj = NULL;
	}
	new_generation = uw->have_maps && !code_maps_equal(uw->maps, uw->pm.n, maps, pm.n);
	if (!maps_equal(uw->maps, uw->pm.n, maps, pm.n)) {
		/* Cached rules and register states are keyed by ip alone: an address may now hold
		 * other code, or code that was not mapped executable yet (ld.so maps a library
		 * read-only first), whose "no rule" would otherwise stick for the whole run. */
		memset(uw->rules, 0, ((size_t)1 << RULE_CACHE_BITS) * sizeof(*uw->rules));
		if (uw->as)
			unw_flush_cache(uw->as, 0, 0);
	}
	free(uw->maps);
	uw->maps = maps;
	maps = NULL;
	proc_maps_release(&uw->pm);
	uw->pm = pm;
	pm = (struct proc_maps){0};
	if (new_generation && uw->generation < FRAME_GENERATION_MAX)
		uw->generation++; /* saturates: later changes then share the last generation */
	if ((new_generation || !uw->have_maps) && uw->listener)
		uw->listener(uw->listener_arg, uw->generation, &uw->pm);
	uw->have_maps = true;
out:
	free(maps);
	proc_maps_release(&pm);
	return err;
}
