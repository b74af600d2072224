/* alloc_symbols.c: allocator entry points of an ELF object and where to probe them. A uprobe on an
 * instruction the kernel emulates (push, jcc, jmp, call, nop) costs ~0.7 us; any other instruction
 * is single-stepped out of line for 10-13 us. glibc's free starts with `test %rdi,%rdi` (stepped)
 * followed by `je` (emulated), so probing the `je` keeps the pointer in rdi at a fifth of the cost.
 * The small decoder below only understands the instructions that open allocator prologues; anything
 * else ends the search and the entry is probed. */
#include "smolder/alloc_symbols.h"
#include "smolder/events.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct name_kind {
	const char *name;
	uint32_t kind;
	bool is_delete;
};

static const struct name_kind alloc_names[] = {
	{"malloc", SMOLDER_ALLOC_MALLOC},
	{"calloc", SMOLDER_ALLOC_CALLOC},
	{"realloc", SMOLDER_ALLOC_REALLOC},
	{"reallocarray", SMOLDER_ALLOC_REALLOCARRAY},
	{"free", SMOLDER_ALLOC_FREE},
	{"cfree", SMOLDER_ALLOC_FREE},
	{"posix_memalign", SMOLDER_ALLOC_POSIX_MEMALIGN},
	{"aligned_alloc", SMOLDER_ALLOC_MEMALIGN},
	{"memalign", SMOLDER_ALLOC_MEMALIGN},
	{"valloc", SMOLDER_ALLOC_MALLOC},
	{"pvalloc", SMOLDER_ALLOC_PVALLOC},
	/* C++ operator new / new[]: plain, nothrow, aligned, aligned nothrow. */
	{"_Znwm", SMOLDER_ALLOC_MALLOC},
	{"_Znam", SMOLDER_ALLOC_MALLOC},
	{"_ZnwmRKSt9nothrow_t", SMOLDER_ALLOC_MALLOC},
	{"_ZnamRKSt9nothrow_t", SMOLDER_ALLOC_MALLOC},
	{"_ZnwmSt11align_val_t", SMOLDER_ALLOC_MALLOC},
	{"_ZnamSt11align_val_t", SMOLDER_ALLOC_MALLOC},
	{"_ZnwmSt11align_val_tRKSt9nothrow_t", SMOLDER_ALLOC_MALLOC},
	{"_ZnamSt11align_val_tRKSt9nothrow_t", SMOLDER_ALLOC_MALLOC},
	/* operator delete / delete[]: plain, sized, aligned, sized aligned, nothrow variants. */
	{"_ZdlPv", SMOLDER_ALLOC_FREE, true},
	{"_ZdaPv", SMOLDER_ALLOC_FREE, true},
	{"_ZdlPvm", SMOLDER_ALLOC_FREE, true},
	{"_ZdaPvm", SMOLDER_ALLOC_FREE, true},
	{"_ZdlPvSt11align_val_t", SMOLDER_ALLOC_FREE, true},
	{"_ZdaPvSt11align_val_t", SMOLDER_ALLOC_FREE, true},
	{"_ZdlPvmSt11align_val_t", SMOLDER_ALLOC_FREE, true},
	{"_ZdaPvmSt11align_val_t", SMOLDER_ALLOC_FREE, true},
	{"_ZdlPvRKSt9nothrow_t", SMOLDER_ALLOC_FREE, true},
	{"_ZdaPvRKSt9nothrow_t", SMOLDER_ALLOC_FREE, true},
	{"_ZdlPvSt11align_val_tRKSt9nothrow_t", SMOLDER_ALLOC_FREE, true},
	{"_ZdaPvSt11align_val_tRKSt9nothrow_t", SMOLDER_ALLOC_FREE, true},
	/* jemalloc's non-standard API (also je_-prefixed, see alloc_symbols_kind). */
	{"mallocx", SMOLDER_ALLOC_MALLOC},
	{"rallocx", SMOLDER_ALLOC_REALLOC},
	{"xallocx", SMOLDER_ALLOC_XALLOCX},
	{"sdallocx", SMOLDER_ALLOC_FREE},
	{"dallocx", SMOLDER_ALLOC_FREE},
	/* gperftools tcmalloc. */
	{"tc_malloc", SMOLDER_ALLOC_MALLOC},
	{"tc_malloc_skip_new_handler", SMOLDER_ALLOC_MALLOC},
	{"tc_calloc", SMOLDER_ALLOC_CALLOC},
	{"tc_realloc", SMOLDER_ALLOC_REALLOC},
	{"tc_free", SMOLDER_ALLOC_FREE},
	{"tc_free_sized", SMOLDER_ALLOC_FREE},
	{"tc_cfree", SMOLDER_ALLOC_FREE},
	{"tc_memalign", SMOLDER_ALLOC_MEMALIGN},
	{"tc_posix_memalign", SMOLDER_ALLOC_POSIX_MEMALIGN},
	{"tc_valloc", SMOLDER_ALLOC_MALLOC},
	{"tc_pvalloc", SMOLDER_ALLOC_PVALLOC},
	{"tc_new", SMOLDER_ALLOC_MALLOC},
	{"tc_newarray", SMOLDER_ALLOC_MALLOC},
	{"tc_new_nothrow", SMOLDER_ALLOC_MALLOC},
	{"tc_newarray_nothrow", SMOLDER_ALLOC_MALLOC},
	{"tc_new_aligned", SMOLDER_ALLOC_MALLOC},
	{"tc_newarray_aligned", SMOLDER_ALLOC_MALLOC},
	{"tc_new_aligned_nothrow", SMOLDER_ALLOC_MALLOC},
	{"tc_newarray_aligned_nothrow", SMOLDER_ALLOC_MALLOC},
	{"tc_delete", SMOLDER_ALLOC_FREE, true},
	{"tc_deletearray", SMOLDER_ALLOC_FREE, true},
	{"tc_delete_nothrow", SMOLDER_ALLOC_FREE, true},
	{"tc_deletearray_nothrow", SMOLDER_ALLOC_FREE, true},
	{"tc_delete_sized", SMOLDER_ALLOC_FREE, true},
	{"tc_deletearray_sized", SMOLDER_ALLOC_FREE, true},
	{"tc_delete_aligned", SMOLDER_ALLOC_FREE, true},
	{"tc_deletearray_aligned", SMOLDER_ALLOC_FREE, true},
	{"tc_delete_sized_aligned", SMOLDER_ALLOC_FREE, true},
	{"tc_deletearray_sized_aligned", SMOLDER_ALLOC_FREE, true},
	{"tc_delete_aligned_nothrow", SMOLDER_ALLOC_FREE, true},
	{"tc_deletearray_aligned_nothrow", SMOLDER_ALLOC_FREE, true},
};

/* Index of name in alloc_names (which lists standard names before vendor ones), or -1. */
static int name_rank(const char *name)
{
	/* jemalloc built with --with-jemalloc-prefix=je_ */
	if (strncmp(name, "je_", 3) == 0 && strncmp(name, "je_tc_", 6) != 0 && name[3] != '_')
		name += 3;
	for (size_t i = 0; i < sizeof(alloc_names) / sizeof(alloc_names[0]); i++)
		if (strcmp(name, alloc_names[i].name) == 0)
			return (int)i;
	return -1;
}

uint32_t alloc_symbols_kind(const char *name, bool *is_delete)
{
	int i = name_rank(name);

	if (i < 0)
		return 0;
	if (is_delete)
		*is_delete = alloc_names[i].is_delete;
	return alloc_names[i].kind;
}

/* ---- minimal x86-64 decoder for allocator prologues ---- */

struct insn {
	uint32_t len;
	uint32_t writes; /* register bitmask written */
	bool emulated;	 /* kernel emulates it (no single-step) */
	bool branch;	 /* control flow leaves the straight line after it */
	bool known;
};

/* Length of a ModRM operand (modrm byte included) or 0 when code is too short. */
static uint32_t modrm_len(const uint8_t *p, size_t avail)
{
	uint8_t modrm, mod, rm;
	uint32_t n = 1;

	if (avail < 1)
		return 0;
	modrm = p[0];
	mod = modrm >> 6;
	rm = modrm & 7;
	if (mod == 3)
		return 1;
	if (rm == 4) {
		if (avail < 2)
			return 0;
		n++;
		if (mod == 0 && (p[1] & 7) == 5)
			n += 4;
	} else if (mod == 0 && rm == 5) {
		n += 4; /* rip-relative */
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return n <= avail ? n : 0;
}

static uint32_t reg_bits(unsigned r, bool byte_op, bool rex)
{
	uint32_t bits = 1u << r;

	/* Without REX, byte registers 4..7 are ah..bh: count both readings. */
	if (byte_op && !rex && r >= 4 && r < 8)
		bits |= 1u << (r - 4);
	return bits;
}

static void decode(const uint8_t *code, size_t avail, struct insn *in)
{
	const uint8_t *p = code;
	uint8_t rex = 0, op, modrm;
	unsigned reg, rm;
	uint32_t ml, imm = 0;
	bool opsize = false;

	memset(in, 0, sizeof(*in));
	/* endbr64 */
	if (avail >= 4 && p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa) {
		in->len = 4;
		in->known = true;
		return;
	}
	while (avail > 0 && (*p == 0x66 || *p == 0x2e || *p == 0x3e || *p == 0x64 || *p == 0x65)) {
		opsize |= *p == 0x66;
		p++;
		avail--;
	}
	if (avail > 0 && (*p & 0xf0) == 0x40) {
		rex = *p;
		p++;
		avail--;
	}
	if (avail == 0)
		return;
	op = *p++;
	avail--;
	if (op >= 0x50 && op <= 0x57 && !opsize) { /* push reg */
		in->emulated = true;
		in->writes = ALLOC_REG_BIT(ALLOC_REG_RSP);
		goto done;
	}
	if (op >= 0x70 && op <= 0x7f && avail >= 1 && !rex) { /* jcc rel8 */
		p += 1;
		in->emulated = in->branch = true;
		goto done;
	}
	if ((op == 0xeb && avail >= 1) || ((op == 0xe9 || op == 0xe8) && avail >= 4)) {
		p += op == 0xeb ? 1 : 4;
		in->emulated = in->branch = true;
		if (op == 0xe8)
			in->writes = ALLOC_REG_BIT(ALLOC_REG_RSP);
		goto done;
	}
	if (op == 0x90 && !rex) {
		in->emulated = true;
		goto done;
	}
	if (op == 0x0f && avail >= 5 && p[0] >= 0x80 && p[0] <= 0x8f && !rex) { /* jcc rel32 */
		p += 5;
		in->emulated = in->branch = true;
		goto done;
	}
	if (op >= 0xb8 && op <= 0xbf) { /* mov imm, reg */
		in->writes = 1u << ((op & 7) | ((rex & 1) << 3));
		p += (rex & 8) ? 8 : (opsize ? 2 : 4);
		goto done;
	}
	if (op == 0xa8 || op == 0xa9 || op == 0x3c || op == 0x3d) { /* test/cmp al/eax, imm */
		p += (op == 0xa8 || op == 0x3c) ? 1 : (opsize ? 2 : 4);
		goto done;
	}
	if (op == 0x05 || op == 0x0d || op == 0x25 || op == 0x2d ||
	    op == 0x35) { /* op eax, imm32 */
		p += opsize ? 2 : 4;
		in->writes = 1u << 0;
		goto done;
	}
	/* ModRM forms */
	switch (op) {
	case 0x84:
	case 0x85: /* test */
	case 0x38:
	case 0x39:
	case 0x3a:
	case 0x3b: /* cmp */
	case 0x88:
	case 0x89:
	case 0x8a:
	case 0x8b: /* mov */
	case 0x8d: /* lea */
	case 0x01:
	case 0x03:
	case 0x09:
	case 0x0b:
	case 0x21:
	case 0x23:
	case 0x29:
	case 0x2b:
	case 0x31:
	case 0x33: /* add or and sub xor */
	case 0x80:
	case 0x81:
	case 0x83:
	case 0xc6:
	case 0xc7:
	case 0xf7:
	case 0xc1:
	case 0xd1: /* shifts */
		break;
	default:
		return; /* unknown: stop */
	}
	ml = modrm_len(p, avail);
	if (!ml)
		return;
	modrm = p[0];
	reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
	rm = (modrm & 7) | ((rex & 1) << 3);
	bool rm_is_reg = (modrm >> 6) == 3;
	bool byte_op = op == 0x84 || op == 0x38 || op == 0x3a || op == 0x88 || op == 0x8a ||
		       op == 0x80 || op == 0xc6;
	switch (op) {
	case 0x84:
	case 0x85:
	case 0x38:
	case 0x39:
	case 0x3a:
	case 0x3b:
		break;
	case 0x88:
	case 0x89:
	case 0x01:
	case 0x09:
	case 0x21:
	case 0x29:
	case 0x31:
		if (rm_is_reg)
			in->writes = reg_bits(rm, byte_op, rex);
		break;
	case 0x8a:
	case 0x8b:
	case 0x8d:
	case 0x03:
	case 0x0b:
	case 0x23:
	case 0x2b:
	case 0x33:
		in->writes = reg_bits(reg, byte_op, rex);
		break;
	case 0x80:
	case 0x81:
	case 0x83:
		imm = op == 0x81 ? (opsize ? 2 : 4) : 1;
		if (((modrm >> 3) & 7) != 7 && rm_is_reg) /* everything but cmp writes r/m */
			in->writes = reg_bits(rm, byte_op, rex);
		break;
	case 0xc1:
	case 0xd1:
		imm = op == 0xc1 ? 1 : 0;
		if (rm_is_reg)
			in->writes = reg_bits(rm, false, rex);
		break;
	case 0xc6:
	case 0xc7:
		if (((modrm >> 3) & 7) != 0)
			return;
		imm = op == 0xc6 ? 1 : (opsize ? 2 : 4);
		if (rm_is_reg)
			in->writes = reg_bits(rm, byte_op, rex);
		break;
	case 0xf7:
		switch ((modrm >> 3) & 7) {
		case 0: /* test imm32 */
			imm = opsize ? 2 : 4;
			break;
		case 4:
		case 5:
		case 6:
		case 7: /* mul imul div idiv: rdx:rax */
			in->writes = 1u << 0 | 1u << ALLOC_REG_RDX;
			break;
		default:
			if (rm_is_reg)
				in->writes = reg_bits(rm, false, rex);
		}
		break;
	}
	if (ml + imm > avail)
		return;
	p += ml + imm;
done:
	in->len = (uint32_t)(p - code);
	in->known = true;
}

/* True when some branch in the function may jump to an offset in (0, upto]: probing there would
 * count calls twice. Byte-pattern scan: false alarms only cost the cheaper probe point. */
static bool branch_into_prologue(const uint8_t *code, size_t len, uint32_t upto)
{
	for (size_t i = 0; i < len; i++) {
		int64_t target = -1;

		if ((code[i] == 0xeb || (code[i] >= 0x70 && code[i] <= 0x7f)) && i + 1 < len)
			target = (int64_t)i + 2 + (int8_t)code[i + 1];
		else if ((code[i] == 0xe9 || code[i] == 0xe8) && i + 4 < len)
			target = (int64_t)i + 5 +
				 (int32_t)(code[i + 1] | code[i + 2] << 8 | code[i + 3] << 16 |
					   (uint32_t)code[i + 4] << 24);
		else if (code[i] == 0x0f && i + 5 < len && code[i + 1] >= 0x80 &&
			 code[i + 1] <= 0x8f)
			target = (int64_t)i + 6 +
				 (int32_t)(code[i + 2] | code[i + 3] << 8 | code[i + 4] << 16 |
					   (uint32_t)code[i + 5] << 24);
		if (target > 0 && target <= upto)
			return true;
	}
	return false;
}

uint32_t alloc_probe_choose_offset(const uint8_t *code, size_t len, size_t func_size,
				   uint32_t keep_regs, bool keep_sp, bool *emulated)
{
	uint32_t off = 0;
	struct insn in;

	*emulated = false;
	for (int i = 0; i < 16 && off < len; i++) {
		decode(code + off, len - off, &in);
		if (!in.known)
			break;
		if (in.emulated) {
			if (off > 0 &&
			    branch_into_prologue(code, len < func_size ? len : func_size, off))
				break;
			*emulated = true;
			return off;
		}
		if (in.branch || (in.writes & keep_regs) ||
		    (keep_sp && (in.writes & ALLOC_REG_BIT(ALLOC_REG_RSP))))
			break;
		off += in.len;
	}
	return 0;
}

/* ---- ELF scan ---- */

static uint32_t keep_regs_for(uint32_t kind)
{
	switch (kind) {
	case SMOLDER_ALLOC_CALLOC:
	case SMOLDER_ALLOC_REALLOC:
	case SMOLDER_ALLOC_XALLOCX:
		return ALLOC_REG_BIT(ALLOC_REG_RDI) | ALLOC_REG_BIT(ALLOC_REG_RSI);
	case SMOLDER_ALLOC_REALLOCARRAY:
		return ALLOC_REG_BIT(ALLOC_REG_RDI) | ALLOC_REG_BIT(ALLOC_REG_RSI) |
		       ALLOC_REG_BIT(ALLOC_REG_RDX);
	case SMOLDER_ALLOC_MEMALIGN:
		return ALLOC_REG_BIT(ALLOC_REG_RSI);
	case SMOLDER_ALLOC_POSIX_MEMALIGN:
		return ALLOC_REG_BIT(ALLOC_REG_RDI) | ALLOC_REG_BIT(ALLOC_REG_RDX);
	default:
		return ALLOC_REG_BIT(ALLOC_REG_RDI);
	}
}

/* File offset of vaddr through the section that holds it; 0 when none does. */
static int vaddr_to_file(Elf *elf, uint64_t vaddr, uint64_t *off, Elf_Scn **holder)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		if (vaddr >= sh.sh_addr && vaddr < sh.sh_addr + sh.sh_size) {
			*off = vaddr - sh.sh_addr + sh.sh_offset;
			*holder = scn;
			return 0;
		}
	}
	return -ENOENT;
}

static int set_add(struct alloc_probe_set *set, size_t *cap, Elf *elf, const char *raw_name,
		   const GElf_Sym *sym)
{
	char name[256];
	const char *at;
	struct alloc_probe_point *pt;
	uint32_t kind;
	bool is_delete = false, emulated = false;
	uint64_t off;
	Elf_Scn *scn;
	Elf_Data *data;
	GElf_Shdr sh;

	at = strchr(raw_name, '@');
	snprintf(name, sizeof(name), "%.*s", at ? (int)(at - raw_name) : (int)strlen(raw_name),
		 raw_name);
	kind = alloc_symbols_kind(name, &is_delete);
	if (!kind || sym->st_value == 0 || GELF_ST_TYPE(sym->st_info) != STT_FUNC ||
	    sym->st_shndx == SHN_UNDEF)
		return 0;
	for (size_t i = 0; i < set->n; i++) {
		struct alloc_probe_point *seen = &set->points[i];
		char *better;

		if (seen->vaddr != sym->st_value)
			continue;
		/* An alias of a function already found (glibc's aligned_alloc is memalign,
		 * tcmalloc's malloc is tc_malloc): one probe, named by the standard name, which is
		 * what the report shows as the allocator frame. */
		if (seen->kind == kind && name_rank(name) < name_rank(seen->name) &&
		    (better = strdup(name))) {
			free(seen->name);
			seen->name = better;
		}
		/* Code that is both free and operator delete (tcmalloc) releases the block itself:
		 * as a "delete" it would hide a quick second free of a reused address. */
		if (seen->kind == kind)
			seen->is_delete = seen->is_delete && is_delete;
		return 0;
	}
	if (vaddr_to_file(elf, sym->st_value, &off, &scn))
		return 0;
	if (set->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct alloc_probe_point *np = realloc(set->points, ncap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		set->points = np;
		*cap = ncap;
	}
	pt = &set->points[set->n];
	memset(pt, 0, sizeof(*pt));
	pt->name = strdup(name);
	if (!pt->name)
		return -ENOMEM;
	pt->kind = kind;
	pt->is_delete = is_delete;
	pt->retprobe = kind != SMOLDER_ALLOC_FREE;
	pt->vaddr = sym->st_value;
	pt->file_offset = off;
	data = elf_getdata(scn, NULL);
	if (data && data->d_buf && gelf_getshdr(scn, &sh)) {
		uint64_t rel = sym->st_value - sh.sh_addr;
		size_t func = sym->st_size ? sym->st_size : 64;

		if (rel < data->d_size) {
			size_t avail = data->d_size - rel;

			pt->probe_delta = alloc_probe_choose_offset(
				(const uint8_t *)data->d_buf + rel, avail < func ? avail : func,
				func, keep_regs_for(kind), pt->retprobe, &emulated);
			pt->emulated = emulated;
			pt->file_offset += pt->probe_delta;
		}
	}
	set->n++;
	return 0;
}

static int scan_symtab(Elf *elf, Elf_Scn *scn, struct alloc_probe_set *set, size_t *cap)
{
	GElf_Shdr sh;
	Elf_Data *data;
	size_t count;
	int err;

	if (!gelf_getshdr(scn, &sh) || sh.sh_entsize == 0)
		return 0;
	data = elf_getdata(scn, NULL);
	if (!data)
		return 0;
	count = sh.sh_size / sh.sh_entsize;
	for (size_t i = 0; i < count; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(data, (int)i, &sym))
			continue;
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		err = set_add(set, cap, elf, name, &sym);
		if (err)
			return err;
	}
	return 0;
}

int alloc_symbols_scan(const char *path, struct alloc_probe_set *set)
{
	Elf *elf = NULL;
	Elf_Scn *scn = NULL;
	size_t cap = 0;
	int fd, err = 0;

	set->points = NULL;
	set->n = 0;
	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto out;
	}
	/* .dynsym first: exported definitions are the ones callers resolve to. */
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_DYNSYM) {
			err = scan_symtab(elf, scn, set, &cap);
			if (err)
				goto out;
		}
	}
	scn = NULL;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB) {
			err = scan_symtab(elf, scn, set, &cap);
			if (err)
				goto out;
		}
	}
out:
	if (err)
		alloc_probe_set_release(set);
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

void alloc_probe_set_release(struct alloc_probe_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		free(set->points[i].name);
	free(set->points);
	set->points = NULL;
	set->n = 0;
}
