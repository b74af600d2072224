/* symbolizer_plt.c (internal to the symbolizer): names for x86-64 PLT stubs, which have no symbols
 * of their own: "malloc@plt", as objdump and perf write them. Each stub in .plt, .plt.sec and
 * .plt.got is decoded: an indirect jump through a GOT slot ("jmp *disp32(%rip)", after endbr64
 * and a bnd prefix when present) names the function whose relocation fills that slot; a lazy
 * .plt stub that only pushes its relocation index ("push $i", the IBT layout) names relocation i
 * of .rela.plt. */
#include "symbolizer_index.h"

#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A relocation that fills a GOT slot with a function's address. */
struct got_slot {
	uint64_t slot; /* link-time address of the GOT entry */
	const char *name;
};

struct plt_ctx {
	Elf *elf;
	uint64_t bias;
	struct got_slot *slots; /* every JUMP_SLOT and GLOB_DAT relocation */
	size_t nslots;
	struct got_slot *jump_slots; /* .rela.plt alone, in order: "push $i" means index i */
	size_t njump_slots;
	struct plt_symbol *out;
	size_t n, cap;
};

static int read_relocations(struct plt_ctx *c, Elf_Scn *scn, const GElf_Shdr *sh, bool plt)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	Elf_Scn *symscn = elf_getscn(c->elf, sh->sh_link);
	GElf_Shdr symsh;
	Elf_Data *symdata;
	size_t count, i;

	if (!data || !symscn || !gelf_getshdr(symscn, &symsh) || !sh->sh_entsize)
		return 0;
	symdata = elf_getdata(symscn, NULL);
	if (!symdata)
		return 0;
	count = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < count; i++) {
		GElf_Rela rela;
		GElf_Sym sym;
		const char *name;
		struct got_slot *grown;
		uint32_t type;

		if (!gelf_getrela(data, (int)i, &rela))
			break;
		type = GELF_R_TYPE(rela.r_info);
		if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
			continue;
		name = NULL;
		if (gelf_getsym(symdata, (int)GELF_R_SYM(rela.r_info), &sym))
			name = elf_strptr(c->elf, symsh.sh_link, sym.st_name);
		if (!name || !*name)
			name = NULL;
		grown = realloc(c->slots, (c->nslots + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		c->slots = grown;
		c->slots[c->nslots++] = (struct got_slot){rela.r_offset, name};
		if (plt) {
			grown = realloc(c->jump_slots, (c->njump_slots + 1) * sizeof(*grown));
			if (!grown)
				return -ENOMEM;
			c->jump_slots = grown;
			c->jump_slots[c->njump_slots++] = (struct got_slot){rela.r_offset, name};
		}
	}
	return 0;
}

static const char *slot_name(const struct plt_ctx *c, uint64_t slot)
{
	for (size_t i = 0; i < c->nslots; i++)
		if (c->slots[i].slot == slot)
			return c->slots[i].name;
	return NULL;
}

static int add_stub(struct plt_ctx *c, uint64_t addr, uint64_t size, const char *name)
{
	size_t len = strlen(name);
	char *full;

	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		struct plt_symbol *p = realloc(c->out, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->out = p;
		c->cap = ncap;
	}
	full = malloc(len + 5);
	if (!full)
		return -ENOMEM;
	memcpy(full, name, len);
	memcpy(full + len, "@plt", 5);
	c->out[c->n++] = (struct plt_symbol){addr + c->bias, addr + c->bias + size, full};
	return 0;
}

/* The function one stub of size bytes at link-time address addr jumps to, or NULL. */
static const char *decode_stub(const struct plt_ctx *c, const uint8_t *code, size_t size,
			       uint64_t addr)
{
	size_t i = 0;
	int32_t v;

	if (size >= 4 && !memcmp(code, "\xf3\x0f\x1e\xfa", 4)) /* endbr64 */
		i = 4;
	if (i < size && code[i] == 0xf2) /* bnd */
		i++;
	if (i + 6 <= size && code[i] == 0xff && code[i + 1] == 0x25) {
		memcpy(&v, code + i + 2, 4);
		return slot_name(c, addr + i + 6 + (int64_t)v);
	}
	if (i + 5 <= size && code[i] == 0x68) { /* push $index: a lazy stub (IBT layout) */
		memcpy(&v, code + i + 1, 4);
		if (v >= 0 && (size_t)v < c->njump_slots)
			return c->jump_slots[v].name;
	}
	return NULL;
}

static int scan_section(struct plt_ctx *c, Elf_Scn *scn, const GElf_Shdr *sh, size_t first,
			size_t entsize)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t off;
	int err;

	if (!data || !data->d_buf || data->d_size < sh->sh_size)
		return 0;
	for (off = first; off + entsize <= sh->sh_size; off += entsize) {
		const char *name = decode_stub(c, (const uint8_t *)data->d_buf + off, entsize,
					       sh->sh_addr + off);

		if (name) {
			err = add_stub(c, sh->sh_addr + off, entsize, name);
			if (err)
				return err;
		}
	}
	return 0;
}

int symbolizer_plt_symbols(Elf *elf, uint64_t bias, struct plt_symbol **out, size_t *n)
{
	struct plt_ctx c = {.elf = elf, .bias = bias};
	Elf_Scn *scn = NULL;
	GElf_Ehdr ehdr;
	size_t shstrndx;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (!elf || !gelf_getehdr(elf, &ehdr) || ehdr.e_machine != EM_X86_64 ||
	    elf_getshdrstrndx(elf, &shstrndx) != 0)
		return 0;
	while (!err && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".rela.plt"))
			err = read_relocations(&c, scn, &sh, true);
		else if (name && !strcmp(name, ".rela.dyn"))
			err = read_relocations(&c, scn, &sh, false);
	}
	scn = NULL;
	while (!err && c.nslots && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			continue;
		if (!strcmp(name, ".plt"))
			err = scan_section(&c, scn, &sh, 16, 16); /* after the 16-byte header */
		else if (!strcmp(name, ".plt.sec"))
			err = scan_section(&c, scn, &sh, 0, 16);
		else if (!strcmp(name, ".plt.got"))
			err = scan_section(&c, scn, &sh, 0, sh.sh_entsize == 16 ? 16 : 8);
	}
	free(c.slots);
	free(c.jump_slots);
	if (err) {
		symbolizer_plt_symbols_free(c.out, c.n);
		return err;
	}
	*out = c.out;
	*n = c.n;
	return 0;
}

void symbolizer_plt_symbols_free(struct plt_symbol *syms, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(syms[i].name);
	free(syms);
}
