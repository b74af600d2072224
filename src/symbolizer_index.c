/* symbolizer_index.c: owns the per-module lookup index behind symbolizer_index.h: compile-unit
 * address ranges, each compile unit's functions and inlined calls flattened into disjoint ranges,
 * and the sorted symbol table. Everything is built on first use and kept until the module goes. */
#include "symbolizer_index.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* libstdc++'s demangler (the Itanium C++ ABI entry point). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* A function (DW_TAG_subprogram) or an inlined call (DW_TAG_inlined_subroutine) with code. */
struct func_rec {
	Dwarf_Die die;
	int32_t parent; /* the enclosing function or inlined call; -1 for a subprogram */
	bool inlined;
	bool named; /* name resolved (it may still be NULL) */
	const char *name;
	char *owned_name; /* demangled copy behind name, if any */
};

/* A range [low, high) of DWARF addresses whose innermost function or inlined call is rec. */
struct range_seg {
	uint64_t low, high;
	uint32_t rec;
};

/* Before flattening: one address range of one record, at its nesting depth. */
struct raw_range {
	uint64_t low, high;
	uint32_t rec, depth;
};

struct cu_data {
	Dwarf_Die cudie;
	Dwarf_Off offset;
	bool built;
	struct func_rec *recs;
	size_t nrecs, recs_cap;
	struct range_seg *segs;
	size_t nsegs;
};

struct cu_range {
	uint64_t low, high;
	uint32_t cu;
};

struct sym_entry {
	uint64_t addr, end;
	const char *name;
	char *demangled; /* the name to show when it differs from name: demangled, unversioned */
	bool demangle_done;
	int rank; /* smaller is preferred among aliases */
};

struct module_index {
	Dwfl_Module *mod;
	bool dwarf_done;
	Dwarf *dw;
	Dwarf_Addr dwbias;
	struct cu_data *cus; /* in .debug_info order, so sorted by offset */
	size_t ncus;
	struct cu_range *cu_ranges; /* sorted by low */
	size_t ncu_ranges;
	bool syms_done;
	struct sym_entry *syms; /* sorted by addr, one per address */
	size_t nsyms;
};

char *symbolizer_demangle(const char *name)
{
	int status = -1;
	char *out;

	if (!name || strncmp(name, "_Z", 2) != 0)
		return NULL;
	out = __cxa_demangle(name, NULL, NULL, &status);
	if (status != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Grows *v (elements of size) so that one more fits. 0 or -ENOMEM. */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(*v, ncap * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

struct module_index *module_index_new(Dwfl_Module *mod)
{
	struct module_index *idx = calloc(1, sizeof(*idx));

	if (!idx)
		return NULL;
	idx->mod = mod;
	return idx;
}

void module_index_free(struct module_index *idx)
{
	size_t i, j;

	if (!idx)
		return;
	for (i = 0; i < idx->ncus; i++) {
		for (j = 0; j < idx->cus[i].nrecs; j++)
			free(idx->cus[i].recs[j].owned_name);
		free(idx->cus[i].recs);
		free(idx->cus[i].segs);
	}
	free(idx->cus);
	free(idx->cu_ranges);
	for (i = 0; i < idx->nsyms; i++)
		free(idx->syms[i].demangled);
	free(idx->syms);
	free(idx);
}

/* ---- compile units ---- */

static int cu_range_cmp(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	if (x->low != y->low)
		return x->low < y->low ? -1 : 1;
	return (x->high > y->high) - (x->high < y->high);
}

/* Reads the compile units' address ranges (not their DIE trees: those wait until needed). */
static int index_dwarf(struct module_index *idx)
{
	size_t cus_cap = 0, ranges_cap = 0;
	Dwarf_CU *cu = NULL, *next;
	Dwarf_Half version;
	uint8_t unit_type;
	Dwarf_Die cudie, subdie;
	int err;

	idx->dwarf_done = true;
	idx->dw = dwfl_module_getdwarf(idx->mod, &idx->dwbias);
	if (!idx->dw)
		return 0;
	while (dwarf_get_units(idx->dw, cu, &next, &version, &unit_type, &cudie, &subdie) == 0) {
		Dwarf_Addr base, start, end;
		ptrdiff_t off = 0;
		uint32_t n;

		cu = next;
		/* Type units have no code; split (.dwo) units are not searched: symtab covers them.
		 */
		if (unit_type != DW_UT_compile || dwarf_tag(&cudie) != DW_TAG_compile_unit)
			continue;
		err = grow((void **)&idx->cus, &cus_cap, idx->ncus, sizeof(*idx->cus));
		if (err)
			return err;
		n = (uint32_t)idx->ncus++;
		idx->cus[n] = (struct cu_data){.cudie = cudie, .offset = dwarf_dieoffset(&cudie)};
		while ((off = dwarf_ranges(&cudie, off, &base, &start, &end)) > 0) {
			if (end <= start)
				continue;
			err = grow((void **)&idx->cu_ranges, &ranges_cap, idx->ncu_ranges,
				   sizeof(*idx->cu_ranges));
			if (err)
				return err;
			idx->cu_ranges[idx->ncu_ranges++] = (struct cu_range){start, end, n};
		}
	}
	if (idx->ncu_ranges > 1) /* qsort(NULL, 0) is undefined */
		qsort(idx->cu_ranges, idx->ncu_ranges, sizeof(*idx->cu_ranges), cu_range_cmp);
	return 0;
}

static struct cu_data *cu_by_offset(struct module_index *idx, Dwarf_Off offset)
{
	size_t lo = 0, hi = idx->ncus;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (idx->cus[mid].offset == offset)
			return &idx->cus[mid];
		if (idx->cus[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The compile unit covering daddr (a DWARF address), or NULL. */
static struct cu_data *find_cu(struct module_index *idx, uint64_t addr, uint64_t daddr)
{
	size_t lo = 0, hi = idx->ncu_ranges;
	Dwarf_Addr bias;
	Dwarf_Die *die;

	/* Last range starting at or below daddr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (idx->cu_ranges[mid].low <= daddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && daddr < idx->cu_ranges[lo - 1].high)
		return &idx->cus[idx->cu_ranges[lo - 1].cu];
	/* Units without range attributes, or overlapping ranges: ask libdw's aranges. */
	die = dwfl_module_addrdie(idx->mod, addr, &bias);
	if (!die)
		return NULL;
	return cu_by_offset(idx, dwarf_dieoffset(die));
}

/* ---- functions and inlined calls of one compile unit ---- */

struct raw_vec {
	struct raw_range *v;
	size_t n, cap;
};

static int add_record(struct cu_data *cu, Dwarf_Die *die, int32_t parent, uint32_t depth,
		      struct raw_vec *raw, int32_t *rec_out)
{
	Dwarf_Addr base, start, end;
	ptrdiff_t off = 0;
	size_t first = raw->n;
	uint32_t rec = (uint32_t)cu->nrecs;
	int err;

	*rec_out = -1;
	while ((off = dwarf_ranges(die, off, &base, &start, &end)) > 0) {
		if (end <= start)
			continue;
		err = grow((void **)&raw->v, &raw->cap, raw->n, sizeof(*raw->v));
		if (err)
			return err;
		raw->v[raw->n++] = (struct raw_range){start, end, rec, depth};
	}
	if (raw->n == first)
		return 0; /* a declaration or abstract instance: no code of its own */
	err = grow((void **)&cu->recs, &cu->recs_cap, cu->nrecs, sizeof(*cu->recs));
	if (err)
		return err;
	cu->recs[cu->nrecs++] = (struct func_rec){
		.die = *die,
		.parent = parent,
		.inlined = dwarf_tag(die) == DW_TAG_inlined_subroutine,
	};
	*rec_out = (int32_t)rec;
	return 0;
}

/* Collects the records under parent. parent_rec is the innermost enclosing record (-1 outside any
 * function). Only tags that can hold code are descended into, which keeps the walk cheap. */
static int walk_dies(struct cu_data *cu, Dwarf_Die *parent, int32_t parent_rec, uint32_t depth,
		     struct raw_vec *raw)
{
	Dwarf_Die child;
	int32_t rec;
	int err = 0;

	if (dwarf_child(parent, &child) != 0)
		return 0;
	do {
		switch (dwarf_tag(&child)) {
		case DW_TAG_subprogram:
			/* Nested functions are functions of their own, not calls. */
			err = add_record(cu, &child, -1, 0, raw, &rec);
			if (!err && rec >= 0)
				err = walk_dies(cu, &child, rec, 1, raw);
			break;
		case DW_TAG_inlined_subroutine:
			if (parent_rec < 0)
				break;
			err = add_record(cu, &child, parent_rec, depth, raw, &rec);
			if (!err && rec >= 0)
				err = walk_dies(cu, &child, rec, depth + 1, raw);
			break;
		case DW_TAG_lexical_block:
		case DW_TAG_try_block:
		case DW_TAG_catch_block:
			if (parent_rec >= 0)
				err = walk_dies(cu, &child, parent_rec, depth, raw);
			break;
		case DW_TAG_namespace:
		case DW_TAG_class_type:
		case DW_TAG_structure_type:
		case DW_TAG_union_type:
		case DW_TAG_module:
			if (parent_rec < 0)
				err = walk_dies(cu, &child, -1, 0, raw);
			break;
		default:
			break;
		}
	} while (!err && dwarf_siblingof(&child, &child) == 0);
	return err;
}

static int raw_cmp(const void *a, const void *b)
{
	const struct raw_range *x = a, *y = b;

	if (x->low != y->low)
		return x->low < y->low ? -1 : 1;
	if (x->high != y->high)
		return x->high > y->high ? -1 : 1; /* outer first */
	return (x->depth > y->depth) - (x->depth < y->depth);
}

static int emit_seg(struct cu_data *cu, size_t *cap, uint64_t low, uint64_t high, uint32_t rec)
{
	struct range_seg *last;
	int err;

	if (low >= high)
		return 0;
	last = cu->nsegs ? &cu->segs[cu->nsegs - 1] : NULL;
	if (last && last->rec == rec && last->high == low) {
		last->high = high;
		return 0;
	}
	err = grow((void **)&cu->segs, cap, cu->nsegs, sizeof(*cu->segs));
	if (err)
		return err;
	cu->segs[cu->nsegs++] = (struct range_seg){low, high, rec};
	return 0;
}

/* Flattens the nested ranges into disjoint segments, each naming its innermost record: a sweep
 * over the ranges sorted by start, outer before inner, with a stack of open ranges. */
static int flatten(struct cu_data *cu, struct raw_vec *raw)
{
	struct raw_range **stack;
	size_t sp = 0, cap = 0, i;
	uint64_t pos = 0;
	int err = 0;

	if (raw->n > 1) /* qsort(NULL, 0) is undefined */
		qsort(raw->v, raw->n, sizeof(*raw->v), raw_cmp);
	stack = malloc((raw->n + 1) * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	for (i = 0; i < raw->n && !err; i++) {
		struct raw_range *r = &raw->v[i];

		while (sp && stack[sp - 1]->high <= r->low && !err) {
			err = emit_seg(cu, &cap, pos, stack[sp - 1]->high, stack[sp - 1]->rec);
			if (stack[sp - 1]->high > pos)
				pos = stack[sp - 1]->high;
			sp--;
		}
		if (sp && !err)
			err = emit_seg(cu, &cap, pos, r->low, stack[sp - 1]->rec);
		if (r->low > pos)
			pos = r->low;
		stack[sp++] = r;
	}
	while (sp && !err) {
		err = emit_seg(cu, &cap, pos, stack[sp - 1]->high, stack[sp - 1]->rec);
		if (stack[sp - 1]->high > pos)
			pos = stack[sp - 1]->high;
		sp--;
	}
	free(stack);
	return err;
}

static int build_cu(struct cu_data *cu)
{
	struct raw_vec raw = {0};
	int err;

	cu->built = true;
	err = walk_dies(cu, &cu->cudie, -1, 0, &raw);
	if (!err)
		err = flatten(cu, &raw);
	free(raw.v);
	return err;
}

static const struct range_seg *find_seg(const struct cu_data *cu, uint64_t daddr)
{
	size_t lo = 0, hi = cu->nsegs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cu->segs[mid].low <= daddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && daddr < cu->segs[lo - 1].high)
		return &cu->segs[lo - 1];
	return NULL;
}

/* A function's name: the demangled linkage name (C++), else DW_AT_name, following abstract
 * origins and specifications (inlined calls and out-of-line member functions). */
static const char *rec_name(struct func_rec *r)
{
	Dwarf_Attribute attr;
	const char *linkage;

	if (r->named)
		return r->name;
	r->named = true;
	linkage = dwarf_formstring(dwarf_attr_integrate(&r->die, DW_AT_linkage_name, &attr));
	if (!linkage)
		linkage = dwarf_formstring(
			dwarf_attr_integrate(&r->die, DW_AT_MIPS_linkage_name, &attr));
	r->owned_name = symbolizer_demangle(linkage);
	if (r->owned_name)
		r->name = r->owned_name;
	else
		r->name = dwarf_formstring(dwarf_attr_integrate(&r->die, DW_AT_name, &attr));
	if (!r->name)
		r->name = linkage;
	return r->name;
}

static void call_site(struct cu_data *cu, struct func_rec *r, const char **file, uint32_t *line)
{
	Dwarf_Attribute attr;
	Dwarf_Word value;
	Dwarf_Files *files;
	size_t nfiles;

	*file = NULL;
	*line = 0;
	if (dwarf_formudata(dwarf_attr(&r->die, DW_AT_call_line, &attr), &value) == 0)
		*line = (uint32_t)value;
	if (dwarf_formudata(dwarf_attr(&r->die, DW_AT_call_file, &attr), &value) == 0 &&
	    dwarf_getsrcfiles(&cu->cudie, &files, &nfiles) == 0 && value < nfiles)
		*file = dwarf_filesrc(files, value, NULL, NULL);
}

static int push_frame(struct frame_vec *out, const char *function, const char *file, uint32_t line,
		      uint32_t flags)
{
	int err = grow((void **)&out->v, &out->cap, out->n, sizeof(*out->v));

	if (err)
		return err;
	out->v[out->n++] = (struct symbol_frame){
		.function = function,
		.file = file,
		.line = line,
		.flags = flags,
	};
	return 0;
}

/* ---- symbol table ---- */

static int sym_rank(const char *name, int bind)
{
	int underscores = (int)strspn(name, "_");
	int bind_rank = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;

	return underscores * 4 + bind_rank;
}

static int sym_cmp(const void *a, const void *b)
{
	const struct sym_entry *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	return strcmp(x->name, y->name);
}

/* A symbol of size 0 is taken to run to the next symbol, but not further than this. */
#define SYMBOL_UNSIZED_MAX 4096

/* The end of the allocated section of the module's main ELF that holds addr (a libdwfl address),
 * or 0: an unsized symbol (crti's _init) must not run into the next section (.plt). */
static uint64_t section_end(Elf *elf, GElf_Addr bias, uint64_t addr)
{
	Elf_Scn *scn = NULL;

	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && (sh.sh_flags & SHF_ALLOC) && sh.sh_size &&
		    addr >= sh.sh_addr + bias && addr < sh.sh_addr + bias + sh.sh_size)
			return sh.sh_addr + bias + sh.sh_size;
	}
	return 0;
}

static int index_symtab(struct module_index *idx)
{
	struct plt_symbol *plt = NULL;
	size_t out = 0, j, nplt = 0;
	GElf_Addr bias = 0;
	Elf *elf;
	int n, i, err;

	idx->syms_done = true;
	n = dwfl_module_getsymtab(idx->mod);
	elf = dwfl_module_getelf(idx->mod, &bias);
	/* PLT stubs have no symbols: named "function@plt" from their GOT relocations. */
	err = symbolizer_plt_symbols(elf, bias, &plt, &nplt);
	if (err)
		return err;
	if (n < 1)
		n = 1;
	if (n == 1 && !nplt)
		return 0;
	idx->syms = calloc((size_t)n - 1 + nplt, sizeof(*idx->syms));
	if (!idx->syms) {
		symbolizer_plt_symbols_free(plt, nplt);
		return -ENOMEM;
	}
	for (i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *name =
			dwfl_module_getsym_info(idx->mod, i, &sym, &addr, &shndx, NULL, NULL);
		int type = GELF_ST_TYPE(sym.st_info);

		if (!name || !*name || (type != STT_FUNC && type != STT_GNU_IFUNC))
			continue;
		if (sym.st_shndx == SHN_UNDEF || shndx == (GElf_Word)-1 || addr == 0)
			continue;
		idx->syms[idx->nsyms++] = (struct sym_entry){
			.addr = addr,
			.end = sym.st_size ? addr + sym.st_size : 0,
			.name = name,
			.rank = sym_rank(name, GELF_ST_BIND(sym.st_info)),
		};
	}
	/* The stubs' names move into the entries (freed as "demangled" names). */
	for (j = 0; j < nplt; j++)
		idx->syms[idx->nsyms++] = (struct sym_entry){
			.addr = plt[j].start,
			.end = plt[j].end,
			.name = plt[j].name,
			.demangled = plt[j].name,
			.demangle_done = true,
			.rank = 1000, /* a real symbol at the same address is preferred */
		};
	free(plt);
	if (idx->nsyms > 1) /* qsort(NULL, 0) is undefined */
		qsort(idx->syms, idx->nsyms, sizeof(*idx->syms), sym_cmp);
	/* One entry per address: the preferred alias, with the largest size among them. */
	for (j = 0; j < idx->nsyms; j++) {
		if (out && idx->syms[out - 1].addr == idx->syms[j].addr) {
			if (idx->syms[j].end > idx->syms[out - 1].end)
				idx->syms[out - 1].end = idx->syms[j].end;
			free(idx->syms[j].demangled);
			continue;
		}
		idx->syms[out++] = idx->syms[j];
	}
	idx->nsyms = out;
	for (j = 0; j < idx->nsyms; j++) {
		uint64_t limit = j + 1 < idx->nsyms ? idx->syms[j + 1].addr
						    : idx->syms[j].addr + SYMBOL_UNSIZED_MAX;
		uint64_t sec_end;

		if (idx->syms[j].end)
			continue;
		if (limit > idx->syms[j].addr + SYMBOL_UNSIZED_MAX)
			limit = idx->syms[j].addr + SYMBOL_UNSIZED_MAX;
		sec_end = section_end(elf, bias, idx->syms[j].addr);
		if (sec_end && sec_end < limit)
			limit = sec_end;
		idx->syms[j].end = limit;
	}
	return 0;
}

static const char *symtab_lookup(struct module_index *idx, uint64_t addr)
{
	size_t lo = 0, hi;
	struct sym_entry *s;

	if (!idx->syms_done && index_symtab(idx) != 0)
		return NULL;
	hi = idx->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (idx->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= idx->syms[lo - 1].end)
		return NULL;
	s = &idx->syms[lo - 1];
	if (!s->demangle_done) {
		/* Symbol versions ("memcpy@GLIBC_2.2.5") are not part of the function's name. */
		const char *at = strchr(s->name, '@');
		char *base = at && at != s->name ? strndup(s->name, (size_t)(at - s->name)) : NULL;

		s->demangle_done = true;
		s->demangled = symbolizer_demangle(base ? base : s->name);
		if (s->demangled)
			free(base);
		else
			s->demangled = base;
	}
	return s->demangled ? s->demangled : s->name;
}

/* ---- lookup ---- */

int module_index_resolve(struct module_index *idx, uint64_t addr, struct frame_vec *out)
{
	const char *file = NULL;
	uint32_t line = 0;
	size_t first = out->n;
	int err;

	if (!idx->dwarf_done) {
		err = index_dwarf(idx);
		if (err)
			return err;
	}
	if (idx->dw) {
		uint64_t daddr = addr - idx->dwbias;
		struct cu_data *cu = find_cu(idx, addr, daddr);
		const struct range_seg *seg;
		Dwarf_Line *dl;
		int lineno;

		if (cu && !cu->built) {
			err = build_cu(cu);
			if (err)
				return err;
		}
		if (cu) {
			dl = dwarf_getsrc_die(&cu->cudie, daddr);
			if (dl) {
				file = dwarf_linesrc(dl, NULL, NULL);
				if (dwarf_lineno(dl, &lineno) == 0 && lineno > 0)
					line = (uint32_t)lineno;
			}
		}
		seg = cu ? find_seg(cu, daddr) : NULL;
		for (int32_t rec = seg ? (int32_t)seg->rec : -1; rec >= 0;) {
			struct func_rec *r = &cu->recs[rec];

			err = push_frame(out, rec_name(r), file, line,
					 r->inlined ? SYMBOL_FRAME_INLINED : 0);
			if (err)
				return err;
			if (r->inlined)
				call_site(cu, r, &file, &line);
			rec = r->parent;
		}
	}
	if (out->n > first) {
		struct symbol_frame *outer = &out->v[out->n - 1];

		if (!outer->function)
			outer->function = symtab_lookup(idx, addr);
		return 0;
	}
	/* No function in DWARF: the symbol table's name, with the line table's file:line. */
	{
		const char *name = symtab_lookup(idx, addr);

		if (name || file)
			return push_frame(out, name, file, line, 0);
	}
	return 0;
}
