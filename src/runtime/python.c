/* python.c: a CPython 3.8-3.13 runtime in a target process (include/smolder/python.h): finding
 * the interpreter's object and version, its symbols, the offsets (built-in table, the target's
 * PyCode_Type.tp_members, _Py_DebugOffsets on 3.13), validating them against the live
 * interpreter, splicing. Naming frames through the validated code-object cache is in
 * python_code.c; thread chains and thread names in python_threads.c. */
#include "python_internal.h"

#include "smolder/log.h"
#include "smolder/proc_maps.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PY_MAX_THREADS	      4096 /* thread states walked when validating */
#define PY_VALIDATE_TRIES     3	   /* chains read before calling the code type wrong */
#define PYTHON_TYPE_MEMBERS   240  /* PyTypeObject.tp_members, 3.8-3.13 */
#define PYTHON_TYPE_BASICSIZE 32   /* PyTypeObject.tp_basicsize */

int python_read(struct python_runtime *rt, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	ssize_t got;

	if (!addr || addr >= (1ULL << 47))
		return -EFAULT;
	got = process_vm_readv(rt->pid, &local, 1, &remote, 1, 0);
	if (got == (ssize_t)len)
		return 0;
	if (got < 0 && errno == ESRCH) {
		rt->target_gone = true;
		return -ESRCH;
	}
	return -EFAULT;
}

int python_read_u64(struct python_runtime *rt, uint64_t addr, uint64_t *out)
{
	return python_read(rt, addr, out, sizeof(*out));
}

/* ---- the interpreter's object and its symbols ---- */

struct python_symbol {
	const char *name;
	uint64_t value, size; /* link-time; value 0 when not found */
};

enum {
	SYM_RUNTIME,
	SYM_EVAL,
	SYM_EVAL_COLD,
	SYM_CODE_TYPE,
	SYM_VERSION,
	SYM_COUNT,
};

/* Looks the wanted symbols up in .symtab and .dynsym of the ELF file fd; *build_id gets the
 * file's GNU build id in hex (empty without one). Returns 0 or -errno. */
static int python_elf_symbols(int fd, struct python_symbol *syms, size_t n, char *build_id,
			      size_t id_len)
{
	Elf_Scn *scn = NULL;
	Elf *elf;

	build_id[0] = '\0';
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -ENOEXEC;
	if (elf_kind(elf) != ELF_K_ELF) {
		elf_end(elf);
		return -ENOEXEC;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_NOTE) {
			GElf_Nhdr nh;
			size_t off = 0, name_off, desc_off;

			data = elf_getdata(scn, NULL);
			while (data && (off = gelf_getnote(data, off, &nh, &name_off, &desc_off))) {
				if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
				    !memcmp((char *)data->d_buf + name_off, "GNU", 4)) {
					const uint8_t *d = (uint8_t *)data->d_buf + desc_off;

					for (size_t i = 0; i < nh.n_descsz && 2 * i + 3 <= id_len;
					     i++)
						snprintf(build_id + 2 * i, 3, "%02x", d[i]);
				}
			}
			continue;
		}
		if (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !sh.sh_entsize)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym) || !sym.st_value)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name || name[0] == '\0')
				continue;
			for (size_t k = 0; k < n; k++) {
				if (!syms[k].value && !strcmp(name, syms[k].name)) {
					syms[k].value = sym.st_value;
					syms[k].size = sym.st_size;
				}
			}
		}
	}
	elf_end(elf);
	return 0;
}

/* Load bias of a mapped object: runtime address = bias + link-time address. */
static int python_elf_bias(int fd, const struct proc_map *map, uint64_t *bias)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	size_t n = 0;
	int rc = -ENOEXEC;

	if (!elf)
		return -ENOEXEC;
	if (elf_getphdrnum(elf, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
				continue;
			if (map->offset >= ph.p_offset && map->offset < ph.p_offset + ph.p_filesz) {
				*bias = map->start - map->offset - (ph.p_vaddr - ph.p_offset);
				rc = 0;
				break;
			}
		}
	}
	elf_end(elf);
	return rc;
}

/* "python3.11", "libpython3.9.so.1.0", "libpython3.13d.so": the minor version, or -1. */
static int python_minor_from_name(const char *path)
{
	const char *base = strrchr(path, '/'), *p;

	base = base ? base + 1 : path;
	p = strstr(base, "python3.");
	if (!p || !isdigit((unsigned char)p[8]))
		return -1;
	return atoi(p + 8);
}

static bool python_candidate(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strstr(base, "python") != NULL;
}

/* Launch mode, too early: smolder's own fork not yet exec'd, or a python3 executable whose
 * libpython is not mapped yet (the dynamic loader has not run). */
static bool python_not_loaded_yet(const struct proc_maps *maps)
{
	const char *exe = maps->n ? maps->maps[0].path : "", *base = strrchr(exe, '/');
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		if (!strcmp(self, exe))
			return true;
	}
	if (!maps->n)
		return true; /* read during the exec */
	base = base ? base + 1 : exe;
	if (strncmp(base, "python3", 7))
		return false;
	for (size_t i = 0; i < maps->n; i++)
		if (strstr(maps->maps[i].path, "libpython"))
			return false;
	return true;
}

/* Finds the object holding _PyRuntime and _PyEval_EvalFrameDefault among the target's
 * mappings whose name says python, then the main executable (an embedding program). Fills the
 * runtime's addresses, version and text ranges. Returns 0, -ENOENT or -errno. */
static int python_find_object(struct python_runtime *rt, const struct proc_maps *maps)
{
	const char *exe = maps->n ? maps->maps[0].path : "";

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < maps->n; i++) {
			const struct proc_map *m = &maps->maps[i];
			struct python_symbol syms[SYM_COUNT] = {
				[SYM_RUNTIME] = {"_PyRuntime"},
				[SYM_EVAL] = {"_PyEval_EvalFrameDefault"},
				[SYM_EVAL_COLD] = {"_PyEval_EvalFrameDefault.cold"},
				[SYM_CODE_TYPE] = {"PyCode_Type"},
				[SYM_VERSION] = {"Py_Version"},
			};
			char path[4096], build_id[128];
			uint64_t bias;
			int fd, minor = -1;

			if (m->path[0] != '/' || (i && !strcmp(m->path, maps->maps[i - 1].path)))
				continue; /* anonymous, or not the object's first mapping */
			if (pass == 0 ? !python_candidate(m->path) : strcmp(m->path, exe))
				continue;
			if (proc_maps_file_path(rt->pid, m, path, sizeof(path)))
				continue;
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			if (python_elf_symbols(fd, syms, SYM_COUNT, build_id, sizeof(build_id)) ||
			    !syms[SYM_RUNTIME].value || !syms[SYM_EVAL].value ||
			    !syms[SYM_CODE_TYPE].value || python_elf_bias(fd, m, &bias)) {
				close(fd);
				continue;
			}
			close(fd);
			/* The .cold part is a local symbol: stripped objects (Debian's python3.11)
			 * have it only in their debug file (python3.11-dbg). */
			if (!syms[SYM_EVAL_COLD].value && build_id[0]) {
				snprintf(path, sizeof(path),
					 "/usr/lib/debug/.build-id/%.2s/%s.debug", build_id,
					 build_id + 2);
				fd = open(path, O_RDONLY | O_CLOEXEC);
				if (fd >= 0) {
					python_elf_symbols(fd, &syms[SYM_EVAL_COLD], 1, build_id,
							   sizeof(build_id));
					close(fd);
				}
			}
			if (!syms[SYM_EVAL_COLD].value)
				log_debug(
					"python: no _PyEval_EvalFrameDefault.cold in %s (no symtab "
					"or debug file): time in it is shown as native",
					m->path);
			rt->runtime_addr = bias + syms[SYM_RUNTIME].value;
			rt->code_type_addr = bias + syms[SYM_CODE_TYPE].value;
			rt->eval_lo = bias + syms[SYM_EVAL].value;
			rt->eval_hi = rt->eval_lo + (syms[SYM_EVAL].size ? syms[SYM_EVAL].size : 1);
			if (syms[SYM_EVAL_COLD].value) {
				rt->cold_lo = bias + syms[SYM_EVAL_COLD].value;
				rt->cold_hi = rt->cold_lo + syms[SYM_EVAL_COLD].size;
			}
			if (syms[SYM_VERSION].value) {
				uint64_t hex = 0;

				/* Py_Version = PY_VERSION_HEX (3.11+), 0x030b07f0 */
				if (!python_read_u64(rt, bias + syms[SYM_VERSION].value, &hex) &&
				    (hex >> 24) == 3)
					minor = (int)((hex >> 16) & 0xff);
			}
			if (minor < 0)
				minor = python_minor_from_name(m->path);
			snprintf(rt->object, sizeof(rt->object), "%s", m->path);
			if (minor < 0) {
				log_warn("python: cannot tell the version of %s (no Py_Version, no "
					 "version in its name)",
					 m->path);
				return -ENOENT;
			}
			snprintf(rt->version, sizeof(rt->version), "3.%d", minor);
			/* The object's code: its executable mappings. */
			for (size_t k = 0; k < maps->n; k++) {
				const struct proc_map *t = &maps->maps[k];
				uint64_t *grown;

				if (strcmp(t->path, m->path) || !(t->perms & PROC_MAP_EXEC))
					continue;
				grown = realloc(rt->text_ranges,
						(rt->n_text_ranges + 1) * 2 * sizeof(*grown));
				if (!grown)
					return -ENOMEM;
				rt->text_ranges = grown;
				grown[2 * rt->n_text_ranges] = t->start;
				grown[2 * rt->n_text_ranges + 1] = t->end;
				rt->n_text_ranges++;
			}
			return 0;
		}
	}
	return python_not_loaded_yet(maps) ? -EAGAIN : -ENOENT;
}

/* ---- offsets ---- */

/* 3.13: _PyRuntime starts with _Py_DebugOffsets ("xdebugpy", then u64 fields). The offsets of
 * the fields read here, from Include/internal/pycore_runtime.h of 3.13.0. */
static int python_debug_offsets(struct python_runtime *rt)
{
	uint64_t d[46];
	struct python_offsets *o = &rt->off;

	if (python_read(rt, rt->runtime_addr, d, sizeof(d)))
		return -EFAULT;
	if (memcmp(d, "xdebugpy", 8))
		return -EPROTO;
	if (((d[1] >> 16) & 0xff) != 13)
		return -EPROTO;
	o->runtime_interp_head = (uint32_t)d[5];
	o->interp_threads_head = (uint32_t)d[9];
	o->tstate_next = (uint32_t)d[21];
	o->tstate_interp = (uint32_t)d[22];
	o->tstate_frame = (uint32_t)d[23];
	o->tstate_thread_id = (uint32_t)d[24];
	o->tstate_native_thread_id = (uint32_t)d[25];
	o->frame_previous = (uint32_t)d[29];
	o->frame_code = (uint32_t)d[30];
	o->frame_instr = (uint32_t)d[31];
	o->frame_owner = (uint32_t)d[33];
	o->interp_modules = (uint32_t)d[11];
	o->code_filename = (uint32_t)d[35];
	o->code_name = (uint32_t)d[36];
	o->code_qualname = (uint32_t)d[37];
	o->code_linetable = (uint32_t)d[38];
	o->code_firstlineno = (uint32_t)d[39];
	o->code_adaptive = (uint32_t)d[43];
	return 0;
}

/* Code object field offsets from PyCode_Type.tp_members (PyMemberDef: name, type, offset,
 * flags, doc: 40 bytes); co_code_adaptive is the type's tp_basicsize (3.11+). */
static int python_code_members(struct python_runtime *rt)
{
	struct python_offsets *o = &rt->off;
	uint64_t members, basicsize;
	uint32_t found = 0;

	if (python_read_u64(rt, rt->code_type_addr + PYTHON_TYPE_MEMBERS, &members) ||
	    python_read_u64(rt, rt->code_type_addr + PYTHON_TYPE_BASICSIZE, &basicsize))
		return -EFAULT;
	for (int i = 0; i < 64; i++) {
		struct {
			uint64_t name;
			int32_t type, _pad;
			int64_t offset;
			int32_t flags, _pad2;
			uint64_t doc;
		} def;
		char name[32] = "";

		if (python_read(rt, members + 40 * (uint64_t)i, &def, sizeof(def)))
			return -EFAULT;
		if (!def.name)
			break;
		if (python_read(rt, def.name, name, sizeof(name) - 1) &&
		    python_read(rt, def.name, name, 16))
			continue;
		name[sizeof(name) - 1] = '\0';
		if (def.offset < 0 || def.offset >= PY_CODE_HEADER_MAX - 8)
			continue;
#define MEMBER(str, field, bit)                                                                    \
	if (!strcmp(name, str)) {                                                                  \
		o->field = (uint32_t)def.offset;                                                   \
		found |= bit;                                                                      \
	}
		MEMBER("co_filename", code_filename, 1)
		MEMBER("co_name", code_name, 2)
		MEMBER("co_qualname", code_qualname, 4)
		MEMBER("co_firstlineno", code_firstlineno, 8)
		MEMBER(o->minor <= 9 ? "co_lnotab" : "co_linetable", code_linetable, 16)
#undef MEMBER
	}
	if ((found & 27) != 27 || (o->minor >= 11 && !(found & 4)))
		return -EPROTO;
	if (o->minor >= 11) {
		if (basicsize < 64 || basicsize > PY_CODE_HEADER_MAX)
			return -EPROTO;
		if (o->minor >= 13 && o->code_adaptive != basicsize)
			return -EPROTO; /* _Py_DebugOffsets and the type disagree */
		o->code_adaptive = (uint32_t)basicsize;
	}
	if (o->minor <= 10)
		o->code_qualname = PY_NO_OFFSET;
	return 0;
}

/* ---- validation ---- */

/* The first frame of a thread state (0 when it has none). */
static int python_thread_first_frame(struct python_runtime *rt, uint64_t tstate, uint64_t *frame)
{
	uint64_t p;

	if (python_read_u64(rt, tstate + rt->off.tstate_frame, &p))
		return -EFAULT;
	if (rt->off.cframe_current_frame != PY_NO_OFFSET && p)
		return python_read_u64(rt, p + rt->off.cframe_current_frame, frame);
	*frame = p;
	return 0;
}

/* Walks the thread list (each thread state must point back to the interpreter) and the first
 * few frames of each (their code objects must have type PyCode_Type). Returns 0, -EAGAIN (the
 * interpreter has no thread yet) or -EPROTO with the reason in why. */
static int python_validate(struct python_runtime *rt, char *why, size_t len)
{
	uint64_t interp, ts;
	size_t threads = 0, codes_ok = 0, codes_bad = 0;

	if (python_read_u64(rt, rt->runtime_addr + rt->off.runtime_interp_head, &interp)) {
		snprintf(why, len, "_PyRuntime unreadable");
		return -EPROTO;
	}
	if (!interp)
		return -EAGAIN;
	if (python_read_u64(rt, interp + rt->off.interp_threads_head, &ts)) {
		snprintf(why, len, "interpreter state at 0x%" PRIx64 " unreadable", interp);
		return -EPROTO;
	}
	if (!ts)
		return -EAGAIN;
	rt->interp = interp;
	for (; ts && threads < PY_MAX_THREADS; threads++) {
		uint64_t back, frame, next;

		if (python_read_u64(rt, ts + rt->off.tstate_interp, &back) || back != interp) {
			snprintf(why, len,
				 "thread state 0x%" PRIx64
				 " does not point back to its interpreter",
				 ts);
			return -EPROTO;
		}
		for (int tries = 0; tries < PY_VALIDATE_TRIES; tries++) {
			if (python_thread_first_frame(rt, ts, &frame))
				break;
			for (int depth = 0; frame && depth < 8; depth++) {
				uint64_t code, type;
				uint8_t owner = 0;

				if (rt->off.frame_owner != PY_NO_OFFSET &&
				    python_read(rt, frame + rt->off.frame_owner, &owner, 1))
					break;
				if (owner != rt->off.owner_cstack ||
				    rt->off.owner_cstack == PY_NO_OFFSET) {
					if (python_read_u64(rt, frame + rt->off.frame_code,
							    &code) ||
					    python_read_u64(rt, code + 8, &type))
						break;
					if (type == rt->code_type_addr)
						codes_ok++;
					else
						codes_bad++;
				}
				if (python_read_u64(rt, frame + rt->off.frame_previous, &frame))
					break;
			}
			if (codes_ok)
				break;
		}
		if (python_read_u64(rt, ts + rt->off.tstate_next, &next)) {
			snprintf(why, len, "thread list unreadable at 0x%" PRIx64, ts);
			return -EPROTO;
		}
		ts = next;
	}
	if (ts) {
		snprintf(why, len, "thread list longer than %d (a cycle?)", PY_MAX_THREADS);
		return -EPROTO;
	}
	if (!codes_ok && codes_bad) {
		snprintf(why, len, "frames do not hold code objects (%zu checked)", codes_bad);
		return -EPROTO;
	}
	log_debug("python: %s validated: %zu thread(s), %zu code object(s) checked", rt->version,
		  threads, codes_ok + codes_bad);
	return 0;
}

struct python_runtime *python_runtime_open(pid_t pid, struct frame_names *names)
{
	struct python_runtime *rt = calloc(1, sizeof(*rt));
	struct proc_maps maps = {0};
	const struct python_offsets *table;
	const char *override;
	char why[256] = "", path[64];
	uint64_t interp = 0, threads = 0;
	ssize_t n;
	int rc, minor;

	if (!rt)
		return NULL;
	rt->pid = pid;
	rt->names = names;
	elf_version(EV_CURRENT);
	rc = proc_maps_read(pid, &maps);
	if (rc)
		goto fail;
	rc = python_find_object(rt, &maps);
	proc_maps_release(&maps);
	if (rc)
		goto fail;
	minor = atoi(rt->version + 2);
	table = python_offsets_for(minor);
	if (!table) {
		log_warn("python: %s in %s is not supported (3.8-3.13 are); profiling native code "
			 "only",
			 rt->version, rt->object);
		rc = -ENOENT;
		goto fail;
	}
	rt->off = *table;
	if (minor >= 13 && python_debug_offsets(rt)) {
		snprintf(why, sizeof(why), "no _Py_DebugOffsets for 3.13 at _PyRuntime");
		rc = -EPROTO;
		goto fail_why;
	}
	/* Before the interpreter has a thread state, the loader may still be relocating
	 * libpython (PyCode_Type's member table holds pointers): not yet, rather than wrong. */
	if (python_read_u64(rt, rt->runtime_addr + rt->off.runtime_interp_head, &interp) ||
	    !interp || python_read_u64(rt, interp + rt->off.interp_threads_head, &threads) ||
	    !threads) {
		rc = -EAGAIN;
		goto fail;
	}
	if (python_code_members(rt)) {
		snprintf(why, sizeof(why),
			 "PyCode_Type's members are not those of a %s code object", rt->version);
		rc = -EPROTO;
		goto fail_why;
	}
	override = getenv("SMOLDER_PYTHON_OFFSET");
	if (override && *override && python_offsets_override(&rt->off, override)) {
		rc = -EINVAL;
		goto fail;
	}
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	n = readlink(path, rt->cwd, sizeof(rt->cwd) - 1);
	rt->cwd[n > 0 ? n : 0] = '\0';
	rc = python_validate(rt, why, sizeof(why));
	if (rc == -EPROTO)
		goto fail_why;
	if (rc)
		goto fail;
	log_info("python: %s (%s)", rt->version, rt->object);
	return rt;

fail_why:
	log_warn("python: %s in %s: offsets did not validate (%s); profiling native code only",
		 rt->version, rt->object, why);
fail:
	if (rt->target_gone)
		rc = -ESRCH;
	/* A process still there that could not be read is in the middle of its exec: not yet. */
	if (rc == -ESRCH && kill(pid, 0) == 0)
		rc = -EAGAIN;
	log_debug("python: PID %d: %s", (int)pid, strerror(-rc));
	python_runtime_free(rt);
	errno = -rc;
	return NULL;
}

struct python_runtime *python_runtime_fork(const struct python_runtime *parent, pid_t child)
{
	struct python_runtime *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return NULL;
	/* The interpreter's addresses, version and offsets; not the code-object cache, whose
	 * entries are checked against the memory of the process that filled it. */
	rt->pid = child;
	rt->names = parent->names;
	memcpy(rt->version, parent->version, sizeof(rt->version));
	memcpy(rt->object, parent->object, sizeof(rt->object));
	memcpy(rt->cwd, parent->cwd, sizeof(rt->cwd));
	rt->off = parent->off;
	rt->runtime_addr = parent->runtime_addr;
	rt->code_type_addr = parent->code_type_addr;
	rt->interp = parent->interp;
	rt->eval_lo = parent->eval_lo;
	rt->eval_hi = parent->eval_hi;
	rt->cold_lo = parent->cold_lo;
	rt->cold_hi = parent->cold_hi;
	if (parent->n_text_ranges) {
		rt->text_ranges = malloc(parent->n_text_ranges * 2 * sizeof(*rt->text_ranges));
		if (!rt->text_ranges) {
			free(rt);
			return NULL;
		}
		memcpy(rt->text_ranges, parent->text_ranges,
		       parent->n_text_ranges * 2 * sizeof(*rt->text_ranges));
		rt->n_text_ranges = parent->n_text_ranges;
	}
	return rt;
}

void python_runtime_free(struct python_runtime *rt)
{
	if (!rt)
		return;
	python_code_cache_free(rt);
	free(rt->text_ranges);
	free(rt);
}

const char *python_runtime_version(const struct python_runtime *rt)
{
	return rt->version;
}

const char *python_runtime_object(const struct python_runtime *rt)
{
	return rt->object;
}

int python_runtime_bpf_config(const struct python_runtime *rt, struct smolder_python_config *cfg)
{
	const struct python_offsets *o = &rt->off;

	memset(cfg, 0, sizeof(*cfg));
	cfg->version = 0x0300 | (uint32_t)o->minor;
	cfg->flags = o->minor >= 11 ? SMOLDER_PY_INSTR_POINTER : 0;
	cfg->runtime_addr = rt->runtime_addr;
	cfg->interp_head_addr = rt->runtime_addr + o->runtime_interp_head;
	/* Py_tss_t is {int _is_initialized; pthread_key_t _key;} */
	cfg->tss_key_addr =
		o->runtime_tss_key == PY_NO_OFFSET ? 0 : rt->runtime_addr + o->runtime_tss_key + 4;
	/* glibc 2.x x86-64: struct pthread.specific_1stblock; measured with pthread_getspecific
	 * against the thread pointer on Debian 12's glibc 2.36. */
	cfg->pthread_specific_offset = 784;
	cfg->interp_threads_head = o->interp_threads_head;
	cfg->tstate_next = o->tstate_next;
	cfg->tstate_interp = o->tstate_interp;
	cfg->tstate_thread_id = o->tstate_thread_id;
	cfg->tstate_native_thread_id = o->tstate_native_thread_id;
	cfg->tstate_frame = o->tstate_frame;
	cfg->cframe_current_frame = o->cframe_current_frame;
	cfg->frame_previous = o->frame_previous;
	cfg->frame_code = o->frame_code;
	cfg->frame_instr = o->frame_instr;
	cfg->frame_is_entry = o->frame_is_entry;
	cfg->frame_owner = o->frame_owner;
	cfg->owner_cstack = o->owner_cstack;
	cfg->code_type_addr = rt->code_type_addr;
	return 0;
}

bool python_runtime_is_eval_frame(const struct python_runtime *rt, uint64_t addr)
{
	return (addr >= rt->eval_lo && addr < rt->eval_hi) ||
	       (addr >= rt->cold_lo && addr < rt->cold_hi);
}

bool python_runtime_is_internal(const struct python_runtime *rt, uint64_t addr)
{
	for (size_t i = 0; i < rt->n_text_ranges; i++)
		if (addr >= rt->text_ranges[2 * i] && addr < rt->text_ranges[2 * i + 1])
			return true;
	return false;
}

size_t python_runtime_merge(const struct python_runtime *rt, const uint64_t *native,
			    size_t n_native, const uint64_t *py, const uint32_t *py_flags,
			    size_t n_py, bool keep_native, uint64_t *out, size_t cap)
{
	size_t n = 0, next_py = 0;

	for (size_t i = 0; i < n_native && n < cap; i++) {
		uint64_t f = native[i];
		uint64_t addr = frame_user_address(f);

		if (!frame_is_user(f)) {
			out[n++] = f;
			continue;
		}
		if (python_runtime_is_eval_frame(rt, addr) && next_py < n_py) {
			while (next_py < n_py && n < cap) {
				bool entry = py_flags[next_py] & SMOLDER_PY_FRAME_ENTRY;

				out[n++] = py[next_py++];
				if (entry)
					break;
			}
			continue;
		}
		/* An eval frame left without Python frames (sampled while it was entering its
		 * first frame) is interpreter code like the rest: dropped unless keep_native. */
		if (!keep_native && python_runtime_is_internal(rt, addr))
			continue;
		out[n++] = f;
	}
	while (next_py < n_py && n < cap)
		out[n++] = py[next_py++];
	return n;
}

void python_runtime_stats(const struct python_runtime *rt, struct python_runtime_stats *out)
{
	*out = rt->stats;
}
