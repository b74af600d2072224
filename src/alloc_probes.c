/* alloc_probes.c: allocator uprobes per target process and object file (alloc_probes.h). Each
 * file's allocator functions are scanned once (by device and inode) and attached for every
 * process that maps it, with that process as the uprobe's filter. */
#include "smolder/alloc_probes.h"
#include "smolder/alloc_symbols.h"
#include "smolder/events.h"
#include "smolder/log.h"
#include "smolder/proc_maps.h"
#include "smolder/u64_map.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* libstdc++'s demangler (the Itanium C++ ABI entry point), as the symbolizer uses it. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* BPF_TRACE_UPROBE_MULTI and BPF_F_UPROBE_MULTI_RETURN (Linux 6.6): Debian 12's headers and libbpf
 * 1.1 predate them. */
#define ATTACH_UPROBE_MULTI 48
#define UPROBE_MULTI_RETURN 1u

struct object_id {
	uint64_t dev, inode;
};

/* A file's allocator functions, scanned once. */
struct scanned_file {
	struct object_id id;
	struct alloc_probe_set set; /* n == 0: none (or unreadable) */
	bool counted;		    /* in the object/point counts */
};

struct probed_process {
	pid_t pid;
	bool gone;
	struct object_id *objects; /* files looked at for this process (with or without probes) */
	size_t n_objects;
};

struct alloc_probes {
	struct alloc_probe_programs progs;
	struct bpf_link **links; /* per-function uprobes */
	size_t n_links, cap_links;
	/* With uprobe_multi links (Linux 6.6+): one link per program, object and process instead
	 * of one per probe point. Removing a uprobe waits for an RCU grace period (about 0.1 s
	 * here, one after another under the kernel's event mutex): the 20 single links of a plain
	 * C target took 2 s at the end of every run; a multi link waits once for all its points. */
	int *multi_fds;
	size_t n_multi_fds;
	struct scanned_file *files;
	size_t n_files;
	struct probed_process *procs;
	size_t n_procs;
	struct u64_map proc_index; /* pid -> index in procs */
	size_t n_probe_objects, n_points, n_emulated;
	char **names; /* allocator function names shown as leaf frames, by id - 1 */
	size_t n_names;
};

struct alloc_probes *alloc_probes_new(const struct alloc_probe_programs *progs)
{
	struct alloc_probes *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->progs = *progs;
	return p;
}

struct link_destroyer {
	struct bpf_link **links;
	int *fds;
	size_t n, first, stride;
};

static void *link_destroyer_run(void *arg)
{
	struct link_destroyer *d = arg;

	for (size_t i = d->first; i < d->n; i += d->stride) {
		if (d->links)
			bpf_link__destroy(d->links[i]);
		else
			close(d->fds[i]);
	}
	return NULL;
}

/* Closing a uprobe link is slow: perf_uprobe_destroy (and a multi link's release) waits for an RCU
 * tasks-trace grace period under the kernel's event_mutex, so the 124 probe links of a redis run
 * took 17-19 s to close one after the other on this machine under load (~10 s idle). Closed from
 * several threads, the parts outside the mutex overlap: 10 s under the same load (kernel 6.18, 2
 * CPUs, load 11-30). The links of a process tree (one set per process) are closed the same way. */
static void destroy_links(struct bpf_link **links, int *fds, size_t n)
{
	enum { DESTROYERS = 32 };
	struct link_destroyer d[DESTROYERS];
	pthread_t threads[DESTROYERS];
	bool started[DESTROYERS] = {false};
	size_t stride = n < DESTROYERS ? n : DESTROYERS;

	for (size_t k = 0; k < stride; k++) {
		d[k] = (struct link_destroyer){links, fds, n, k, stride};
		started[k] = pthread_create(&threads[k], NULL, link_destroyer_run, &d[k]) == 0;
	}
	for (size_t k = 0; k < stride; k++) {
		if (started[k])
			pthread_join(threads[k], NULL);
		else /* no thread: do its share here */
			link_destroyer_run(&d[k]);
	}
}

void alloc_probes_free(struct alloc_probes *p)
{
	if (!p)
		return;
	destroy_links(NULL, p->multi_fds, p->n_multi_fds);
	free(p->multi_fds);
	destroy_links(p->links, NULL, p->n_links);
	free(p->links);
	for (size_t i = 0; i < p->n_files; i++)
		alloc_probe_set_release(&p->files[i].set);
	free(p->files);
	for (size_t i = 0; i < p->n_procs; i++)
		free(p->procs[i].objects);
	free(p->procs);
	u64_map_release(&p->proc_index);
	for (size_t i = 0; i < p->n_names; i++)
		free(p->names[i]);
	free(p->names);
	free(p);
}

static int link_add(struct alloc_probes *p, struct bpf_link *link)
{
	if (p->n_links == p->cap_links) {
		size_t cap = p->cap_links ? p->cap_links * 2 : 64;
		struct bpf_link **grown = realloc(p->links, cap * sizeof(*grown));

		if (!grown) {
			bpf_link__destroy(link);
			return -ENOMEM;
		}
		p->links = grown;
		p->cap_links = cap;
	}
	p->links[p->n_links++] = link;
	return 0;
}

/* The id (1-based) for an allocator function name, shown as C++ code shows it. */
static int name_id(struct alloc_probes *p, const char *symbol, uint32_t *id)
{
	char *name = NULL, **grown;
	int status = -1;

	if (strncmp(symbol, "_Z", 2) == 0)
		name = __cxa_demangle(symbol, NULL, NULL, &status);
	if (!name || status != 0) {
		free(name);
		name = strdup(symbol);
		if (!name)
			return -ENOMEM;
	}
	for (size_t i = 0; i < p->n_names; i++) {
		if (strcmp(p->names[i], name) == 0) {
			free(name);
			*id = (uint32_t)i + 1;
			return 0;
		}
	}
	grown = realloc(p->names, (p->n_names + 1) * sizeof(*grown));
	if (!grown) {
		free(name);
		return -ENOMEM;
	}
	p->names = grown;
	p->names[p->n_names++] = name;
	*id = (uint32_t)p->n_names;
	return 0;
}

const char *alloc_probes_name(const struct alloc_probes *p, uint32_t id)
{
	return id == 0 || id > p->n_names ? NULL : p->names[id - 1];
}

static struct bpf_program *entry_program(struct alloc_probes *p, const struct alloc_probe_point *pt)
{
	if (pt->kind == SMOLDER_ALLOC_FREE)
		return pt->is_delete ? p->progs.delete_enter : p->progs.free_enter;
	return p->progs.alloc_enter;
}

static int attach_point(struct alloc_probes *p, pid_t pid, const char *path,
			const struct alloc_probe_point *pt)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts);
	struct bpf_program *prog = entry_program(p, pt);
	struct bpf_link *link;
	uint32_t alloc_id = 0;
	int err;

	if (pt->kind != SMOLDER_ALLOC_FREE) {
		err = name_id(p, pt->name, &alloc_id);
		if (err)
			return err;
		if (alloc_id > SMOLDER_ALLOC_COOKIE_ID)
			alloc_id = 0; /* more names than the cookie holds: no leaf frame */
	}
	if (pt->retprobe) {
		/* Return probe first: a call that enters after the entry probe is live must also
		 * come back through ours, or its thread would look "inside the allocator" forever.
		 * Same address as the entry probe: the kernel shares one breakpoint for both, and
		 * the probe point is before any stack adjustment, so [sp] is the return address. */
		opts.retprobe = true;
		link = bpf_program__attach_uprobe_opts(p->progs.alloc_return, pid, path,
						       pt->file_offset, &opts);
		if (!link)
			return -errno;
		err = link_add(p, link);
		if (err)
			return err;
	}
	opts.retprobe = false;
	opts.bpf_cookie = alloc_id | (uint64_t)pt->kind << SMOLDER_ALLOC_COOKIE_KIND_SHIFT;
	link = bpf_program__attach_uprobe_opts(prog, pid, path, pt->file_offset, &opts);
	if (!link)
		return -errno;
	return link_add(p, link);
}

/* BPF_LINK_CREATE's uprobe_multi attributes (union bpf_attr.link_create, Linux 6.6). */
struct link_create_uprobe_multi {
	uint32_t prog_fd, target_fd, attach_type, flags;
	uint64_t path, offsets, ref_ctr_offsets, cookies;
	uint32_t cnt, multi_flags, pid;
};

/* One uprobe_multi link of prog on offsets[0..cnt) of path for pid; its fd is kept. 0 or -errno. */
static int multi_link(struct alloc_probes *p, pid_t pid, struct bpf_program *prog, const char *path,
		      const uint64_t *offsets, const uint64_t *cookies, uint32_t cnt,
		      uint32_t flags)
{
	union bpf_attr attr;
	struct link_create_uprobe_multi a = {
		.prog_fd = (uint32_t)bpf_program__fd(prog),
		.attach_type = ATTACH_UPROBE_MULTI,
		.path = (uint64_t)(uintptr_t)path,
		.offsets = (uint64_t)(uintptr_t)offsets,
		.cookies = (uint64_t)(uintptr_t)cookies,
		.cnt = cnt,
		.multi_flags = flags,
		.pid = (uint32_t)pid,
	};
	int *grown, fd;

	_Static_assert(sizeof(a) <= sizeof(attr), "uprobe_multi attributes fit union bpf_attr");
	if (cnt == 0)
		return 0;
	grown = realloc(p->multi_fds, (p->n_multi_fds + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	p->multi_fds = grown;
	memset(&attr, 0, sizeof(attr));
	memcpy(&attr, &a, sizeof(a));
	fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	if (fd < 0)
		return -errno;
	p->multi_fds[p->n_multi_fds++] = fd;
	return 0;
}

/* The set with uprobe_multi links: the return probes first (a call that enters after the entry
 * probe is live must come back through ours), then the entries, one link per program. */
static int attach_set_multi(struct alloc_probes *p, pid_t pid, const char *path,
			    const struct alloc_probe_set *set)
{
	/* Offsets per link: [0] returns, [1] allocating entries, [2] free, [3] delete; [4] holds
	 * the cookies of [1]. */
	struct bpf_program *progs[4] = {p->progs.alloc_return, p->progs.alloc_enter,
					p->progs.free_enter, p->progs.delete_enter};
	size_t stride = set->n + 1;
	uint64_t *block = calloc(5 * stride, sizeof(uint64_t)), *cookies;
	uint32_t n[4] = {0};
	int err = 0;

	if (!block)
		return -ENOMEM;
	cookies = block + 4 * stride;
	for (size_t i = 0; i < set->n && !err; i++) {
		const struct alloc_probe_point *pt = &set->points[i];
		uint32_t id = 0, k;

		if (pt->retprobe)
			block[n[0]++] = pt->file_offset;
		if (pt->kind == SMOLDER_ALLOC_FREE) {
			k = pt->is_delete ? 3 : 2;
			block[k * stride + n[k]++] = pt->file_offset;
			continue;
		}
		err = name_id(p, pt->name, &id);
		if (id > SMOLDER_ALLOC_COOKIE_ID)
			id = 0; /* more names than the cookie holds: no leaf frame */
		cookies[n[1]] = id | (uint64_t)pt->kind << SMOLDER_ALLOC_COOKIE_KIND_SHIFT;
		block[stride + n[1]++] = pt->file_offset;
	}
	for (uint32_t k = 0; k < 4 && !err; k++)
		err = multi_link(p, pid, progs[k], path, block + k * stride,
				 k == 1 ? cookies : NULL, n[k], k == 0 ? UPROBE_MULTI_RETURN : 0);
	free(block);
	return err;
}

/* The file's allocator functions, scanned on first use: symbols read from scan_path (or
 * attach_path, or name, when that fails). NULL only when out of memory. */
static struct scanned_file *file_scan(struct alloc_probes *p, struct object_id id,
				      const char *scan_path, const char *attach_path,
				      const char *name)
{
	struct scanned_file *grown, *f;
	int err;

	for (size_t i = 0; i < p->n_files; i++) {
		if (p->files[i].id.dev == id.dev && p->files[i].id.inode == id.inode)
			return &p->files[i];
	}
	grown = realloc(p->files, (p->n_files + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	p->files = grown;
	f = &p->files[p->n_files++];
	memset(f, 0, sizeof(*f));
	f->id = id;
	/* /proc/PID/map_files needs CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE) where ptrace read
	 * access suffices for /proc/PID/root: fall back as the unwinder and symbolizer do, then
	 * to the path as smolder sees it. */
	err = alloc_symbols_scan(scan_path, &f->set);
	if ((err == -ENOENT || err == -EACCES || err == -EPERM) && strcmp(attach_path, scan_path))
		err = alloc_symbols_scan(attach_path, &f->set);
	if (err == -ENOENT || err == -EACCES || err == -EPERM)
		err = alloc_symbols_scan(name, &f->set);
	if (err) {
		log_debug("leaks: cannot read symbols of %s: %s", name, strerror(-err));
		f->set.points = NULL;
		f->set.n = 0;
	}
	return f;
}

/* Probes one object for pid. Returns the points attached or -errno (privilege only: other
 * failures are warned about and skipped). */
static int attach_file(struct alloc_probes *p, pid_t pid, struct object_id id,
		       const char *scan_path, const char *attach_path, const char *name)
{
	struct scanned_file *f = file_scan(p, id, scan_path, attach_path, name);
	const struct alloc_probe_set *set;
	int err, attached = 0;

	if (!f)
		return -ENOMEM;
	set = &f->set;
	if (set->n == 0)
		return 0;
	if (p->progs.multi) {
		err = attach_set_multi(p, pid, attach_path, set);
		if (err) {
			if (err != -ESRCH)
				log_warn("leaks: cannot probe the allocator functions of %s in "
					 "pid %d: %s",
					 name, (int)pid, strerror(-err));
			return err == -EPERM || err == -EACCES ? err : 0;
		}
		attached = (int)set->n;
	} else {
		for (size_t i = 0; i < set->n; i++) {
			err = attach_point(p, pid, attach_path, &set->points[i]);
			if (err) {
				log_warn("leaks: cannot probe %s in %s (pid %d): %s",
					 set->points[i].name, name, (int)pid, strerror(-err));
				if (err == -EPERM || err == -EACCES)
					return err;
				continue;
			}
			attached++;
		}
	}
	if (attached && !f->counted) {
		f->counted = true;
		p->n_probe_objects++;
		p->n_points += set->n;
		for (size_t i = 0; i < set->n; i++) {
			p->n_emulated += set->points[i].emulated;
			log_debug("leaks: probing %s in %s at +%u (%s)", set->points[i].name, name,
				  set->points[i].probe_delta,
				  set->points[i].emulated ? "emulated" : "single-stepped");
		}
	}
	return attached;
}

/* The process record of pid, made on first use. NULL when out of memory. */
static struct probed_process *process_get(struct alloc_probes *p, pid_t pid)
{
	struct probed_process *grown;
	uint64_t index;

	if (u64_map_get(&p->proc_index, (uint64_t)pid, &index))
		return &p->procs[index];
	grown = realloc(p->procs, (p->n_procs + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	p->procs = grown;
	if (u64_map_put(&p->proc_index, (uint64_t)pid, p->n_procs))
		return NULL;
	memset(&p->procs[p->n_procs], 0, sizeof(p->procs[0]));
	p->procs[p->n_procs].pid = pid;
	return &p->procs[p->n_procs++];
}

/* True when the process has looked at the file already; else remembers it. -ENOMEM. */
static int process_object_seen(struct probed_process *pr, struct object_id id)
{
	struct object_id *grown;

	for (size_t i = 0; i < pr->n_objects; i++) {
		if (pr->objects[i].dev == id.dev && pr->objects[i].inode == id.inode)
			return 1;
	}
	grown = realloc(pr->objects, (pr->n_objects + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	pr->objects = grown;
	pr->objects[pr->n_objects++] = id;
	return 0;
}

int alloc_probes_add_process(struct alloc_probes *p, pid_t pid)
{
	struct probed_process *pr = process_get(p, pid);

	if (!pr)
		return -ENOMEM;
	pr->gone = false;
	return 0;
}

int alloc_probes_attach_paths(struct alloc_probes *p, pid_t pid, char *const *paths, size_t n)
{
	struct probed_process *pr = process_get(p, pid);
	int err, total = 0;

	if (!pr)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		struct object_id id;

		if (stat(paths[i], &st) != 0)
			continue;
		id.dev = (uint64_t)major(st.st_dev) << 32 | minor(st.st_dev);
		id.inode = st.st_ino;
		err = process_object_seen(pr, id);
		if (err < 0)
			return err;
		if (err)
			continue;
		err = attach_file(p, pid, id, paths[i], paths[i], paths[i]);
		if (err < 0)
			return err;
		total += err;
	}
	return total;
}

int alloc_probes_attach_process(struct alloc_probes *p, pid_t pid)
{
	struct probed_process *pr = process_get(p, pid);
	char scan_path[4096], attach_path[4096];
	struct proc_maps maps;
	int err, total = 0;

	if (!pr)
		return -ENOMEM;
	pr->gone = false; /* a new process with a forgotten one's pid */
	err = proc_maps_read(pid, &maps);
	if (err)
		return err;
	if (maps.n == 0)
		err = -ESRCH; /* a zombie's maps read as empty */
	for (size_t i = 0; i < maps.n; i++) {
		const struct proc_map *m = &maps.maps[i];
		struct object_id id = {(uint64_t)m->dev_major << 32 | m->dev_minor, m->inode};

		if (!(m->perms & PROC_MAP_EXEC) || m->path[0] != '/' || m->inode == 0)
			continue;
		if (strstr(m->path, " (deleted)"))
			continue;
		err = process_object_seen(pr, id);
		if (err < 0)
			goto out;
		if (err) {
			err = 0;
			continue;
		}
		if (proc_maps_file_path(pid, m, scan_path, sizeof(scan_path)))
			continue;
		/* Attach through /proc/PID/root so a target in another mount namespace works
		 * too. */
		snprintf(attach_path, sizeof(attach_path), "/proc/%d/root%s", (int)pid, m->path);
		err = attach_file(p, pid, id, scan_path, attach_path, m->path);
		if (err < 0)
			goto out;
		total += err;
		err = 0;
	}
out:
	proc_maps_release(&maps);
	return err < 0 ? err : total;
}

void alloc_probes_forget(struct alloc_probes *p, pid_t pid)
{
	uint64_t index;

	if (u64_map_get(&p->proc_index, (uint64_t)pid, &index)) {
		p->procs[index].gone = true;
		/* A later process reusing the pid starts over (its objects are looked at again). */
		free(p->procs[index].objects);
		p->procs[index].objects = NULL;
		p->procs[index].n_objects = 0;
	}
}

size_t alloc_probes_processes(const struct alloc_probes *p, pid_t *pids, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_procs; i++) {
		if (p->procs[i].gone)
			continue;
		if (n < max)
			pids[n] = p->procs[i].pid;
		n++;
	}
	return n;
}

void alloc_probes_counts(const struct alloc_probes *p, size_t *objects, size_t *points,
			 size_t *emulated)
{
	*objects = p->n_probe_objects;
	*points = p->n_points;
	*emulated = p->n_emulated;
}
