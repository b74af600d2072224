/* ops_probe.c: the --ops-probe collector (see ops_probe.h): resolves [LIB:]FUNCTION to file
 * offsets with libelf (the program's own file, or a library: the loader's list in launch mode,
 * /proc/PID/maps otherwise), attaches bpf/ops_probe.bpf.c's uprobe with the target's pid filter
 * (launch mode: by path while the child is held, so calls from the first instruction count) and
 * reads the per-CPU counter. */
#include "smolder/ops_probe.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops_probe.skel.h"
#include "smolder/cli.h"
#include "smolder/launch_objects.h"
#include "smolder/log.h"
#include "smolder/session.h"

#define OPS_PROBE_MAX_OFFSETS 16

struct ops_probe {
	const char *spec;
	struct ops_probe_bpf *skel;
	struct bpf_link *links[OPS_PROBE_MAX_OFFSETS];
	size_t n_links;
};

struct ops_probe *ops_probe_new(const char *spec)
{
	struct ops_probe *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->spec = spec;
	return op;
}

void ops_probe_free(struct ops_probe *op)
{
	if (!op)
		return;
	for (size_t i = 0; i < op->n_links; i++)
		bpf_link__destroy(op->links[i]);
	ops_probe_bpf__destroy(op->skel);
	free(op);
}

const char *ops_probe_split(const char *spec, size_t *lib_len)
{
	for (const char *p = spec; (p = strchr(p, ':')); p += 2) {
		if (p[1] != ':') {
			*lib_len = (size_t)(p - spec);
			return p + 1;
		}
	}
	*lib_len = 0;
	return spec;
}

/* A virtual address to its file offset, through the PT_LOAD segment holding it. */
static int vaddr_offset(Elf *elf, uint64_t vaddr, uint64_t *off)
{
	size_t n;

	if (elf_getphdrnum(elf, &n) != 0)
		return -ENOEXEC;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

/* name, or a GCC clone of it that is called in its place (name.constprop.N, name.isra.N, and
 * their combinations); not name.part.N or name.cold, which run inside a call of name. */
static bool symbol_matches(const char *sym, const char *name)
{
	size_t len = strlen(name);
	const char *p = sym + len;

	if (strncmp(sym, name, len) != 0)
		return false;
	while (*p) {
		if (strncmp(p, ".constprop.", 11) == 0)
			p += 11;
		else if (strncmp(p, ".isra.", 6) == 0)
			p += 6;
		else
			return false;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return true;
}

int ops_probe_find_function(const char *path, const char *name, uint64_t *offsets, size_t max,
			    size_t *n)
{
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd;

	*n = 0;
	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		if (elf)
			elf_end(elf);
		close(fd);
		return -ENOEXEC;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) || !sh.sh_entsize ||
		    !(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize && *n < max; i++) {
			GElf_Sym sym;
			const char *sym_name;
			uint64_t off;
			bool seen = false;

			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    (GELF_ST_TYPE(sym.st_info) != STT_FUNC &&
			     GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC) ||
			    !(sym_name = elf_strptr(elf, sh.sh_link, sym.st_name)) ||
			    !symbol_matches(sym_name, name) ||
			    vaddr_offset(elf, sym.st_value, &off))
				continue;
			/* .symtab and .dynsym name the same code: one probe per address. */
			for (size_t k = 0; k < *n; k++)
				seen = seen || offsets[k] == off;
			if (!seen)
				offsets[(*n)++] = off;
		}
	}
	elf_end(elf);
	close(fd);
	return 0;
}

static bool lib_matches(const char *path, const char *lib, size_t lib_len)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, lib, lib_len) == 0;
}

/* The file to probe: launch mode, the program or a library its loader will map; -p, the
 * program (/proc/PID/exe) or a mapped library (through /proc/PID/root). 0 or -ENOENT. */
static int ops_probe_object(struct session *s, const char *lib, size_t lib_len, char *out,
			    size_t len)
{
	struct launch_objects objects;
	char line[PATH_MAX + 256];
	FILE *fp;
	int rc = -ENOENT;

	if (s->launched) {
		if (launch_objects_resolve(s->opts.launch_argv[0], &objects))
			return -ENOENT;
		for (size_t i = 0; i < objects.n && rc; i++) {
			if ((lib_len == 0 && i == 0) ||
			    (lib_len && lib_matches(objects.paths[i], lib, lib_len))) {
				snprintf(out, len, "%s", objects.paths[i]);
				rc = 0;
			}
		}
		launch_objects_release(&objects);
		return rc;
	}
	if (lib_len == 0) {
		snprintf(out, len, "/proc/%d/exe", (int)s->pid);
		return 0;
	}
	snprintf(line, sizeof(line), "/proc/%d/maps", (int)s->pid);
	fp = fopen(line, "re");
	if (!fp)
		return -errno;
	while (rc && fgets(line, sizeof(line), fp)) {
		char *path = strchr(line, '/');

		if (!path)
			continue;
		path[strcspn(path, "\n")] = '\0';
		if (lib_matches(path, lib, lib_len)) {
			snprintf(out, len, "/proc/%d/root%s", (int)s->pid, path);
			rc = 0;
		}
	}
	fclose(fp);
	return rc;
}

static int ops_probe_attach(void *ctx, struct session *s)
{
	struct ops_probe *op = ctx;
	uint64_t offsets[OPS_PROBE_MAX_OFFSETS];
	size_t lib_len, n = 0;
	const char *func = ops_probe_split(op->spec, &lib_len);
	char path[PATH_MAX + 64];
	int err;

	if (!*func) {
		log_error("--ops-probe '%s': no function name", op->spec);
		return SMOLDER_EXIT_USAGE;
	}
	if (ops_probe_object(s, op->spec, lib_len, path, sizeof(path)) != 0) {
		log_error("--ops-probe '%s': the target loads no object whose name starts with "
			  "'%.*s'",
			  op->spec, (int)lib_len, op->spec);
		return SMOLDER_EXIT_USAGE;
	}
	err = ops_probe_find_function(path, func, offsets, OPS_PROBE_MAX_OFFSETS, &n);
	if (err || n == 0) {
		log_error("--ops-probe '%s': no function %s in %s%s%s", op->spec, func, path,
			  err ? ": " : " (looked in .symtab and .dynsym)",
			  err ? strerror(-err) : "");
		return SMOLDER_EXIT_USAGE;
	}
	op->skel = ops_probe_bpf__open();
	if (!op->skel)
		goto bpf_fail;
	op->skel->rodata->target_tgid = (uint32_t)s->pid;
	if (ops_probe_bpf__load(op->skel))
		goto bpf_fail;
	for (size_t i = 0; i < n; i++) {
		op->links[i] = bpf_program__attach_uprobe(op->skel->progs.ops_probe_hit, false,
							  s->pid, path, (size_t)offsets[i]);
		if (!op->links[i])
			goto bpf_fail;
		op->n_links++;
	}
	log_info("--ops-probe: counting calls of %s in %s (%zu address%s)", func, path, n,
		 n == 1 ? "" : "es");
	return SMOLDER_EXIT_OK;
bpf_fail:
	err = errno;
	log_error("--ops-probe '%s': cannot attach a uprobe to %s: %s", op->spec, path,
		  strerror(err));
	return err == EPERM || err == EACCES ? SMOLDER_EXIT_PRIVILEGE : SMOLDER_EXIT_KERNEL;
}

static int ops_probe_sum(const struct ops_probe *op, uint32_t key, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *values;

	*out = 0;
	if (!op->skel)
		return -ENODEV;
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	values = calloc((size_t)ncpu, sizeof(*values));
	if (!values)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(op->skel->maps.counts), &key, values) != 0) {
		int err = -errno;

		free(values);
		return err;
	}
	for (int i = 0; i < ncpu; i++)
		*out += values[i];
	free(values);
	return 0;
}

int ops_probe_count(void *op, uint64_t *count)
{
	return ops_probe_sum(op, 0, count);
}

uint64_t ops_probe_dropped(const struct ops_probe *op)
{
	uint64_t other = 0, failed = 0;

	if (!op)
		return 0;
	ops_probe_sum(op, 1, &other);
	ops_probe_sum(op, 2, &failed);
	return other + failed;
}

void ops_probe_plug(struct ops_probe *op, struct session_collector *plug)
{
	*plug = (struct session_collector){
		.name = "ops probe", .ctx = op, .attach = ops_probe_attach};
}
